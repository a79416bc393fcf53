"""Where jobs are: one backend per place, behind one small interface.

    sim.py     the simulated pool (proxycmd/sim/)
    condor/    HTCondor on this machine: condor_ssh_to_job with our dialer (tool.py, run.py,
               dialer_handoff.py), the htcondor2 bindings for ads, listings and profile jobs (queue.py)
    hop/       through an access point with the user's ssh, from a machine without HTCondor

Each opens ssh sessions to a job (`open_session`), lists the user's jobs (`list_jobs`, for `sync`;
each job with the name of its schedd) and the pool's schedds (`schedds`), removes a job (`remove_job`),
finds and submits profile jobs (`live_profile_jobs`, `submit_profile`, used by proxycmd/ondemand.py
without knowing which backend it talks to), gives `condor-job-ssh doctor` its rows (`checks`) and the
queue's job times (`queue_times`), and tells what the pool says of one job (`job_facts`, for
`condor-job-ssh doctor JOB`): doctor never asks which backend it has.  Waiting for an idle job lives beside the backends, in `proxycmd.waiting`,
so every backend shares it.  `open_backend` imports only the one backend it returns.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection

if TYPE_CHECKING:
    from typing import Dict, List, Optional, Protocol, Sequence, Tuple

    from ..checkresult import Check
    from ..hostname import JobAddress
    from .jobfacts import JobFacts
    from ..session import JobInfo, Session
else:
    Protocol = object


class Backend(Protocol):
    name: str
    retry_interval: float  # seconds between tries while a job is not running yet

    def open_session(self, addr: JobAddress, *, keygen_options: Sequence[str] = (),
                     shells: Sequence[str] = ()) -> Session:
        """Open one ssh session to the job; raise errors.SessionRefused (retryable or not)."""

    def list_jobs(self, *, include_idle: bool = False) -> List[JobInfo]:
        """The user's running jobs (and idle ones when asked), one query."""

    def schedds(self) -> List[str]:
        """The names of every schedd of the pool (`condor_status -schedd`'s), for `sync` with all schedds."""

    def remove_job(self, job, reason: str = "") -> None:
        """Take *job* (a JobAddress or JobInfo: its cluster and proc) out of the queue (condor_rm)."""

    def live_profile_jobs(self, profile: Optional[str] = None) -> List[Tuple[str, JobInfo]]:
        """(profile name, job) for every idle or running job of the user's that came from *profile*
        (from any profile when None)."""

    def submit_profile(self, profile: str, description: Dict[str, str]) -> JobInfo:
        """Submit one job from *description* (submit commands); ProxyError when the pool refuses."""

    def checks(self, *, quick: bool = False) -> List[Check]:
        """What `condor-job-ssh doctor` shows about this place: rows (proxycmd/checkresult.py), in order.
        With *quick*, only what needs neither the pool nor the access point (setup's warnings)."""

    def queue_times(self) -> Dict[str, float]:
        """Job id -> when the job now holding that id was submitted or started, so that doctor drops the
        failure records of an earlier job with the same id; {} where asking would cost a connection (the
        hop) or the pool cannot be asked."""

    def job_facts(self, addr: JobAddress) -> Optional[JobFacts]:
        """What the pool says about one job, for `condor-job-ssh doctor JOB` (proxycmd/backends/jobfacts.py): its ad
        and the execute node's HTCondor version where the pool tells it; None when it is not in the queue;
        ProxyError when the pool cannot be asked."""


def open_backend(*, sim_root: Optional[str] = None, schedd: Optional[str] = None,
                 pool: Optional[str] = None, via: Optional[str] = None,
                 via_config: Optional[str] = None, pool_only: bool = False) -> Backend:
    """The simulated pool when *sim_root* is given; through the access point *via* (ssh, `hop/`)
    when given; else HTCondor (imported only then).  *schedd* None: the local schedd (with *pool*: as
    HTCondor's tools take it); with *pool_only* (a route naming only a pool) the one schedd of that pool,
    never the local one (poolschedd.py)."""
    if via and not sim_root:
        from .hop.backend import HopBackend

        return HopBackend(via, config=via_config, schedd=schedd, pool=pool, pool_only=pool_only)
    if sim_root:
        from .sim import SimBackend

        return SimBackend(sim_root, schedd=schedd)
    from .condor.backend import CondorBackend

    return CondorBackend(schedd=schedd, pool=pool, pool_only=pool_only)
