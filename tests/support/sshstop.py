"""End an ssh a test started in the background (`ssh -N -L ...`, a ControlMaster) and wait for it.

One SIGTERM is not always enough.  OpenSSH before 9.6 checks for a signal and then calls poll() with the
signal unmasked in between (clientloop.c; fixed by "mask SIGINT/TERM/QUIT/HUP before checking
quit_pending", bz3531, first in 9.6).  A SIGTERM that lands in that gap only sets a flag, and ssh sleeps in
poll() until something else wakes it: with ServerAliveInterval 30 that can be 30 s.  Debian 12's 9.2, and
the 8.x of EL8/EL9 and Ubuntu, have the gap; it made a CI run fail once (`wait(10)` after `terminate()`).
A second SIGTERM during poll() interrupts it, and ssh then sees the flag: so signal again until it exits."""

from __future__ import annotations

import subprocess
import time

AGAIN_AFTER = 0.5  # seconds between SIGTERMs


def stop_ssh(proc: subprocess.Popen, timeout: float = 10) -> int:
    """SIGTERM *proc* every half second until it exits; its exit status.  Still there after *timeout*
    seconds: subprocess.TimeoutExpired, as Popen.wait raises (ssh that ignores SIGTERM is a finding)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        proc.terminate()
        try:
            return proc.wait(min(AGAIN_AFTER, max(deadline - time.monotonic(), 0.01)))
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                raise
    return proc.returncode
