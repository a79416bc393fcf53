"""Giving the session's connection to ssh.

`give` passes the descriptor to ssh over our stdout (ProxyUseFdpass): ssh then speaks SSH on it directly
and no process of ours stays in the data path.  `relay` is for when stdout is not a socket (ssh without
ProxyUseFdpass, or a person trying the proxy by hand): one thread per direction moves bytes with 1 MiB
reads and writes (no per-byte Python work), and half-close is passed on.

Why not splice(2): measured on Linux 6.18, splicing from a TCP socket into a pipe did not wake a reader
already blocked in read() on that pipe, so ssh hung after the first bytes of the banner.  Plain reads and
writes cost a copy each way and always wake the reader.
"""

from __future__ import annotations

import os
import socket
import stat

CHUNK = 1 << 20


def stdout_is_socket(fd: int = 1) -> bool:
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False


def hand_over(conn: socket.socket, *, relay_wanted: bool = False) -> int:
    """Give *conn* to ssh (fdpass) when our stdout is a socket, else relay; return the exit status."""
    if relay_wanted or not stdout_is_socket(1):
        return relay(conn)
    give(conn)
    return 0


def no_delay(conn: socket.socket) -> None:
    """Turn off Nagle's algorithm on a TCP connection.  SSH's handshake is a series of small writes that
    wait for answers; with Nagle on, a write that follows an unacknowledged one waits for the peer's
    delayed ACK (40 ms on Linux), several times per connection.  Bulk transfers write large packets and
    lose nothing."""
    if conn.family in (socket.AF_INET, socket.AF_INET6):
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class SshGone(Exception):
    """ssh closed its end before it got the connection (it was killed): nothing to hand over, no one to tell."""


def give(conn: socket.socket, fd: int = 1) -> None:
    """Send *conn* to ssh as SCM_RIGHTS with a one-byte payload, as ProxyUseFdpass expects."""
    no_delay(conn)
    channel = socket.socket(fileno=os.dup(fd))
    try:
        socket.send_fds(channel, [b"\0"], [conn.fileno()])
    except (BrokenPipeError, ConnectionResetError):
        raise SshGone() from None
    finally:
        channel.close()


def _pump(src: int, dst: int) -> None:
    """Copy src to dst until EOF with 1 MiB reads and writes."""
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        n = os.readv(src, [buf])
        if n <= 0:
            return
        sent = 0
        while sent < n:
            sent += os.write(dst, view[sent:n])


def relay(conn: socket.socket, fd_in: int = 0, fd_out: int = 1) -> int:
    """Relay stdin -> conn and conn -> stdout until the remote side closes; return an exit status."""
    import threading  # only the relay needs it

    sock_fd = conn.fileno()

    def upstream() -> None:
        try:
            _pump(fd_in, sock_fd)
        except OSError:
            pass
        try:
            conn.shutdown(socket.SHUT_WR)  # pass ssh's half-close on to sshd
        except OSError:
            pass

    up = threading.Thread(target=upstream, daemon=True)
    up.start()
    try:
        _pump(sock_fd, fd_out)
    except OSError:
        return 1
    finally:
        try:
            os.close(fd_out)  # sshd closed: tell ssh
        except OSError:
            pass
    up.join(timeout=2.0)
    return 0
