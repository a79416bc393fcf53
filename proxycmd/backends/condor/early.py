"""The first try at a session, started before the rest of the ProxyCommand has loaded.

condor_ssh_to_job takes 50 ms and more, most of it waiting for the schedd and the starter.  The proxy's own
start-up (its imports, the runtime directory's checks, the backend) used to come before it, on every cold
connection.  For the command line `condor-job-ssh setup` writes, with a plain job id
(`32.0.job.condor`) and HTCondor here, cli.py calls `start` first: the tool runs while the rest loads.

Nothing is decided here.  run.py `take`s this process only when it is about to start the very same
command line (same tool, dialer, job id and options, in the same environment); anything else lets it go,
and the connection goes on as it would have.  A proxy that fails before its first try exits, which lets it
go just the same.  A wrong guess costs one wasted try, never a different connection.  Errors are not
worded here either: when the tool or dialer cannot be found, no try is started, and run.py's own lookup
says why.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

SUFFIX = ".job.condor"  # the default suffix alone: a --suffix means no early try
_DIGITS = frozenset("0123456789")
_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 -_.,:=/+@%")
# Options that say where the job is or how to reach it in another way: with any of them, no early try
_ELSEWHERE = ("sim", "via", "via_config", "schedd", "pool", "pool_only", "suffix", "from_socket")

_started: Optional[Tuple[List[str], Tuple[int, int, int, int]]] = None  # (argv, spawn.spawn's result)


def job_id(host: str) -> Optional[str]:
    """``32.0`` for ``32.0.job.condor`` (or ``32.job.condor``), the only forms tried early; else None."""
    name = host.lower()
    if not name.endswith(SUFFIX):
        return None
    numbers = name[: -len(SUFFIX)].split(".")
    if not 1 <= len(numbers) <= 2:
        return None
    for number in numbers:
        if not (0 < len(number) <= 9 and _DIGITS.issuperset(number) and (number == "0" or number[0] != "0")):
            return None
    if numbers[0] == "0":
        return None
    return f"{numbers[0]}.{numbers[1] if len(numbers) == 2 else 0}"


def start(args) -> None:
    """Start condor_ssh_to_job for the job *args.host* names, when the command line is one we can foresee."""
    global _started
    if _started is not None or any(getattr(args, name, None) for name in _ELSEWHERE):
        return
    job = job_id(args.host)
    if job is None or not _PLAIN.issuperset(args.keygen_options) or not _PLAIN.issuperset(args.shells):
        return  # quotes in the options: connect.py splits them with shlex, which we do not import here
    from .spawn import spawn
    from .tool import ToolError, find_dialer, find_tool, tool_argv

    try:
        argv = tool_argv(find_tool(), find_dialer(), job, keygen_options=args.keygen_options.split(),
                         shells=[s for s in args.shells.split(",") if s])
        _started = (argv, spawn(argv))
    except (ToolError, OSError):  # said by run.py's own try, in one line
        return


def take(argv: List[str]) -> Optional[Tuple[int, int, int, int]]:
    """The process started early when it runs exactly *argv* (then it is the caller's to finish); else
    None, and one started for another command line is let go."""
    global _started
    started, _started = _started, None
    if started is None:
        return None
    if started[0] == argv:
        return started[1]
    _stop(started[1])
    return None


def _stop(started: Tuple[int, int, int, int]) -> None:
    """Let the process go: with its pipes closed, its dialer dies writing the session's words, and
    condor_ssh_to_job then ends on its own, removing its session directory (with the key) as it does after
    any ssh.  Not killed: killed, it would leave that directory behind."""
    for fd in started[1:]:
        try:
            os.close(fd)
        except OSError:
            pass
