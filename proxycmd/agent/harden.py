"""Keep other processes of the same user out of the memory of the agent (and of a relaying proxy, which holds
a session key), and give the agent room for many connections.

Like ssh-agent: on Linux prctl(PR_SET_DUMPABLE, 0) makes /proc/PID/mem, ptrace and core dumps unavailable
to anyone but root; on macOS ptrace(PT_DENY_ATTACH) refuses debuggers.  Elsewhere nothing is done.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: a relaying proxy imports this too, and typing costs ms
if TYPE_CHECKING:
    from typing import Optional

_PR_GET_DUMPABLE = 3  # <linux/prctl.h>
_PR_SET_DUMPABLE = 4
_PT_DENY_ATTACH = 31  # <sys/ptrace.h> on macOS
_NOFILE_CEILING = 65536  # when the hard limit is "unlimited" (macOS), ask for this many


def method(platform: Optional[str] = None) -> str:
    """Which protection this platform gets: "prctl" (Linux), "ptrace" (macOS) or "none"."""
    platform = sys.platform if platform is None else platform
    if platform.startswith("linux"):
        return "prctl"
    if platform == "darwin":
        return "ptrace"
    return "none"


def _libc():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def forbid_inspection() -> bool:
    """Make this process not dumpable / not attachable; True when that worked."""
    how = method()
    try:
        if how == "prctl":
            return _libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
        if how == "ptrace":
            return _libc().ptrace(_PT_DENY_ATTACH, 0, None, 0) == 0
    except (OSError, AttributeError) as exc:
        import logging  # only now: the relaying proxy calls this too, and logging costs it 10-25 ms

        logging.getLogger("proxycmd.agent").warning("could not protect this process's memory: %s", exc)
    return False


def dumpable(protected: bool) -> bool:
    """Can a same-user process read our memory?  Linux asks the kernel; elsewhere, whether we protected it."""
    if method() == "prctl":
        try:
            return _libc().prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0) != 0
        except (OSError, AttributeError):
            return True
    return not protected


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one (each connection holds a descriptor); the new soft limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _NOFILE_CEILING if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            return wanted
        except (ValueError, OSError):
            pass
    return soft
