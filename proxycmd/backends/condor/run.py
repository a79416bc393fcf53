"""Running condor_ssh_to_job with our dialer, and taking the session it opens.

If we stop early (an error, Ctrl-C), closing the dialer's stdin still releases it, and the process group is
killed only if it does not finish.  What the tool says when it fails is refusals.py's to word.
"""

from __future__ import annotations

import os
import select
import sys
import time

from ...bounded import Said
from ...session import Session
from .dialer_handoff import (parse_dialer_words, parse_message, read_session_files, receive_connection,
                             remove_session_dir)
from . import early
from .spawn import spawn
from .tool import TOOL, ToolError, tool_argv

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import List, Mapping, Optional, Sequence, Tuple

    from ...hostname import JobAddress

MAX_STDOUT = 1024 * 1024  # what the tool may print on stdout before the dialer's message has come

try:  # the C module: `signal` builds its enums on import
    from _signal import SIGKILL as _SIGKILL, SIGTERM as _SIGTERM
except ImportError:  # pragma: no cover - not CPython
    from signal import SIGKILL as _SIGKILL, SIGTERM as _SIGTERM

RELEASE_TIMEOUT = 5.0  # after a failed hand-over: how long condor_ssh_to_job may take to clean up and exit


# ----- running it ------------------------------------------------------------------------------------------
class ToolFailed(Exception):
    """condor_ssh_to_job ended without handing a session over; `explain` says why in one line."""

    def __init__(self, returncode: int, stderr: str) -> None:
        super().__init__(f"{TOOL} exited with status {returncode}")
        self.returncode = returncode
        self.stderr = stderr


class _Run:
    """One condor_ssh_to_job process (spawn.py), its pipes and its clean-up.  *started* is a process
    early.py started already with this *argv*: taken over instead of starting another."""

    def __init__(self, argv: List[str], env: Optional[Mapping[str, str]], timeout: float,
                 started: Optional[Tuple[int, int, int, int]] = None) -> None:
        self.err = Said()  # what the tool says on stderr: a flood is read to its end, but not kept
        self.timeout = timeout
        self.session_dir: Optional[str] = None
        self.result: Optional[Tuple[int, str]] = None  # (exit status, stderr) once finished
        self.returncode: Optional[int] = None  # as subprocess has it: -N when killed by signal N
        if started is None:
            try:
                started = spawn(argv, env)
            except OSError as exc:
                raise ToolError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
        self.pid, in_w, out_r, err_r = started
        self.stdin: Optional[int] = in_w
        self.out_fd: Optional[int] = out_r
        self.err_fd: Optional[int] = err_r

    def dialer_words(self) -> Optional[List[str]]:
        """Read until the dialer's message is complete (its words) or stdout ends (None), draining stderr."""
        deadline = time.monotonic() + self.timeout
        out = bytearray()
        poller, open_fds = self._poller()
        while self.out_fd in open_fds:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ToolError(f"{TOOL} did not open a session within {self.timeout:.0f} s; giving up")
            chunk = self._read_ready(poller, open_fds, 1000 * min(left, 1.0))
            if chunk:
                out.extend(chunk)
                if len(out) > MAX_STDOUT:
                    raise ToolError(f"{TOOL} printed more than {MAX_STDOUT >> 10} KiB on its standard output "
                                    "without the dialer's message; giving up")
                words = parse_message(bytes(out))
                if words is not None:
                    return words
        return None

    def _poller(self) -> "Tuple[select.poll, set]":
        """A poll object on the pipes still open (stdout and stderr), and their set."""
        poller = select.poll()
        open_fds = {fd for fd in (self.out_fd, self.err_fd) if fd is not None}
        for fd in open_fds:
            poller.register(fd, select.POLLIN)
        return poller, open_fds

    def _read_ready(self, poller, open_fds: set, timeout_ms: float) -> bytes:
        """One poll: what stdout gave (stderr's part goes to self.err, within its bounds); a pipe that ended
        leaves *open_fds*."""
        out = b""
        for fd, _ in poller.poll(timeout_ms):
            chunk = os.read(fd, 65536)
            if not chunk:
                poller.unregister(fd)
                open_fds.discard(fd)
            elif fd == self.err_fd:
                self.err.add(chunk)
            else:
                out += chunk
        return out

    def answer(self, answer: bytes) -> None:
        """Answer the dialer (b"done\\n"; b"" lets it go empty-handed) and close its stdin: it exits, and
        condor_ssh_to_job removes its session directory and ends.  Only the first answer counts."""
        fd, self.stdin = self.stdin, None
        if fd is None:
            return
        try:
            if answer:
                os.write(fd, answer)  # a few bytes into an empty pipe: never blocks
        except OSError:  # the dialer is gone already (EPIPE): nothing to tell it
            pass
        finally:
            os.close(fd)

    def finish(self, answer: bytes, timeout: float) -> Tuple[int, str]:
        """Answer the dialer (unless done already), wait for condor_ssh_to_job to end (stopping it after
        *timeout*), and remove the session directory should it have been left behind.  Once: a second
        call returns the first result."""
        if self.result is not None:
            return self.result
        self.answer(answer)
        deadline = time.monotonic() + timeout
        self._drain(deadline)
        if not self._wait(deadline):
            self.kill()
        self._drain(time.monotonic() + 1.0)  # what it said before it ended
        for fd in (self.out_fd, self.err_fd):
            os.close(fd)
        self.out_fd = self.err_fd = None
        if self.session_dir:
            remove_session_dir(self.session_dir)
        code = self.returncode if self.returncode is not None else -9
        self.result = (code, self.err.text())
        return self.result

    def let_go(self) -> bool:
        """After the hand-over, when the caller exits next: True when the tool is still running, which is then
        left to end on its own (its pipes closed here, the process reaped by whoever inherits it); False when
        it has ended already (`finish` then takes its status at once)."""
        if self.result is not None:
            return True
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.pid, 0
        if pid:
            self.returncode = os.waitstatus_to_exitcode(status)
            return False
        self.answer(b"")
        for fd in (self.out_fd, self.err_fd):
            os.close(fd)
        self.out_fd = self.err_fd = None
        self.result = (0, "")
        return True

    def _drain(self, deadline: float) -> None:
        """Read stdout (dropped) and stderr (kept, within bounds) until both end or *deadline* passes."""
        poller, open_fds = self._poller()
        while open_fds:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._read_ready(poller, open_fds, 1000 * left)

    def _wait(self, deadline: float) -> bool:
        """Reap the tool; False when it is still running at *deadline*."""
        if self.returncode is not None:
            return True
        pidfd = None
        try:
            pidfd = os.pidfd_open(self.pid)  # readable once the process has ended (Linux >= 5.3)
        except (AttributeError, OSError):
            pass
        try:
            while True:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                if pidfd is not None:
                    select.select([pidfd], [], [], left)
                else:
                    time.sleep(min(left, 0.002))
        except ChildProcessError:  # reaped elsewhere: its status is lost
            self.returncode = -9 if self.returncode is None else self.returncode
            return True
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def kill(self) -> None:
        """Stop the process group we started (condor_ssh_to_job and the dialer): TERM, then KILL."""
        for sig in (_SIGTERM, _SIGKILL):
            try:
                os.killpg(self.pid, sig)
            except (ProcessLookupError, PermissionError):
                self._wait(time.monotonic() + 2.0)
                return
            if self._wait(time.monotonic() + 2.0):
                return


def open_session(tool: str, dialer: str, addr: JobAddress, *, schedd: Optional[str] = None,
                 pool: Optional[str] = None, keygen_options: Sequence[str] = (), shells: Sequence[str] = (),
                 timeout: float = 330.0, env: Optional[Mapping[str, str]] = None) -> Session:
    """Run condor_ssh_to_job for *addr* with the dialer and take the session it opens.

    Raises ToolFailed when condor_ssh_to_job ends on its own (the job is not running, ssh is refused...),
    ToolError when the hand-over itself fails.
    """
    argv = tool_argv(tool, dialer, addr.classic_id, schedd=schedd, pool=pool, keygen_options=keygen_options,
                     shells=shells)
    run = _Run(argv, env, timeout, early.take(argv) if env is None else None)
    try:
        words = run.dialer_words()
        if words is not None:
            args = parse_dialer_words(words)
            run.session_dir = args.directory
            private_key, host_key = read_session_files(args)
            conn = receive_connection(args.fdpass)
    except BaseException as exc:  # Ctrl-C: do not keep the user waiting for the clean-up
        run.finish(b"", timeout=0.5 if isinstance(exc, KeyboardInterrupt) else RELEASE_TIMEOUT)
        raise
    if words is None:
        raise ToolFailed(*run.finish(b"", timeout=30.0))
    # The session is ours now.  Its directory (the key, known_hosts, the fdpass socket) goes at once, by us:
    # condor_ssh_to_job would run `rm -rf` for it after the dialer has gone, and it finds nothing left to
    # remove (it says so only in a debug log).  Then the dialer may go, and condor_ssh_to_job exits with its
    # status (0) while our caller registers the key.
    remove_session_dir(args.directory)
    run.answer(b"done\n")
    return Session(sock=conn, private_key=private_key, host_key=host_key, user=args.user,
                   release=lambda wait: _released(run, wait))


def _released(run: _Run, wait: bool) -> None:
    """Wait for condor_ssh_to_job to end; the session works whatever its status, but a failure is said.
    Without *wait* (ssh waits for the proxy to exit before it starts the key exchange), a tool that has
    not ended yet is left to end on its own: it has nothing left to do but exit."""
    if run.result is not None or (not wait and run.let_go()):
        return  # closed before: said then
    code, err = run.finish(b"", timeout=10.0)
    if code != 0:
        said = " ".join(err.split())[:200] or "no message"
        sys.stderr.write(f"condor-job-proxy: warning: {TOOL} exited with status {code} after handing the "
                         f"session over ({said})\n")
