"""Jobs as the schedd sees them: the pure job ad -> decision mapping, and the htcondor2 queries.

`decide` turns one job ad (or None: not in the queue) into "connect" (None) or a `SessionRefused` that says
why not, in the same words as the simulated pool.  `job_info` turns an ad into a listing line.  Both are
pure and take any mapping (a classad2.ClassAd or a dict), so they are tested with ads built in the test.

`Queue` asks a real schedd, through the htcondor2 bindings, imported only when a query is made: the
ProxyCommand's happy path never imports them (condor_ssh_to_job does the asking there).  Whatever goes
wrong while locating or querying the schedd is a `LookupUnavailable`; callers then fall back to what
condor_ssh_to_job itself says.
"""

from __future__ import annotations

import enum
import os
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import Any, List, Mapping, Optional

from ..errors import ProxyError, SessionRefused
from ..session import JobInfo

# JobStatus values (HTCondor's job_status enum)
IDLE, RUNNING, REMOVED, COMPLETED, HELD, TRANSFERRING_OUTPUT, SUSPENDED = 1, 2, 3, 4, 5, 6, 7
PARALLEL_UNIVERSES = (8, 11)  # MPI, parallel

PROJECTION = ["ClusterId", "ProcId", "JobStatus", "HoldReason", "Owner", "TransferringInput", "RemoteHost",
              "JobStartDate", "JobCurrentStartDate", "QDate", "JobBatchName", "Cmd", "Args", "Arguments",
              "ExitCode", "ExitBySignal", "ExitSignal", "JobUniverse", "GlobalJobId"]

# Statuses of refusals that only say what state the job is in: a job ad tells them better than the
# messages of condor_ssh_to_job (which, for instance, says nothing at all about an idle job).
STATE_STATUSES = frozenset({"not running", "unknown", "not-yours", "held", "completed"})


class LookupUnavailable(Exception):
    """The bindings are missing, or no schedd could be located or asked; str() is one line."""


def value(ad: Mapping[str, Any], key: str) -> Any:
    """An attribute's plain value: None when missing, undefined or an error (classad2's Value enum)."""
    got = ad.get(key)
    return None if isinstance(got, enum.Enum) else got


def _int(ad: Mapping[str, Any], key: str) -> Optional[int]:
    got = value(ad, key)
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return None
    return int(got)


def _text(ad: Mapping[str, Any], key: str) -> str:
    got = value(ad, key)
    return " ".join(got.split()) if isinstance(got, str) else ""


def status_word(ad: Mapping[str, Any]) -> str:
    """The job's state in JobInfo's words: idle, running, transferring (input), held, completed, removed,
    suspended; "transferring-output" once it has finished running; "unknown" for anything else."""
    status = _int(ad, "JobStatus")
    if status == RUNNING:
        return "transferring" if value(ad, "TransferringInput") is True else "running"
    return {IDLE: "idle", HELD: "held", COMPLETED: "completed", REMOVED: "removed", SUSPENDED: "suspended",
            TRANSFERRING_OUTPUT: "transferring-output"}.get(status, "unknown")


def _exit(ad: Mapping[str, Any]) -> str:
    if value(ad, "ExitBySignal") is True and _int(ad, "ExitSignal") is not None:
        return f" (killed by signal {_int(ad, 'ExitSignal')})"
    code = _int(ad, "ExitCode")
    return f" (exit code {code})" if code is not None else ""


def decide(ad: Optional[Mapping[str, Any]], job_id: str, user: Optional[str]) -> Optional[SessionRefused]:
    """None when the job can be connected to now, else the refusal to raise (retry-able while it may
    still start).  *ad* None means the job is not in the queue; *user* is who asks (None: do not check
    the owner)."""
    job = f"job {job_id}"
    if ad is None:
        return SessionRefused(f"{job} is not in the queue (it may have finished or been removed)", status="unknown")
    owner = _text(ad, "Owner")
    if owner and user and owner != user:
        return SessionRefused(f"{job} belongs to {owner}, not to you ({user})", status="not-yours")
    word = status_word(ad)
    if word == "running":
        return None
    if word == "idle":
        return SessionRefused(f"{job} is idle: it has not started running yet", retryable=True, status="idle")
    if word == "transferring":
        return SessionRefused(f"{job} is starting: its input files are still being transferred", retryable=True,
                              status="transferring input")
    if word == "suspended":
        return SessionRefused(f"{job} is suspended", retryable=True, status="suspended")
    if word == "held":
        reason = _text(ad, "HoldReason")
        return SessionRefused(f"{job} is held: {reason}" if reason else f"{job} is held (no reason given)",
                              status="held")
    if word == "completed":
        return SessionRefused(f"{job} has completed{_exit(ad)}; there is nothing to connect to", status="completed")
    if word == "transferring-output":
        return SessionRefused(f"{job} has finished running{_exit(ad)} and is transferring its output; there is "
                              "nothing to connect to", status="completed")
    if word == "removed":
        return SessionRefused(f"{job} was removed", status="removed")
    return SessionRefused(f"{job} is in an unknown state (JobStatus {value(ad, 'JobStatus')!r})", status="unknown")


def _command(ad: Mapping[str, Any]) -> str:
    cmd = _text(ad, "Cmd")
    args = value(ad, "Arguments")
    if not isinstance(args, str):
        args = value(ad, "Args")
    words = [os.path.basename(cmd)] if cmd else []
    if isinstance(args, str) and args.strip():
        words.append(" ".join(args.split()))
    return " ".join(words)


def job_info(ad: Mapping[str, Any], schedd: Optional[str] = None) -> Optional[JobInfo]:
    """One listing line from a job ad; None when the ad lacks its ids.  Its schedd: *schedd*, else the one
    its GlobalJobId names (SCHEDD#CLUSTER.PROC#QDATE), so that listings of several schedds tell equal job
    ids apart."""
    cluster, proc = _int(ad, "ClusterId"), _int(ad, "ProcId")
    if cluster is None or proc is None:
        return None
    word = status_word(ad)
    started = _int(ad, "JobCurrentStartDate") or _int(ad, "JobStartDate")
    since = started if word in ("running", "transferring", "suspended") and started else _int(ad, "QDate")
    return JobInfo(cluster=cluster, proc=proc, status=word, cmd=_command(ad), batch_name=_text(ad, "JobBatchName"),
                   remote_host=_text(ad, "RemoteHost"), since=float(since) if since else None,
                   schedd=schedd or _text(ad, "GlobalJobId").partition("#")[0] or None,
                   hold_reason=_text(ad, "HoldReason") if word == "held" else "")


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
            import htcondor2
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

