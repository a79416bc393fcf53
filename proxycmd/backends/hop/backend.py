"""The hop backend: jobs behind an access point (AP) reached with the user's ssh, from a machine without
HTCondor.  Sessions go through `tunnel` (condor_ssh_to_job on the AP); listings, profile jobs and removals
run condor_q, condor_submit and condor_rm there (`command.output`, command lines from `jobs`).
"""

from __future__ import annotations

from ...errors import ProxyError, SessionRefused
from . import remote, tunnel
from .command import check_dest, ssh_argv

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional, Sequence, Tuple

    from ...checkresult import Check
    from ...hostname import JobAddress
    from ...session import JobInfo, Session


class HopBackend:
    name = "hop"
    retry_interval = 5.0  # as condor_ssh_to_job -auto-retry

    def __init__(self, dest: str, *, config: Optional[str] = None, schedd: Optional[str] = None,
                 pool: Optional[str] = None, timeout: float = tunnel.OPEN_TIMEOUT,
                 run: Optional[Callable] = None, pool_only: bool = False) -> None:
        self.dest = check_dest(dest)
        self.config = config
        if config:  # what it says runs as the user (a ProxyCommand, a LocalCommand): ssh's rule for its own file
            from ...ownfile import check_own_file

            try:
                check_own_file(config, "the ssh config (--via-config)")
            except OSError:
                pass  # missing, unreadable: ssh says what is wrong with it
        self.schedd = schedd
        self.pool = pool
        self.timeout = timeout
        self._run = run  # stands in for command.run (tests)
        self.pool_only = pool_only  # a route naming only a pool: its one schedd, never the AP's own
        self._asked_queue = False

    # ----- sessions ----------------------------------------------------------------------------------
    def open_session(self, addr: JobAddress, *, keygen_options: Sequence[str] = (),
                     shells: Sequence[str] = ()) -> Session:
        self._pool_schedd()
        script = remote.session_script(addr.classic_id, schedd=self.schedd, pool=self.pool,
                                       keygen_options=keygen_options, shells=shells)
        try:
            return tunnel.open_session(ssh_argv(self.dest, remote.login_line(script), config=self.config), addr,
                                       self.dest, timeout=self.timeout)
        except SessionRefused as refusal:
            if refusal.retryable and refusal.status == "not running" and not self._asked_queue:
                self._asked_queue = True  # once: the line said while waiting, not a query every 5 s
                answered, better = self._queue_says(addr)
                if answered and better is None:  # it runs: its starter is not ready (a container starting)
                    from ..condor.ads import starter_not_ready

                    raise starter_not_ready(addr.classic_id) from None
                if better is not None and better.retryable:
                    raise better from None
            raise

    def _queue_says(self, addr: JobAddress) -> "tuple[bool, Optional[SessionRefused]]":
        """Why the job does not run, from its ad (condor_q on the AP): (whether the queue told, the refusal
        its ad implies: "is idle", "input files are still being transferred"..., or None when it runs)."""
        from ..condor.ads import decide
        from .jobs import condor_q_argv

        try:
            ads = self._ads(condor_q_argv(schedd=self.schedd, pool=self.pool, ids=[addr.job_id]), "list your jobs")
        except ProxyError:
            return False, None
        return (True, decide(ads[0], addr.classic_id, None)) if len(ads) == 1 else (False, None)

    def _pool_schedd(self) -> None:
        """A pool without a schedd: the one schedd its collector knows (never the AP's own: poolschedd.py)."""
        if self.pool_only and self.pool and not self.schedd:
            from ..poolschedd import the_schedd

            self.schedd = the_schedd(self.pool, self.schedds())

    def schedds(self) -> List[str]:
        """Every schedd of the pool: `condor_status -schedd -af Name` on the AP."""
        from .jobs import where

        out = self._output(["condor_status", *where(None, self.pool), "-schedd", "-af", "Name"],
                           "list the schedds of " + (f"pool {self.pool}" if self.pool else "the pool"))
        return sorted({line.strip() for line in out.splitlines() if line.strip()})

    # ----- the AP's tools ------------------------------------------------------------------------------
    def _output(self, argv: Sequence[str], what: str, input: Optional[str] = None) -> str:
        from .command import output

        return output(self.dest, argv, what, config=self.config, input=input, runner=self._run)

    def _ads(self, argv: Sequence[str], what: str) -> List[dict]:
        from .jobs import parse_ads

        out = self._output(argv, what)
        try:
            return parse_ads(out)
        except ValueError as exc:
            raise ProxyError(f"cannot {what}: {argv[0]} on {self.dest} printed something else than JSON ({exc})") \
                from None

    def _infos(self, ads: List[dict]) -> List[JobInfo]:
        from ..condor.ads import job_info

        return [info for info in (job_info(ad, self.schedd) for ad in ads) if info is not None]

    # ----- listing and removing ----------------------------------------------------------------------
    def list_jobs(self, *, include_idle: bool = False) -> List[JobInfo]:
        from .jobs import condor_q_argv

        self._pool_schedd()
        jobs = self._infos(self._ads(condor_q_argv(schedd=self.schedd, pool=self.pool), "list your jobs"))
        wanted = ("running", "transferring") + (("idle",) if include_idle else ())
        return [job for job in jobs if job.status in wanted]

    def remove_job(self, job, reason: str = "") -> None:
        from .jobs import where

        self._pool_schedd()
        argv = ["condor_rm", *where(self.schedd, self.pool)] + (["-reason", reason] if reason else []) + [job.job_id]
        self._output(argv, f"remove job {job.job_id}")

    # ----- profile jobs ------------------------------------------------------------------------------
    def live_profile_jobs(self, profile: Optional[str] = None) -> List[Tuple[str, JobInfo]]:
        from ...submitfile import PROFILE_ATTR
        from ..condor.ads import job_info
        from .jobs import profile_q_argv

        self._pool_schedd()
        out = []
        for ad in self._ads(profile_q_argv(profile, self.schedd, self.pool), "look up your profile jobs"):
            info, name = job_info(ad, self.schedd), ad.get(PROFILE_ATTR)
            if info is not None and isinstance(name, str):
                out.append((name, info))
        return out

    def submit_profile(self, profile: str, description: Dict[str, str]) -> JobInfo:
        from ...session import JobInfo
        from .jobs import submit_text, submitted_cluster, where

        self._pool_schedd()
        out = self._output(["condor_submit", *where(self.schedd, self.pool), "-terse", "-"],
                           f"submit the job of profile {profile!r}", input=submit_text(description))
        cluster = submitted_cluster(out)
        if cluster is None:
            raise ProxyError(f"condor_submit on {self.dest} did not say which job it submitted: {out.strip()[:80]!r}")
        return JobInfo(cluster=cluster, proc=0, status="idle", cmd="condor-job-proxy-watchdog",
                       batch_name=f"{profile}.job.condor", schedd=self.schedd)

    # ----- doctor ----------------------------------------------------------------------------------------
    def checks(self, *, quick: bool = False) -> List[Check]:
        if quick:
            return []
        from .checks import access_point_check  # doctor only: never on a connection's path

        return [access_point_check(self.dest, self.config)]

    def queue_times(self) -> Dict[str, float]:
        return {}  # asking would mean one more ssh to the access point

    # ----- one job, for `condor-job-ssh doctor JOB` --------------------------------------------------------
    def job_facts(self, addr: JobAddress):
        """The job's facts (proxycmd/backends/jobfacts.py) from condor_q on the AP, and the execute node's HTCondor
        version from condor_status there when the pool tells it; None when the job is not in the queue."""
        from ..jobfacts import ATTRIBUTES, VERSION_ATTRIBUTE, classad_string, from_ad
        from .jobs import where

        self._pool_schedd()
        ads = self._ads(["condor_q", *where(self.schedd, self.pool), "-json", "-attributes", ",".join(ATTRIBUTES),
                         addr.job_id], f"look up job {addr.job_id}")
        ad = next((ad for ad in ads if ad.get("ClusterId") == addr.cluster and ad.get("ProcId") == addr.proc), None)
        if ad is None:
            return None
        version, slot = None, ad.get("RemoteHost")
        if isinstance(slot, str) and slot:
            argv = ["condor_status", *where(None, self.pool), "-json", "-attributes", f"Name,{VERSION_ATTRIBUTE}",
                    "-constraint", f"Name == {classad_string(slot)}"]
            try:
                version = next((a.get(VERSION_ATTRIBUTE) for a in self._ads(argv, "ask for the slot's version")), None)
            except ProxyError:
                pass  # a hint only: the probe in the job reads the version too
        return from_ad(ad, addr.job_id, version)
