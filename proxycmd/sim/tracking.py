"""Which processes belong to a simulated job: tracking by an inherited environment marker.

A condor_starter treats every process a job or its ssh sessions start as the job's and kills them all when
the job ends, even those that left the process group or session (HTCondor tracks them by an inherited
environment variable, `_CONDOR_ANCESTOR_<pid>`, and by cgroups).  The sim does the same with one variable,
`MARKER`, set in the job's environment and in every session's env.sh: at job end it scans /proc/*/environ
of processes of our uid and ends those that carry the job's value.  `sshd` starts each session's shell in a
new session (setsid), so process groups alone miss them; a process that clears its environment escapes,
as it escapes HTCondor's environment tracking.  Without /proc (macOS, BSD) there is no scan: only the
process groups the daemon knows are killed.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Callable, List

from ..safefs import pid_alive

MARKER = "_CONDOR_SIM_JOB"
_SEP = "::"


def marker_value(root: str, job_id: str) -> str:
    """The marker of job *job_id* of the pool in *root*: unique per job, and per pool by its prefix."""
    return f"{root}{_SEP}{job_id}"


def supported() -> bool:
    return sys.platform.startswith("linux") and os.path.isdir("/proc/self")


def _marker_of(pid: int) -> "str | None":
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            raw = handle.read()
    except OSError:  # gone, or not ours to read
        return None
    prefix = MARKER.encode() + b"="
    for entry in raw.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix):].decode(errors="replace")
    return None


def find(wanted: Callable[[str], bool]) -> List[int]:
    """Pids of our uid (not us) whose environment holds a marker that *wanted* accepts."""
    if not supported():
        return []
    uid, me = os.getuid(), os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid != uid:
                continue
        except OSError:
            continue
        value = _marker_of(int(name))
        if value is not None and wanted(value):
            found.append(int(name))
    return found


def of_job(value: str) -> Callable[[str], bool]:
    return lambda seen: seen == value


def of_pool(root: str) -> Callable[[str], bool]:
    return lambda seen: seen.rpartition(_SEP)[0] == root


def end(wanted: Callable[[str], bool], grace: float = 1.0) -> int:
    """SIGTERM every marked process, SIGKILL those still there after *grace* seconds; repeat while new ones
    appear (a process may fork while we scan).  Returns how many were signalled."""
    signalled = set()
    for _round in range(5):
        pids = [pid for pid in find(wanted) if pid not in signalled]
        if not pids:
            break
        for pid in pids:
            _signal(pid, signal.SIGTERM)
        signalled.update(pids)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(pid_alive(pid) for pid in pids):
            time.sleep(0.05)
        for pid in pids:
            if pid_alive(pid):
                _signal(pid, signal.SIGKILL)
    for pid in find(wanted):  # whatever is still marked now dies at once
        _signal(pid, signal.SIGKILL)
    return len(signalled)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
