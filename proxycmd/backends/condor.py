"""The HTCondor backend: sessions through the real `condor_ssh_to_job`, jobs through the htcondor2 bindings.

Opening a session runs condor_ssh_to_job with our dialer (`condor_tool`): it does everything the pool
requires (schedd, claim session, starter), and its own messages say why when it cannot.  The bindings are
not imported on that path.  Only when condor_ssh_to_job refuses for a reason that is about the job's state
(not running, not in the queue, held, not yours) is the schedd asked for the job's ad (`condor_jobs`), for
a precise line: "job 3.0 is idle", "has completed (exit code 1)", "belongs to alice".  While waiting for
such a job, the ad is checked first, and condor_ssh_to_job runs again only once the job runs.  When the
bindings cannot reach a schedd, condor_ssh_to_job's output is the answer.
"""

from __future__ import annotations

from ..errors import SessionRefused
from . import condor_jobs, condor_tool

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import List, Optional, Sequence

    from ..hostname import JobAddress
    from ..session import JobInfo, Session


class CondorBackend:
    name = "condor"
    retry_interval = 5.0  # as condor_ssh_to_job -auto-retry does (ssh_to_job.cpp)

    def __init__(self, schedd: Optional[str] = None, pool: Optional[str] = None, *, timeout: float = 330.0) -> None:
        self.schedd = schedd
        self.pool = pool
        self.timeout = timeout  # one condor_ssh_to_job run (it allows the schedd and the starter 300 s each)
        self._queue: Optional[condor_jobs.Queue] = None
        self._lookup_broken = False  # the bindings could not reach the schedd once: do not try again
        self._waiting = False  # the last attempt was refused retry-ably: check the job's ad first
        self._tool: Optional[str] = None
        self._dialer: Optional[str] = None

    # ----- the job's ad, when the schedd can be asked -------------------------------------------------------
    def queue(self) -> condor_jobs.Queue:
        if self._queue is None:
            self._queue = condor_jobs.Queue(self.schedd, self.pool)
        return self._queue

    def _ad_verdict(self, addr: JobAddress, owner: bool) -> "tuple[bool, Optional[SessionRefused]]":
        """(whether the schedd answered, the refusal its ad implies or None to connect).  With *owner*
        false the ad's owner is not compared with ours: a queue super user may reach others' jobs, so
        only condor_ssh_to_job's refusal makes that point."""
        if self._lookup_broken:
            return False, None
        try:
            ad = self.queue().job_ad(addr.cluster, addr.proc)
        except condor_jobs.LookupUnavailable:
            self._lookup_broken = True
            return False, None
        return True, condor_jobs.decide(ad, addr.classic_id, condor_jobs.current_user() if owner else None)

    # ----- sessions ----------------------------------------------------------------------------------
    def open_session(self, addr: JobAddress, *, keygen_options: Sequence[str] = (),
                     shells: Sequence[str] = ()) -> Session:
        if self._waiting:
            answered, refusal = self._ad_verdict(addr, owner=False)
            if answered and refusal is not None:
                raise self._refused(refusal)
        if self._tool is None:
            self._tool, self._dialer = condor_tool.find_tool(), condor_tool.find_dialer()
        try:
            session = condor_tool.open_session(self._tool, self._dialer, addr, schedd=self.schedd, pool=self.pool,
                                               keygen_options=keygen_options, shells=shells, timeout=self.timeout)
        except condor_tool.ToolFailed as failed:
            refusal = condor_tool.explain(failed.returncode, failed.stderr, addr)
            if refusal.status in condor_jobs.STATE_STATUSES:
                answered, better = self._ad_verdict(addr, owner=True)
                if answered and better is not None:
                    refusal = better
            raise self._refused(refusal) from None
        self._waiting = False
        return session

    def _refused(self, refusal: SessionRefused) -> SessionRefused:
        self._waiting = refusal.retryable
        return refusal

    # ----- listing and removing ----------------------------------------------------------------------
    def list_jobs(self, *, include_idle: bool = False) -> List[JobInfo]:
        try:
            return self.queue().jobs(condor_jobs.current_user(), include_idle=include_idle)
        except condor_jobs.LookupUnavailable as exc:
            raise condor_tool.ToolError(f"cannot list your jobs: {exc}") from None

    def remove_job(self, addr: JobAddress, reason: str = "") -> None:
        """Through the bindings; with condor_rm when they cannot reach the schedd (the classic tool runs
        condor_rm too)."""
        try:
            self.queue().remove(addr.cluster, addr.proc, reason)
        except condor_jobs.LookupUnavailable:
            tool = self._tool
            if tool is None:
                try:
                    tool = condor_tool.find_tool()
                except condor_tool.ToolError:
                    tool = None
            condor_tool.condor_rm(addr.job_id, schedd=self.schedd, pool=self.pool, reason=reason, tool=tool)
