"""Giving the session's connection to ssh.

`give` passes the descriptor to ssh over our stdout (ProxyUseFdpass): ssh then speaks SSH on it directly
and no process of ours stays in the data path.  `parent_wants_fd` decides: only OpenSSH in ProxyUseFdpass
mode gets a descriptor.  `relay` is for everyone else (ssh without ProxyUseFdpass, clients that spawn the
ProxyCommand with socketpairs of their own, a person trying the proxy by hand): one thread per direction moves bytes with 1 MiB
reads and writes (no per-byte Python work), and half-close is passed on.

Why not splice(2): measured on Linux 6.18, splicing from a TCP socket into a pipe did not wake a reader
already blocked in read() on that pipe, so ssh hung after the first bytes of the banner.  Plain reads and
writes cost a copy each way and always wake the reader.
"""

from __future__ import annotations

import os
import stat

from _socket import AF_INET, AF_INET6, IPPROTO_TCP, MSG_DONTWAIT, MSG_PEEK, SHUT_WR, TCP_NODELAY

from . import unixsock  # not the socket module: its import costs every connection ~5 ms of CPU

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    import socket

CHUNK = 1 << 20


def stdout_is_socket(fd: int = 1) -> bool:
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False


def parent_wants_fd(fd_in: int = 0, fd_out: int = 1) -> bool:
    """True only when the process that runs us is OpenSSH in ProxyUseFdpass mode (docs/design-facts.md: "Which client expects a passed descriptor").

    OpenSSH makes ONE socketpair, puts the same socket on our fd 0 and fd 1, and only waits in recvmsg: it
    never writes to it.  Other parents also give sockets: Node/libuv (VS Code forks built on ssh2) three
    separate socketpairs, libssh one socketpair on fd 0 and 1 on which it sends its banner first.  Those
    get the relay.  macOS may report inode 0 for every socket; there only the pending-bytes test tells.
    """
    try:
        out, inp = os.fstat(fd_out), os.fstat(fd_in)
    except OSError:
        return False
    if not (stat.S_ISSOCK(out.st_mode) and stat.S_ISSOCK(inp.st_mode)):
        return False
    if (out.st_dev, out.st_ino) != (inp.st_dev, inp.st_ino):
        return False
    try:
        probe = unixsock.from_fd(os.dup(fd_out))
    except OSError:
        return False
    try:
        probe.recv(1, MSG_PEEK | MSG_DONTWAIT)
    except BlockingIOError:
        return True  # a socket with nothing to read: ssh waiting in recvmsg
    except OSError:
        return False
    finally:
        probe.close()
    return False  # bytes waiting (a client's banner) or EOF: not ssh's fd-pass socket


def hand_over(conn: socket.socket, *, relay_wanted: bool = False, watch=None) -> int:
    """Give *conn* to ssh (fdpass) when OpenSSH asked for a descriptor, else relay; return the exit status.
    *watch*: fed what the job's sshd sends, before it is passed on (relay only; agent/exchange.py)."""
    if relay_wanted or not parent_wants_fd(0, 1):
        return relay(conn, watch=watch)
    give(conn)
    return 0


def no_delay(conn: socket.socket) -> None:
    """Turn off Nagle's algorithm on a TCP connection.  SSH's handshake is a series of small writes that
    wait for answers; with Nagle on, a write that follows an unacknowledged one waits for the peer's
    delayed ACK (40 ms on Linux), several times per connection.  Bulk transfers write large packets and
    lose nothing."""
    if conn.family in (AF_INET, AF_INET6):
        try:
            conn.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
        except OSError:
            pass


class SshGone(Exception):
    """ssh closed its end before it got the connection (it was killed): nothing to hand over, no one to tell."""


def give(conn: socket.socket, fd: int = 1) -> None:
    """Send *conn* to ssh as SCM_RIGHTS with a one-byte payload, as ProxyUseFdpass expects."""
    no_delay(conn)
    channel = unixsock.from_fd(os.dup(fd))
    try:
        unixsock.send_fds(channel, b"\0", [conn.fileno()])
    except (BrokenPipeError, ConnectionResetError):
        raise SshGone() from None
    finally:
        channel.close()


def _pump(src: int, dst: int, watch=None) -> None:
    """Copy src to dst until EOF with 1 MiB reads and writes; *watch* (while not done) sees each chunk
    before it is written."""
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        n = os.readv(src, [buf])
        if n <= 0:
            return
        if watch is not None:
            watch.feed(bytes(view[:n]))
            if watch.done:
                watch = None
        sent = 0
        while sent < n:
            sent += os.write(dst, view[sent:n])


def _end_output(fd: int) -> None:
    """Close our output so the client sees EOF.  When it is a socket that is also our input (libssh's one
    socketpair), closing fd 1 alone sends nothing while fd 0 holds the same socket: shut its write side."""
    if stdout_is_socket(fd):
        try:
            with unixsock.from_fd(os.dup(fd)) as out:
                out.shutdown(SHUT_WR)
        except OSError:
            pass
    try:
        os.close(fd)
    except OSError:
        pass


def relay(conn: socket.socket, fd_in: int = 0, fd_out: int = 1, watch=None) -> int:
    """Relay stdin -> conn and conn -> stdout until the remote side closes; return an exit status.
    *watch* sees what comes from conn before it is passed on (see `_pump`)."""
    import threading  # only the relay needs it

    sock_fd = conn.fileno()

    def upstream() -> None:
        try:
            _pump(fd_in, sock_fd)
        except OSError:
            pass
        try:
            conn.shutdown(SHUT_WR)  # pass ssh's half-close on to sshd
        except OSError:
            pass

    up = threading.Thread(target=upstream, daemon=True)
    up.start()
    try:
        _pump(sock_fd, fd_out, watch)
    except OSError:
        return 1
    finally:
        _end_output(fd_out)  # sshd closed: tell the client
    up.join(timeout=2.0)
    return 0
