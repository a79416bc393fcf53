"""Control messages between the simulated pool and its clients: one JSON object per line over a unix
socket, optionally carrying file descriptors (SCM_RIGHTS) with the reply."""

from __future__ import annotations

import json
import socket
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection

if TYPE_CHECKING:
    from typing import List, Tuple

MAX_MESSAGE = 1 << 20


class ProtocolError(Exception):
    pass


def send(sock: socket.socket, message: dict, fds: List[int] = ()) -> None:
    """Send one message; ProtocolError, before anything is sent, when it is longer than the other end takes."""
    data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
    if len(data) > MAX_MESSAGE:
        raise ProtocolError(f"a message of {len(data)} bytes is more than the {MAX_MESSAGE} the pool takes")
    if fds:
        sent = socket.send_fds(sock, [data], list(fds))
        data = data[sent:]
    if data:
        sock.sendall(data)


def recv(sock: socket.socket) -> Tuple[dict, List[int]]:
    """Read one message; return it with any descriptors that came along (caller owns them)."""
    chunks: List[bytes] = []
    fds: List[int] = []
    size = 0
    while True:
        data, got, _flags, _addr = socket.recv_fds(sock, 65536, 4)
        fds.extend(got)
        if not data:
            for fd in fds:
                _close(fd)
            raise ProtocolError("connection closed before a complete message")
        chunks.append(data)
        size += len(data)
        if data.endswith(b"\n"):
            break
        if size > MAX_MESSAGE:
            for fd in fds:
                _close(fd)
            raise ProtocolError("message too long")
    try:
        return json.loads(b"".join(chunks)), fds
    except ValueError:
        for fd in fds:
            _close(fd)
        raise ProtocolError("malformed message") from None


def _close(fd: int) -> None:
    import os

    try:
        os.close(fd)
    except OSError:
        pass
