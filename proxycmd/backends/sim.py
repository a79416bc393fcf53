"""The simulated pool as a backend (the same interface as HTCondor's and the hop's): sessions, the user's
jobs, and profile jobs, all through the pool's daemon (proxycmd/sim/)."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection

from ..errors import SessionRefused
from ..session import JobInfo, Session
from ..sim.client import SimPool

if TYPE_CHECKING:
    from typing import Dict, List, Optional, Sequence, Tuple

    from ..checkresult import Check
    from ..hostname import JobAddress


def _info(job: dict) -> JobInfo:
    return JobInfo(cluster=job["cluster"], proc=job["proc"], status=job["status"], cmd=job["cmd"],
                   batch_name=job.get("batch_name") or "", remote_host=job.get("remote_host") or "",
                   since=job.get("started") or job.get("submitted"), hold_reason=job.get("hold_reason") or "",
                   schedd=job.get("schedd") or None)


def _profile(job: dict) -> Optional[str]:
    from ..submitfile import PROFILE_ATTR

    text = (job.get("ad") or {}).get(PROFILE_ATTR, "")
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else None


class SimBackend:
    name = "sim"
    retry_interval = 1.0  # the pool is local: asking is cheap

    def __init__(self, root: str, schedd: Optional[str] = None) -> None:
        self.root = root
        self.pool = SimPool(root)
        self.schedd = schedd  # a named schedd of the pool; None: its default one

    # ----- sessions ----------------------------------------------------------------------------------
    def open_session(self, addr: JobAddress, *, keygen_options: Sequence[str] = (),
                     shells: Sequence[str] = ()) -> Session:
        if addr.node is not None:
            raise SessionRefused(f"the simulated pool runs no parallel jobs; job {addr.classic_id} has no nodes")
        reply, sock = self.pool.open_session(addr.cluster, addr.proc, keygen_options=keygen_options, shells=shells,
                                             schedd=self._schedd(addr))
        return Session(sock=sock, private_key=reply["private_key"].encode(), host_key=reply["host_key"],
                       user=reply["user"], workdir=reply.get("directory"))

    def _schedd(self, addr) -> Optional[str]:
        """The schedd to ask: ours, else the one the address names (a JobInfo's is where it was found)."""
        return self.schedd or getattr(addr, "schedd", None)

    # ----- listing and removing ----------------------------------------------------------------------
    def list_jobs(self, *, include_idle: bool = False) -> List[JobInfo]:
        wanted = {"running", "idle"} if include_idle else {"running"}
        return [_info(j) for j in self.pool.jobs(self.schedd or "") if j["status"] in wanted]

    def schedds(self) -> List[str]:
        """Every schedd of the pool (condor_status -schedd's set)."""
        return self.pool.schedds()[1]

    def remove_job(self, job, reason: str = "") -> None:
        self.pool.change("rm", job.cluster, job.proc, schedd=self._schedd(job))

    # ----- profile jobs ------------------------------------------------------------------------------
    def live_profile_jobs(self, profile: Optional[str] = None) -> List[Tuple[str, JobInfo]]:
        import os
        import pwd

        user = pwd.getpwuid(os.geteuid()).pw_name
        return [(name, _info(job)) for job in self.pool.jobs(self.schedd or "")
                if job.get("owner") == user and job["status"] in ("idle", "running")
                and (name := _profile(job)) is not None and profile in (None, name)]

    def submit_profile(self, profile: str, description: Dict[str, str]) -> JobInfo:
        return _info(self.pool.submit_description(description, schedd=self.schedd))

    # ----- doctor ----------------------------------------------------------------------------------------
    def checks(self, *, quick: bool = False) -> List[Check]:
        if quick:
            return []
        from ..sim.check import pool_check  # doctor only: never on a connection's path

        return [pool_check(self.root)]

    def queue_times(self) -> Dict[str, float]:
        try:
            return {job["id"]: float(job.get("submitted") or 0) for job in self.pool.jobs()}
        except Exception:  # noqa: BLE001 -- no pool to ask: doctor keeps every record
            return {}

    # ----- one job, for `condor-job-ssh doctor JOB` --------------------------------------------------------
    def job_facts(self, addr: JobAddress):
        """The job's facts (proxycmd/backends/jobfacts.py): a simulated job runs on this host, never in a container."""
        from .jobfacts import sim_facts

        return sim_facts(self.pool.jobs(self._schedd(addr) or ""), addr)
