"""Profile jobs at a schedd through the htcondor2 bindings (proxycmd/ondemand.py's ProfileJobs).

Imported only for a profile host name or a `profile` command, never on the path of a plain job id.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from ..errors import ProxyError
from ..ondemand import pick
from ..session import JobInfo
from ..submitfile import PROFILE_ATTR
from . import condor_jobs

LIVE_STATES = f"(JobStatus == {condor_jobs.IDLE} || JobStatus == {condor_jobs.RUNNING})"


def profile_constraint(user: str, profile: Optional[str] = None) -> str:
    """The user's idle or running jobs from *profile* (from any profile when None)."""
    from classad2 import quote

    which = f"{PROFILE_ATTR} == {quote(profile)}" if profile else f"{PROFILE_ATTR} =!= undefined"
    return f"Owner == {quote(user)} && {which} && {LIVE_STATES}"


class CondorProfileJobs:
    def __init__(self, schedd: Optional[str] = None, pool: Optional[str] = None) -> None:
        self.queue = condor_jobs.Queue(schedd, pool)

    def _schedd(self):
        try:
            return self.queue.schedd()
        except condor_jobs.LookupUnavailable as exc:
            raise ProxyError(str(exc)) from None

    def _ads(self, profile: Optional[str]) -> list:
        schedd = self._schedd()
        htcondor2 = self.queue._bindings()
        try:
            return schedd.query(profile_constraint(condor_jobs.current_user(), profile),
                                condor_jobs.PROJECTION + [PROFILE_ATTR])
        except (htcondor2.HTCondorException, ValueError, OSError, RuntimeError) as exc:
            raise ProxyError(f"cannot ask the schedd for your profile jobs: {_one_line(exc)}") from None

    def find_profile_job(self, profile: str) -> Optional[JobInfo]:
        infos = [condor_jobs.job_info(ad, self.queue.name) for ad in self._ads(profile)]
        return pick([info for info in infos if info is not None])

    def submit_profile(self, profile: str, description: Dict[str, str]) -> JobInfo:
        schedd = self._schedd()
        htcondor2 = self.queue._bindings()
        try:
            result = schedd.submit(htcondor2.Submit(description), count=1)
            cluster = int(result.cluster())
        except (htcondor2.HTCondorException, ValueError, OSError, RuntimeError) as exc:
            raise ProxyError(f"the schedd refused the job of profile {profile!r}: {_one_line(exc)}") from None
        return JobInfo(cluster=cluster, proc=0, status="idle", cmd="condor-job-proxy-watchdog",
                       batch_name=f"{profile}.job.condor", schedd=self.queue.name)

    def live_profile_jobs(self) -> List[Tuple[str, JobInfo]]:
        out = []
        for ad in self._ads(None):
            info = condor_jobs.job_info(ad, self.queue.name)
            name = condor_jobs.value(ad, PROFILE_ATTR)
            if info is not None and isinstance(name, str):
                out.append((name, info))
        return out

    def remove(self, job: JobInfo, reason: str) -> None:
        try:
            self.queue.remove(job.cluster, job.proc, reason)
        except condor_jobs.LookupUnavailable as exc:
            raise ProxyError(str(exc)) from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
