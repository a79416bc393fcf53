"""The HTCondor backend: sessions through the real `condor_ssh_to_job`, jobs through the htcondor2 bindings.

Opening a session runs condor_ssh_to_job with our dialer (`tool`, `run`): it does everything the pool
requires (schedd, claim session, starter), and its own messages say why when it cannot (`refusals`).  The
bindings are not imported on that path.  Only when condor_ssh_to_job refuses for a reason that is about the
job's state (not running, not in the queue, held, not yours) is the schedd asked for the job's ad (`queue`,
`ads`), for a precise line: "job 3.0 is idle", "has completed (exit code 1)", "belongs to alice".  While waiting for
such a job, the ad is checked first, and condor_ssh_to_job runs again only once the job runs.  When the
bindings cannot reach a schedd, condor_ssh_to_job's output is the answer.

Profile jobs (jobs on demand) are found, submitted and removed through the bindings; their code is
imported only for a profile host name or a `profile` command, never on the path of a plain job id.
"""

from __future__ import annotations

from ...errors import ProxyError, SessionRefused
from ...session import JobInfo
from . import run, tool

# Imports inside functions are on purpose: this module runs on every connection through HTCondor (README
# "How it works"); queue, ads and refusals (and the bindings) load only when a refusal is worded, jobs are
# listed or removed, or a profile is asked for.

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Sequence, Tuple

    from ...checkresult import Check
    from ...hostname import JobAddress
    from ...session import Session
    from .queue import Queue


class CondorBackend:
    name = "condor"
    retry_interval = 5.0  # as condor_ssh_to_job -auto-retry does (ssh_to_job.cpp)

    def __init__(self, schedd: Optional[str] = None, pool: Optional[str] = None, *, timeout: float = 330.0,
                 pool_only: bool = False) -> None:
        self.schedd = schedd
        self.pool = pool
        self.pool_only = pool_only  # a route naming only a pool: its one schedd, never the local one
        self.timeout = timeout  # one condor_ssh_to_job run (it allows the schedd and the starter 300 s each)
        self._queue: Optional[Queue] = None
        self._lookup_broken = False  # the bindings could not reach the schedd once: do not try again
        self._waiting = False  # the last attempt was refused retry-ably: check the job's ad first
        self._tool: Optional[str] = None
        self._dialer: Optional[str] = None

    # ----- the job's ad, when the schedd can be asked -------------------------------------------------------
    def queue(self) -> Queue:
        from . import queue

        if self._queue is None:
            self._pool_schedd()
            self._queue = queue.Queue(self.schedd, self.pool)
        return self._queue

    def _pool_schedd(self) -> None:
        """A pool without a schedd: the one schedd its collector knows (never the local one: poolschedd.py)."""
        if self.pool_only and self.pool and not self.schedd:
            from ..poolschedd import the_schedd

            self.schedd = the_schedd(self.pool, self.schedds())

    def schedds(self) -> List[str]:
        """Every schedd of the pool (`condor_status -schedd`'s names), through the bindings."""
        from . import queue

        try:
            return queue.Queue(None, self.pool).schedd_names()
        except queue.LookupUnavailable as exc:
            raise tool.ToolError(str(exc)) from None

    def _ad_verdict(self, addr: JobAddress, owner: bool) -> "tuple[bool, Optional[SessionRefused]]":
        """(whether the schedd answered, the refusal its ad implies or None to connect).  With *owner*
        false the ad's owner is not compared with ours: a queue super user may reach others' jobs, so
        only condor_ssh_to_job's refusal makes that point."""
        from . import ads, queue

        if self._lookup_broken:
            return False, None
        try:
            ad = self.queue().job_ad(addr.cluster, addr.proc)
        except queue.LookupUnavailable:
            self._lookup_broken = True
            return False, None
        return True, ads.decide(ad, addr.classic_id, queue.current_user() if owner else None)

    # ----- sessions ----------------------------------------------------------------------------------
    def open_session(self, addr: JobAddress, *, keygen_options: Sequence[str] = (),
                     shells: Sequence[str] = ()) -> Session:
        if self._waiting:
            answered, refusal = self._ad_verdict(addr, owner=False)
            if answered and refusal is not None:
                raise self._refused(refusal)
        self._pool_schedd()
        if self._tool is None:
            self._tool, self._dialer = tool.find_tool(), tool.find_dialer()
        try:
            session = run.open_session(self._tool, self._dialer, addr, schedd=self.schedd, pool=self.pool,
                                       keygen_options=keygen_options, shells=shells, timeout=self.timeout)
        except run.ToolFailed as failed:
            from . import ads
            from .refusals import explain

            refusal = explain(failed.returncode, failed.stderr, addr)
            if refusal.status in ads.STATE_STATUSES:
                answered, better = self._ad_verdict(addr, owner=True)
                if answered and better is not None:
                    refusal = better
                elif answered and refusal.status == "not running":
                    refusal = ads.starter_not_ready(addr.classic_id)
            raise self._refused(refusal) from None
        self._waiting = False
        return session

    def _refused(self, refusal: SessionRefused) -> SessionRefused:
        self._waiting = refusal.retryable
        return refusal

    # ----- listing and removing ----------------------------------------------------------------------
    def list_jobs(self, *, include_idle: bool = False) -> List[JobInfo]:
        from . import queue

        try:
            return self.queue().jobs(queue.current_user(), include_idle=include_idle)
        except queue.LookupUnavailable as exc:
            raise tool.ToolError(f"cannot list your jobs: {exc}") from None

    def remove_job(self, job, reason: str = "") -> None:
        """Through the bindings; with condor_rm when they cannot reach the schedd (the classic tool runs
        condor_rm too).  *job*: anything with cluster, proc and job_id (a JobAddress, a JobInfo)."""
        from . import queue

        self._pool_schedd()
        try:
            self.queue().remove(job.cluster, job.proc, reason)
        except queue.LookupUnavailable:
            found = self._tool
            if found is None:
                try:
                    found = tool.find_tool()
                except tool.ToolError:
                    found = None
            tool.condor_rm(job.job_id, schedd=self.schedd, pool=self.pool, reason=reason, tool=found)

    # ----- profile jobs ------------------------------------------------------------------------------
    def _schedd(self):
        from . import queue

        try:
            return self.queue().schedd()
        except queue.LookupUnavailable as exc:
            raise ProxyError(str(exc)) from None

    def live_profile_jobs(self, profile: Optional[str] = None) -> List[Tuple[str, JobInfo]]:
        from ...submitfile import PROFILE_ATTR
        from . import ads, queue

        schedd = self._schedd()
        htcondor2 = self.queue()._bindings()
        try:
            found = schedd.query(profile_constraint(queue.current_user(), profile), ads.PROJECTION + [PROFILE_ATTR])
        except (htcondor2.HTCondorException, ValueError, OSError, RuntimeError) as exc:
            raise ProxyError(f"cannot ask the schedd for your profile jobs: {_one_line(exc)}") from None
        out = []
        for ad in found:
            info = ads.job_info(ad, self.queue().name)
            name = ads.value(ad, PROFILE_ATTR)
            if info is not None and isinstance(name, str):
                out.append((name, info))
        return out

    def submit_profile(self, profile: str, description: Dict[str, str]) -> JobInfo:
        schedd = self._schedd()
        htcondor2 = self.queue()._bindings()
        try:
            result = schedd.submit(htcondor2.Submit(description), count=1)
            cluster = int(result.cluster())
        except (htcondor2.HTCondorException, ValueError, OSError, RuntimeError) as exc:
            raise ProxyError(f"the schedd refused the job of profile {profile!r}: {_one_line(exc)}") from None
        return JobInfo(cluster=cluster, proc=0, status="idle", cmd="condor-job-proxy-watchdog",
                       batch_name=f"{profile}.job.condor", schedd=self.queue().name)

    # ----- doctor ----------------------------------------------------------------------------------------
    def checks(self, *, quick: bool = False) -> List[Check]:
        from . import checks  # doctor and setup only: never on a connection's path

        if quick:
            return checks.quick_checks()
        return [checks.tool_check(), checks.schedd_check(self.schedd, self.pool)]

    def queue_times(self) -> Dict[str, float]:
        from . import queue

        try:
            jobs = self.queue().jobs(queue.current_user(), include_idle=True)
        except Exception:  # noqa: BLE001 -- no schedd to ask: doctor keeps every record
            return {}
        return {f"{job.cluster}.{job.proc}": float(job.since or 0) for job in jobs}

    # ----- one job, for `condor-job-ssh doctor JOB` --------------------------------------------------------
    def job_facts(self, addr: JobAddress):
        """The job's facts (proxycmd/backends/jobfacts.py), None when it is not in the queue (facts.py)."""
        from .facts import job_facts

        self._pool_schedd()
        return job_facts(self.queue(), self.pool, addr)


def profile_constraint(user: str, profile: Optional[str] = None) -> str:
    """The user's idle or running jobs from *profile* (from any profile when None)."""
    from classad2 import quote  # the optional bindings: a profile command only

    from ...submitfile import PROFILE_ATTR
    from .ads import IDLE, RUNNING

    which = f"{PROFILE_ATTR} == {quote(profile)}" if profile else f"{PROFILE_ATTR} =!= undefined"
    live = f"(JobStatus == {IDLE} || JobStatus == {RUNNING})"
    return f"Owner == {quote(user)} && {which} && {live}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
