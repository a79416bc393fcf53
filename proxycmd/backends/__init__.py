"""Session backends: the simulated pool and HTCondor, behind one small interface.

A backend finds a job and opens an ssh session to it (`open_session`), and lists the user's jobs
(`list_jobs`, for `condor-job-ssh sync`).  Waiting for an idle job lives beside the backends, in
`proxycmd.waiting`, so every backend shares it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection

if TYPE_CHECKING:
    from typing import List, Optional, Protocol, Sequence

    from ..hostname import JobAddress
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

    def remove_job(self, addr: JobAddress, reason: str = "") -> None:
        """Take the job out of the queue (condor_rm), for `-remove-on-interrupt`."""


def open_backend(*, sim_root: Optional[str] = None, schedd: Optional[str] = None,
                 pool: Optional[str] = None, via: Optional[str] = None,
                 via_config: Optional[str] = None) -> Backend:
    """The simulated pool when *sim_root* is given; through the access point *via* (ssh, `proxycmd.hop`)
    when given; else HTCondor (imported only then)."""
    if via and not sim_root:
        from ..hop.backend import HopBackend

        return HopBackend(via, config=via_config, schedd=schedd, pool=pool)
    if sim_root:
        from .sim import SimBackend

        return SimBackend(sim_root)
    from .condor import CondorBackend

    return CondorBackend(schedd=schedd, pool=pool)
