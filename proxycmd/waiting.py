"""Waiting for a job that is not running yet, with calm progress on stderr.

Shared by every backend: it retries `open` while the refusal is retry-able, shows how long it has waited
and the job's status, and stops when the user presses Ctrl-C or the ssh process that started us is gone.
"""

from __future__ import annotations

import os
import select
import sys
import time
from .errors import Interrupted, ProxyError, SessionRefused

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import Callable, Optional, TextIO, TypeVar

    T = TypeVar("T")


NO_TERMINAL_LIMIT = 2 * 3600.0  # seconds: the default wait of a caller without a terminal (scripts, cron)
STARTING_PAUSE = 1.0  # seconds: the first pause while a running job's starter does not answer yet


def limit_for(given: Optional[float], terminal: bool) -> Optional[float]:
    """How long to wait for an idle job: *given* (--wait-timeout; 0 means no limit), else no limit for a
    person at a terminal (who sees the wait and can press Ctrl-C) and two hours for everyone else: a queued
    GPU job can take an hour to start, but a script or cron job must not hang for ever."""
    if given is not None:
        return given or None
    return None if terminal else NO_TERMINAL_LIMIT


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class Progress:
    """One line rewritten in place on a terminal; otherwise one line when the wait starts (with its limit)
    and one when it ends, so a script's log says why it waits without filling up."""

    def __init__(self, what: str, stream: Optional[TextIO] = None, every: float = 30.0,
                 prog: str = "condor-job-proxy", mirror: Optional[Callable[[str], None]] = None,
                 limit: Optional[float] = None) -> None:
        self.limit = limit
        self.mirror = mirror  # also gets each line (ssh's log in pipe mode: proxycmd/disconnect.py)
        self.mirrored = -1e9
        self.what = what
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.prog = prog
        self.tty = _isatty(self.stream)
        self.shown = False
        self.ran = False  # a wait said "starting": the job ran, its starter was not ready (a container starting)

    def update(self, status: str, waited: float, message: str) -> None:
        self.ran = self.ran or status == "starting"
        now = time.monotonic()
        if self.mirror is not None and now - self.mirrored >= self.every:
            self.mirrored = now
            self.mirror(f"{self.prog}: {message}; waited {_clock(waited)} so far")
        if self.tty:
            of = f" of {_clock(self.limit)}" if self.limit else ""
            text = f"\r{self.prog}: {self.what} is {status or 'not ready'}; waiting {_clock(waited)}{of} (Ctrl-C to stop)"
            self.stream.write(text + "\x1b[K")
            self.stream.flush()
            self.shown = True
        elif not self.shown:
            how = f"up to {_clock(self.limit)}" if self.limit else "no time limit"
            goal = "be ready" if status == "starting" else "run"  # "starting": it runs, its starter is not ready
            self.stream.write(f"{self.prog}: {message}; waiting for it to {goal} ({how})\n")
            self.stream.flush()
            self.shown = True

    def done(self, waited: float, ok: bool) -> None:
        if not self.shown:
            return
        if self.tty:
            self.stream.write("\r\x1b[K")
        if ok:
            state = "ready" if self.ran else "running"
            self.stream.write(f"{self.prog}: {self.what} is {state} after {_clock(waited)}; connecting\n")
        self.stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def peer_gone(fd: int = 1, parent: Optional[int] = None) -> bool:
    """True when the ssh process that runs us has gone: our parent changed, or our stdout hung up."""
    if parent is not None and os.getppid() != parent:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLHUP | select.POLLERR)
    try:
        return any(ev & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, ev in poller.poll(0))
    except OSError:
        return True


def pause_after(status: str, interval: float, waited: float, quick_while_starting: bool = True) -> float:
    """Seconds until the next try.  *interval*, except while the job runs but its starter does not answer
    yet ("starting": Docker starting a container, seconds as a rule): then 1 s at first, growing by a
    tenth of the time waited, up to *interval*, so that a container ready after 2 s is not reached after
    5 and one that takes minutes (an image to fetch) is not asked every second."""
    if quick_while_starting and status == "starting":
        return min(interval, STARTING_PAUSE + waited / 10)
    return interval


def open_with_wait(open_fn: Callable[[], T], *, what: str, wait: bool = True, interval: float = 2.0,
                   timeout: Optional[float] = None, progress: Optional[Progress] = None,
                   should_stop: Callable[[], bool] = lambda: False, quick_while_starting: bool = True) -> T:
    """Call *open_fn* until it succeeds, retrying retry-able refusals while *wait* is true (pauses:
    `pause_after`; *quick_while_starting* false keeps *interval* throughout, as an explicit --poll does)."""
    start = time.monotonic()
    progress = progress or Progress(what)
    try:
        while True:
            try:
                result = open_fn()
            except SessionRefused as exc:
                if not exc.retryable:
                    raise
                if not wait:
                    raise SessionRefused(f"{exc} (not waiting: --no-wait)", status=exc.status) from None
                waited = time.monotonic() - start
                if timeout is not None and waited >= timeout:
                    raise ProxyError(f"gave up after {_clock(waited)}: {exc}") from None
                progress.update(exc.status, waited, str(exc))
                deadline = time.monotonic() + pause_after(exc.status, interval, waited, quick_while_starting)
                while time.monotonic() < deadline:
                    if should_stop():
                        raise Interrupted(f"stopped waiting for {what}: ssh went away")
                    time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
                continue
            progress.done(time.monotonic() - start, ok=True)
            return result
    except KeyboardInterrupt:
        progress.done(time.monotonic() - start, ok=False)
        raise Interrupted(f"stopped waiting for {what} (interrupted)") from None
