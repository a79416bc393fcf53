"""Jobs as the schedd sees them, pure: one job ad -> a decision, a listing line.

`decide` turns one job ad (or None: not in the queue) into "connect" (None) or a `SessionRefused` that says
why not, in the same words as the simulated pool.  `job_info` turns an ad into a listing line.  Both take
any mapping (a classad2.ClassAd, a dict, condor_q -json's output), so the hop uses them too and tests build
their ads by hand.
"""

from __future__ import annotations

import enum
import os

from ...errors import SessionRefused
from ...session import JobInfo

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import Any, Mapping, Optional

# JobStatus values (HTCondor's job_status enum)
IDLE, RUNNING, REMOVED, COMPLETED, HELD, TRANSFERRING_OUTPUT, SUSPENDED = 1, 2, 3, 4, 5, 6, 7

PARALLEL_UNIVERSES = (8, 11)  # MPI, parallel

PROJECTION = ["ClusterId", "ProcId", "JobStatus", "HoldReason", "Owner", "TransferringInput", "RemoteHost",
              "JobStartDate", "JobCurrentStartDate", "QDate", "JobBatchName", "Cmd", "Args", "Arguments",
              "ExitCode", "ExitBySignal", "ExitSignal", "JobUniverse", "GlobalJobId"]

# Statuses of refusals that only say what state the job is in: a job ad tells them better than the
# messages of condor_ssh_to_job (which, for instance, says nothing at all about an idle job).
STATE_STATUSES = frozenset({"not running", "unknown", "not-yours", "held", "completed"})


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


def starter_not_ready(job_id: str) -> SessionRefused:
    """The ad says the job runs, yet condor_ssh_to_job gave only its retry hint: the schedd could not open a
    session with the job's starter.  Seen while a docker job's starter runs `docker start`, during which it
    answers nobody (schedd.cpp: "This can mean the starter is blocked fetching a docker image"): 6 to 12 s
    on our test machine with five containers starting at once (tests/real/test_real_containers.py)."""
    return SessionRefused(f"job {job_id} is running, but its starter does not answer yet (a container job's "
                          "starter is busy until Docker has started the container)", retryable=True,
                          status="starting")


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
