"""Sockets for the ProxyCommand's own path without the `socket` module.

`import socket` also imports enum, selectors, functools and types: ~5 ms of CPU on every connection, for
what the condor path needs of it -- a unix stream socket to connect, a descriptor taken or given with
SCM_RIGHTS, and a socket object around a descriptor.  `_socket`, the C module under `socket`, has all of
that; this adds the `with` statement and the descriptor passing.  The objects are `_socket.socket`s, so
every method the rest of the code calls on a socket (recv, sendall, shutdown, getsockopt, ...) is there,
and `socket.socket` code elsewhere (the agent, the hop) is untouched.
"""

from __future__ import annotations

import _socket
import sys
from _socket import AF_UNIX, SCM_RIGHTS, SO_TYPE, SOCK_STREAM, SOL_SOCKET  # noqa: F401 (for the callers)
from _socket import timeout  # socket.timeout: TimeoutError since Python 3.10, its own class before

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import List, Optional, Sequence, Tuple

_INT_SIZE = 4  # a descriptor in an SCM_RIGHTS message is a C int


class Socket(_socket.socket):
    """A `_socket.socket` that closes at the end of a `with` block, as `socket.socket` does."""

    __slots__ = ()

    def __enter__(self) -> "Socket":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def unix_stream() -> Socket:
    return Socket(AF_UNIX, SOCK_STREAM)


def from_fd(fd: int) -> Socket:
    """A socket object that owns *fd* (closing it closes *fd*); OSError when *fd* is no socket."""
    return Socket(fileno=fd)


def send_fds(sock, data: bytes, fds: "Sequence[int]") -> int:
    """Send *data* with the descriptors *fds* in one SCM_RIGHTS message."""
    payload = b"".join(fd.to_bytes(_INT_SIZE, sys.byteorder, signed=True) for fd in fds)
    return sock.sendmsg([data], [(SOL_SOCKET, SCM_RIGHTS, payload)])


def recv_fds(sock, size: int, max_fds: int) -> "Tuple[bytes, List[int], int]":
    """Up to *size* bytes and up to *max_fds* descriptors (each now ours to close; the kernel closes any
    beyond, flagging MSG_CTRUNC), and the message flags."""
    data, ancillary, flags, _addr = sock.recvmsg(size, _socket.CMSG_LEN(max_fds * _INT_SIZE))
    fds: "List[int]" = []
    for level, kind, payload in ancillary:
        if level == SOL_SOCKET and kind == SCM_RIGHTS:
            whole = len(payload) - len(payload) % _INT_SIZE
            fds += [int.from_bytes(payload[at:at + _INT_SIZE], sys.byteorder, signed=True)
                    for at in range(0, whole, _INT_SIZE)]
    return data, fds, flags
