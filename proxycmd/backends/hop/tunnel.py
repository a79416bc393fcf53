"""One session through the hop: to a job behind the access point (AP), from a machine without HTCondor.

    ssh [-F CONFIG] -T DEST <remote.login_line(...)>      stdin and stdout: one end of a socketpair

On the AP condor_ssh_to_job opens the session and runs our small sh program (`remote.RELAY`), which sends
the session's user, host key and private key back as a header, then relays the starter connection: with the
AP's own Python (`remote.AP_RELAY`), else with condor_ssh_to_job's own relay.  We read the header from the other end of the socketpair -- byte-exact, with
MSG_PEEK, so that none of the job sshd's bytes that follow are taken -- and return that end as the
Session's socket.  The caller registers the key with the agent and hands the socket to ssh; then we exit.
The hop's ssh is left running on its own: the only process between the user's ssh and the AP, as
ProxyJump's ``ssh -W`` would be.  Its stderr is a pipe we read only until the header has come, so that
it never holds the user's ssh's stderr (an editor waiting for that to close would wait forever).

The ssh command line is `command.ssh_argv`'s: the user's own ssh configuration for DEST, with only what a
byte pipe needs on top.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import time

from ...bounded import Said
from ...errors import ProxyError, SessionRefused
from ...platform import stream_socketpair
from ...session import Session
from . import remote
from .command import UNREACHABLE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List

    from ...hostname import JobAddress

OPEN_TIMEOUT = 330.0  # as the HTCondor backend: condor_ssh_to_job allows the schedd and the starter 300 s each


# sshd drops new connections beyond MaxStartups (default 10:30:100) unauthenticated ones at a time, as when
# VS Code or a script opens a dozen job connections at once without a shared connection to the AP; ssh then
# ends with one of these before it could log in.  Such a hop is tried again after a short, random pause.
THROTTLED = ("kex_exchange_identification:", "Connection reset by peer", "Connection closed by")
HOP_ATTEMPTS = 4


def throttled(returncode: int, stderr: str) -> bool:
    """Did the hop fail because the AP's sshd turned the connection away before login (MaxStartups)?"""
    return returncode == UNREACHABLE and any(mark in stderr for mark in THROTTLED)


def open_session(argv: List[str], addr: JobAddress, dest: str, *, timeout: float = OPEN_TIMEOUT,
                 attempts: int = HOP_ATTEMPTS) -> Session:
    """Start the hop and read the session header; SessionRefused with one sentence when it ends first."""
    import random

    for attempt in range(1, attempts + 1):
        got = _open_once(argv, dest, timeout)
        if isinstance(got, Session):
            return got
        returncode, err, printed = got
        if attempt == attempts or not throttled(returncode, err):
            raise _refusal(returncode, err, addr, dest, printed)
        time.sleep(random.uniform(0.2, 0.6) * attempt)
    raise AssertionError("unreachable")


def _open_once(argv: List[str], dest: str, timeout: float):
    """One hop: the Session, or (exit status, stderr, what came on stdout) when it ended without a header."""
    ours, theirs = stream_socketpair()
    try:
        proc = _start_hop(argv, theirs)
    except OSError as exc:
        ours.close()
        theirs.close()
        raise ProxyError(f"cannot run {argv[0]} to reach {dest}: {exc.strerror or exc}") from None
    theirs.close()
    err = Said()  # what the hop said on stderr until the header came (or it ended), within bounds
    try:
        got = _read_header(ours, proc, timeout, dest, err)
    except BaseException:
        ours.close()
        _stop(proc)
        raise
    if isinstance(got, bytes):
        ours.close()
        said = _drain(proc, err)  # waits for the hop to end: its exit status is known after
        return proc.returncode, said, got
    user, host_key, key = got
    proc.stderr.close()  # from now on the hop writes its messages nowhere: it must not hold anyone's stderr
    ours.setblocking(True)
    return Session(sock=ours, private_key=key, host_key=host_key, user=user)


# The hop outlives us and may outlive the terminal: with ControlPersist it carries a master connection that
# was detached into the background, but it stays in the terminal's process group.  ssh keeps SIGHUP and
# SIGINT ignored when it starts with them ignored (clientloop.c), so closing the terminal or a Ctrl-C meant
# for the user's ssh cannot cut it: it ends when its socket closes.  SIGTERM still stops it.
_HOP_IGNORES = (signal.SIGHUP, signal.SIGINT)


def _start_hop(argv: List[str], sock: socket.socket) -> subprocess.Popen:
    saved = [(sig, signal.signal(sig, signal.SIG_IGN)) for sig in _HOP_IGNORES]
    try:
        return subprocess.Popen(argv, stdin=sock, stdout=sock, stderr=subprocess.PIPE, close_fds=True)
    finally:
        for sig, handler in saved:
            signal.signal(sig, handler)


def _read_header(sock: socket.socket, proc: subprocess.Popen, timeout: float, dest: str, err: Said):
    """(user, host key, key) once the header is complete; when the hop ended first, the bytes it sent
    (a login script's or a ForceCommand's words).  What the hop writes on stderr meanwhile is added to *err*."""
    deadline = time.monotonic() + timeout
    err_fd = proc.stderr.fileno()
    sock.setblocking(False)
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ)
        sel.register(err_fd, selectors.EVENT_READ)
        need_more = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProxyError(f"the access point {dest} opened no session within {timeout:.0f} s; giving up")
            for key, _ in sel.select(min(left, 1.0)):
                if key.fd == err_fd:
                    chunk = os.read(err_fd, 65536)
                    if chunk:
                        err.add(chunk)
                    else:
                        sel.unregister(err_fd)
                    continue
                try:
                    buf = sock.recv(remote.MAX_NOISE + remote.MAX_KEY + 2 * remote.MAX_HEADER_LINE, socket.MSG_PEEK)
                except BlockingIOError:
                    continue
                if not buf:
                    return b""
                if len(buf) <= need_more:
                    # the same bytes again (a peek never shows the end after them): the hop may have ended
                    if proc.poll() is not None:
                        return bytes(buf)
                    time.sleep(0.005)  # else wait for more to arrive
                    continue
                need_more = len(buf)
                try:
                    parsed = remote.parse_header(buf)
                except remote.HeaderError as exc:
                    raise ProxyError(f"the hop through {dest} broke: {exc}") from None
                if parsed is not None:
                    end, user, host_key, key_bytes = parsed
                    _recv_exactly(sock, end)
                    return user, host_key, key_bytes


def _recv_exactly(sock: socket.socket, count: int) -> None:
    sock.setblocking(True)
    while count > 0:
        chunk = sock.recv(min(count, 65536))
        if not chunk:
            raise ProxyError("the hop closed in the middle of the session header")
        count -= len(chunk)


def _drain(proc: subprocess.Popen, err: Said, timeout: float = 30.0) -> str:
    """Wait for the hop to end and return what it said on stderr (*err* and the rest, read to its end but
    kept within bounds)."""
    deadline = time.monotonic() + timeout
    fd = proc.stderr.fileno()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if sel.select(min(left, 1.0)):
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                err.add(chunk)
    proc.stderr.close()
    try:
        proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        _stop(proc)
    return err.text()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _refusal(returncode: int, stderr: str, addr: JobAddress, dest: str, printed: bytes = b"") -> SessionRefused:
    """One sentence for a hop that ended without a session (*printed*: what came instead of the header)."""
    lines = [" ".join(line.split()) for line in stderr.splitlines() if line.strip()]
    if any(line.startswith(remote.NO_TOOL_MARK) for line in lines):
        return SessionRefused(f"the access point {dest} has no condor_ssh_to_job on PATH: HTCondor's tools must "
                              f"be installed there, on the PATH that `ssh {dest} command` gets", status="error")
    from ..condor.refusals import explain, quote_said

    if returncode == UNREACHABLE:
        said = quote_said(next((line for line in reversed(lines) if line), "no reason given"))
        return SessionRefused(f"cannot reach the access point {dest} with ssh: {said}", status="unreachable")
    words = [line for line in printed.decode("utf-8", "replace").splitlines() if line.strip()]
    if words and not lines:  # the AP's own words on the channel (a ForceCommand, a login script), nothing else
        return SessionRefused(f"the access point {dest} closed the connection before opening a session to job "
                              f"{addr.classic_id}: {quote_said('; '.join(words[:3]))}", status="error")
    return explain(returncode, stderr, addr)
