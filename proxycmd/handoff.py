"""Giving the session's connection to ssh.

`give` passes the descriptor to ssh over our stdout (ProxyUseFdpass): ssh then speaks SSH on it directly
and no process of ours stays in the data path.  `relay` is for when stdout is not a socket (ssh without
ProxyUseFdpass, or a person trying the proxy by hand): bytes are moved in the kernel with splice(2) where
both ends allow it, else with large buffers, in both directions, with half-close passed on.
"""

from __future__ import annotations

import os
import socket
import stat
import threading

CHUNK = 1 << 20


def stdout_is_socket(fd: int = 1) -> bool:
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False


def give(conn: socket.socket, fd: int = 1) -> None:
    """Send *conn* to ssh as SCM_RIGHTS with a one-byte payload, as ProxyUseFdpass expects."""
    channel = socket.socket(fileno=os.dup(fd))
    try:
        socket.send_fds(channel, [b"\0"], [conn.fileno()])
    finally:
        channel.close()


def _is_pipe(fd: int) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:
        return False


def _pump(src: int, dst: int) -> None:
    """Copy src to dst until EOF: splice when one end is a pipe (Linux), else 1 MiB reads and writes."""
    splice = getattr(os, "splice", None)
    if splice is not None and (_is_pipe(src) or _is_pipe(dst)):
        try:
            while splice(src, dst, CHUNK) > 0:
                pass
            return
        except OSError as exc:
            import errno

            if exc.errno not in (errno.EINVAL, errno.ENOSYS):
                raise
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
