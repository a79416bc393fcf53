"""Telling ssh itself why no session could be made.

With ControlPersist on, ssh starts the ProxyCommand with its stderr on /dev/null, and VS Code, scripts and
cron have no terminal either: our one line would vanish and ssh would only say "proxy dialer did not pass
back a connection".  So when we fail we also give ssh a stream on which a minimal SSH server sends its
version line and then an unencrypted SSH_MSG_DISCONNECT whose description is our sentence.  OpenSSH prints
it on its own stderr (``Received disconnect from UNKNOWN port 65535:7: <sentence>``) and exits 255
(docs/design-facts.md: "Errors that reach the user through ssh").  The reason is SERVICE_NOT_AVAILABLE (7), not BY_APPLICATION (11): the ssh2 library (Node: the
editors built on open-remote-ssh) drops a disconnect with reason 11 silently, as a normal close, and turns
every other reason into an error whose message is the description; OpenSSH prints every reason the same way.

Two ways to deliver, picked by `handoff.parent_wants_fd` (the one place that decides):

- fd passing (ssh's ProxyUseFdpass): ssh takes the passed descriptor only after we have exited, so the
  other end of a socketpair is held by a small detached child (its own session, no stdio) that writes the
  version line and the disconnect, reads what ssh sends until ssh hangs up (so ssh's version line and
  KEXINIT never meet a closed socket), and exits by itself after a few seconds at most;
- pipes (or any other stream): we write the same bytes on stdout and read stdin until ssh hangs up.

`banner_line` makes the lines a server may send before its version line (RFC 4253 §4.2): ``ssh -v`` logs
them, which is how progress reaches ssh's log while we wait in pipe mode.
"""

from __future__ import annotations

import os
import struct

VERSION = b"SSH-2.0-condor-job-proxy\r\n"
MSG_DISCONNECT = 1
SERVICE_NOT_AVAILABLE = 7  # SSH_DISCONNECT_SERVICE_NOT_AVAILABLE: the job's ssh service cannot be had
DESCRIPTION_MAX = 400  # OpenSSH prints at most 400 bytes of the description
LINGER = 5.0  # seconds the server end waits for ssh to hang up
MAX_BANNER_LINES = 500  # OpenSSH gives up after 1024 lines before the version line


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _shorten(text: str, limit: int = DESCRIPTION_MAX) -> bytes:
    """*text* as UTF-8 in at most *limit* bytes, cut at a character boundary with an ellipsis."""
    data = " ".join(text.split()).encode("utf-8", "replace")
    if len(data) <= limit:
        return data
    return data[: limit - 3].decode("utf-8", "ignore").encode("utf-8") + b"..."


def disconnect_packet(description: str, reason: int = SERVICE_NOT_AVAILABLE) -> bytes:
    """One unencrypted SSH binary packet (RFC 4253 §6) holding SSH_MSG_DISCONNECT (RFC 4253 §11.1).

    Before key exchange there is no cipher and no MAC: the whole packet (length field included) must be a
    multiple of 8 bytes, with 4 to 255 bytes of padding.
    """
    payload = bytes([MSG_DISCONNECT]) + struct.pack(">I", reason) + _string(_shorten(description)) + _string(b"")
    padding = 8 - (4 + 1 + len(payload)) % 8
    if padding < 4:
        padding += 8
    return struct.pack(">IB", 1 + len(payload) + padding, padding) + payload + bytes(padding)


def refusal_stream(description: str) -> bytes:
    """What our minimal server says: its version line, then the disconnect."""
    return VERSION + disconnect_packet(description)


def banner_line(text: str) -> bytes:
    """One line a server may send before its version line: printable, one line, never starting "SSH-"."""
    text = "".join(c if c.isprintable() else " " for c in " ".join(text.split()))
    if text.startswith("SSH-"):
        text = " " + text
    return text.encode("utf-8", "replace")[:250] + b"\r\n"


# ----- delivery ---------------------------------------------------------------------------------------------
def _converse(fd_in: int, fd_out: int, data: bytes, linger: float) -> None:
    """Write *data* on *fd_out*, then read *fd_in* until EOF or *linger* seconds pass."""
    import select
    import time

    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd_out, view):]
    except OSError:
        return  # ssh is gone
    deadline = time.monotonic() + linger
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            ready, _, _ = select.select([fd_in], [], [], left)
            if ready and not os.read(fd_in, 65536):
                return
        except OSError:
            return


def _detached_server(data: bytes, linger: float) -> "object":
    """A socketpair whose far end a detached child serves with *data*; returns our end (to be passed)."""
    import socket

    ours, theirs = socket.socketpair()
    try:
        pid = os.fork()
    except OSError:
        theirs.close()
        return ours
    if pid == 0:  # the child: serve, then leave without running any of the parent's clean-up
        try:
            ours.close()
            os.setsid()
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            if os.fork() > 0:  # let the grandchild serve: nobody has to wait for it
                os._exit(0)
            os.dup2(theirs.fileno(), 3)
            os.closerange(4, 1 << 16)  # hold nothing of the proxy's (a pipe someone waits on, say)
            _converse(3, 3, data, linger)
        finally:
            os._exit(0)
    theirs.close()
    try:
        os.waitpid(pid, 0)  # the first child exits at once
    except OSError:
        pass
    return ours


def client_on_stdio(fd_in: int = 0, fd_out: int = 1) -> bool:
    """Whether an SSH client may be talking to us: it writes into our stdin (a pipe or a socket, never a
    terminal, a file or /dev/null) and reads our stdout (not a terminal).  A person running the proxy by hand,
    or a script capturing its output, gets only the line on stderr."""
    import stat

    try:
        if os.isatty(fd_out) or os.isatty(fd_in):
            return False
        os.fstat(fd_out)
        mode = os.fstat(fd_in).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def tell_ssh(sentence: str, *, fd_in: int = 0, fd_out: int = 1, linger: float = LINGER) -> bool:
    """Say *sentence* to the SSH client on our stdio as an SSH disconnect; False when there is no such
    client (see `client_on_stdio`)."""
    from .handoff import give, parent_wants_fd

    if not client_on_stdio(fd_in, fd_out):
        return False
    data = refusal_stream(sentence)
    if parent_wants_fd(fd_in, fd_out):
        conn = _detached_server(data, linger)
        try:
            give(conn, fd=fd_out)
        except OSError:
            return False
        finally:
            conn.close()
        return True
    _converse(fd_in, fd_out, data, linger)
    return True


_log = {"lines": 0, "stream": None}  # pipe mode: progress lines go before the version line


def log_to_ssh(text: str, fd_in: int = 0, fd_out: int = 1) -> None:
    """Show *text* in ssh's log (``ssh -v``) while we wait: a line before the version line when ssh reads
    our stdout as the stream (pipe mode).  With fd passing there is no such channel before the hand-over,
    and a terminal gets the progress on stderr already: then nothing is written."""
    if _log["stream"] is None:
        from .handoff import parent_wants_fd

        usable = client_on_stdio(fd_in, fd_out) and not parent_wants_fd(fd_in, fd_out)
        _log["stream"] = usable
    if not _log["stream"] or _log["lines"] >= MAX_BANNER_LINES:
        return
    _log["lines"] += 1
    try:
        os.write(fd_out, banner_line(text))
    except OSError:
        _log["stream"] = False
