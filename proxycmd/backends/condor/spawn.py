"""Starting condor_ssh_to_job: one process in a session of its own, with pipes on 0, 1 and 2.

os.posix_spawn rather than subprocess, whose import (with selectors, threading and signal's enums) costs
milliseconds on every connection.  It does what a Popen call would: pipes on 0, 1 and 2, a new session (so
its group can be stopped), no other inherited descriptor, SIGPIPE and SIGXFSZ back to their defaults.
Both run.py (each try) and early.py (the first try, started before the rest of the proxy has loaded) start
the tool here; only `os` is imported, so early.py stays cheap.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import List, Mapping, Optional, Tuple

try:  # the C module: `signal` builds its enums on import
    from _signal import SIGPIPE, SIGXFSZ
except ImportError:  # pragma: no cover - not CPython
    from signal import SIGPIPE, SIGXFSZ

_DEFAULT_SIGNALS = (SIGPIPE, SIGXFSZ)  # Python ignores SIGPIPE; the tool must not inherit that


def spawn(argv: List[str], env: Optional[Mapping[str, str]] = None) -> Tuple[int, int, int, int]:
    """Start *argv*: (its pid, the write end of its stdin, the read ends of its stdout and stderr).
    OSError when it cannot be started (nothing is left open then)."""
    fds: List[int] = []
    try:
        for _ in range(3):
            fds += os.pipe()  # not inheritable: only the dup2 copies below reach the tool
        in_r, in_w, out_r, out_w, err_r, err_w = fds
        actions = [(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1),
                   (os.POSIX_SPAWN_DUP2, err_w, 2)]
        actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in inherited_fds()]
        pid = os.posix_spawn(argv[0], argv, os.environ if env is None else env, file_actions=actions,
                             setsid=True, setsigdef=_DEFAULT_SIGNALS)
    except OSError:
        for fd in fds:
            os.close(fd)
        raise
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    return pid, in_w, out_r, err_r


def inherited_fds() -> List[int]:
    """Our descriptors above 2 that a spawned program would inherit (from whoever started us): closed in
    it, as subprocess's close_fds does."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return []
    fds = []
    for name in names:
        fd = int(name)
        if fd > 2:
            try:
                if os.get_inheritable(fd):
                    fds.append(fd)
            except OSError:  # the listing's own descriptor, closed by now
                pass
    return fds
