"""The schedd through the htcondor2 bindings: one schedd's queue (`Queue`), whose user asks.

The bindings are imported only when a query is made: the ProxyCommand's happy path never imports them
(condor_ssh_to_job does the asking there).  Whatever goes wrong while locating or querying the schedd is a
`LookupUnavailable`; callers then fall back to what condor_ssh_to_job itself says.
"""

from __future__ import annotations

import os

from ...errors import ProxyError
from .ads import IDLE, PROJECTION, RUNNING, _int, job_info

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import Any, List, Mapping, Optional

    from ...session import JobInfo


class LookupUnavailable(Exception):
    """The bindings are missing, or no schedd could be located or asked; str() is one line."""


def owner_constraint(user: str, include_idle: bool) -> str:
    """The ClassAd constraint of a user's listing: running jobs (and idle ones when asked)."""
    from classad2 import quote

    wanted = f"JobStatus == {RUNNING}" + (f" || JobStatus == {IDLE}" if include_idle else "")
    return f"Owner == {quote(user)} && ({wanted})"


def current_user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


class Queue:
    """One schedd's queue through the htcondor2 bindings.

    *schedd* None is the local schedd (or the pool's, with *pool*); *pool* None is the collector of the
    local HTCondor configuration.  The schedd is located once, on first use.
    """

    def __init__(self, schedd: Optional[str] = None, pool: Optional[str] = None) -> None:
        self.name = schedd
        self.pool = pool
        self._schedd = None

    def _where(self) -> str:
        what = f"schedd {self.name}" if self.name else "the local schedd"
        return what + (f" in pool {self.pool}" if self.pool else "")

    def _bindings(self):
        try:
            from ...bindings import ConfigBroken, load

            htcondor2 = load()
        except ConfigBroken as exc:
            raise LookupUnavailable(str(exc)) from None
        except ImportError as exc:
            raise LookupUnavailable(f"the htcondor2 Python bindings cannot be imported ({exc})") from None
        return htcondor2

    def schedd_names(self) -> List[str]:
        """The names of the schedds the pool's collector knows (`condor_status -schedd`)."""
        htcondor2 = self._bindings()
        where = f"the collector of pool {self.pool}" if self.pool else "the collector"
        try:
            ads = htcondor2.Collector(self.pool).locateAll(htcondor2.DaemonType.Schedd)
        except (htcondor2.HTCondorException, ValueError, OSError, RuntimeError) as exc:
            raise LookupUnavailable(f"cannot ask {where} for its schedds: {_one_line(exc)}") from None
        return sorted({str(ad["Name"]) for ad in ads if "Name" in ad})

    def schedd(self):
        if self._schedd is not None:
            return self._schedd
        htcondor2 = self._bindings()
        try:
            if self.name or self.pool:
                location = htcondor2.Collector(self.pool).locate(htcondor2.DaemonType.Schedd, self.name)
                self._schedd = htcondor2.Schedd(location)
            else:
                self._schedd = htcondor2.Schedd()
        except (htcondor2.HTCondorException, ValueError, OSError, RuntimeError) as exc:
            raise LookupUnavailable(f"cannot locate {self._where()}: {_one_line(exc)}") from None
        return self._schedd

    def _query(self, constraint: str, limit: int = -1) -> list:
        schedd = self.schedd()
        htcondor2 = self._bindings()
        try:
            return schedd.query(constraint, PROJECTION, limit=limit)
        except (htcondor2.HTCondorException, ValueError, OSError, RuntimeError) as exc:
            raise LookupUnavailable(f"cannot query {self._where()}: {_one_line(exc)}") from None

    def job_ad(self, cluster: int, proc: int) -> Optional[Mapping[str, Any]]:
        """The job's ad (projected), None when it is not in the queue."""
        ads = self._query(f"ClusterId == {int(cluster)} && ProcId == {int(proc)}", limit=1)
        return ads[0] if ads else None

    def jobs(self, user: str, include_idle: bool = False) -> List[JobInfo]:
        """The user's running (and idle) jobs: one query, projected."""
        infos = (job_info(ad, self.name) for ad in self._query(owner_constraint(user, include_idle)))
        return sorted((info for info in infos if info is not None), key=lambda j: (j.cluster, j.proc))

    def count(self, user: str) -> "tuple[int, int]":
        """(all of the user's jobs in the queue, how many of them run): for `doctor`."""
        from classad2 import quote

        ads = self._query(f"Owner == {quote(user)}")
        return len(ads), sum(1 for ad in ads if _int(ad, "JobStatus") == RUNNING)

    def remove(self, cluster: int, proc: int, reason: str = "") -> None:
        """condor_rm through the bindings: LookupUnavailable when the schedd cannot be reached, ProxyError
        when it refuses."""
        schedd = self.schedd()
        htcondor2 = self._bindings()
        try:
            schedd.act(htcondor2.JobAction.Remove, f"{int(cluster)}.{int(proc)}", reason=reason or None)
        except (htcondor2.HTCondorException, ValueError, OSError, RuntimeError) as exc:
            raise ProxyError(f"cannot remove job {cluster}.{proc}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
