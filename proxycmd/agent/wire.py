"""SSH wire encoding for the agent protocol (RFC 4251 types, framed as in OpenSSH's PROTOCOL.agent).

Stdlib only: the client imports this on every connection.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    import socket
    from typing import Optional, Union

MAX_MESSAGE = 256 * 1024  # largest message body either side accepts

# Message numbers (draft-miller-ssh-agent).
AGENT_FAILURE = 5
AGENT_SUCCESS = 6
REQUEST_IDENTITIES = 11
IDENTITIES_ANSWER = 12
SIGN_REQUEST = 13
SIGN_RESPONSE = 14
EXTENSION = 27

# Sign request flags.
RSA_SHA2_256 = 2
RSA_SHA2_512 = 4

# Extension names.
SESSION_BIND = "session-bind@openssh.com"
REGISTER = "register@condor-job-proxy"
STATUS = "status@condor-job-proxy"
STOP = "stop@condor-job-proxy"
MASTER = "master@condor-job-proxy"  # after a registration: the ControlPath name of the ssh's master to be
BIND = "bind@condor-job-proxy"  # on a relayed session's held connection: the sshd's signature of the session id

# Register flags (an optional u32 after the upstream agent).
REGISTER_RELAYED = 1  # the proxy relays: the session lives while the registering connection stays open
SHARED_KNOWN_HOSTS = 2  # ssh reads the known_hosts file all login nodes share (the block's --shared-known-hosts)
# The agent's answer to a relayed registration: SUCCESS, then a u32 of these (an earlier agent sends none).
REGISTER_BINDS = 1  # the relay must bind the key to its connection (BIND) before the key signs

class WireError(ValueError):
    """A message that does not parse, or a frame that is empty, too long or cut short."""


def u32(value: int) -> bytes:
    """An SSH ``uint32``, big-endian (int.to_bytes, not struct: one import less on every connection)."""
    return value.to_bytes(4, "big")


def string(value: Union[bytes, str]) -> bytes:
    """An SSH ``string``: uint32 length then the bytes (str is encoded as UTF-8)."""
    if isinstance(value, str):
        value = value.encode()
    return u32(len(value)) + value


def mpint(value: int) -> bytes:
    """An SSH ``mpint`` for a non-negative integer: big-endian, with a zero byte when the top bit is set."""
    if value < 0:
        raise ValueError("negative mpint")
    body = value.to_bytes((value.bit_length() + 8) // 8, "big") if value else b""
    return string(body)


def frame(payload: bytes) -> bytes:
    """A whole agent message: uint32 length then the payload (type byte first)."""
    return u32(len(payload)) + payload


def message(kind: int, *fields: bytes) -> bytes:
    """A payload: the message type byte followed by already-encoded fields."""
    return bytes([kind]) + b"".join(fields)


class Reader:
    """Reads SSH types from one message body in order; any shortfall raises WireError."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def _take(self, count: int) -> bytes:
        end = self._pos + count
        if end > len(self._data):
            raise WireError("message is cut short")
        chunk = self._data[self._pos:end].tobytes()
        self._pos = end
        return chunk

    def byte(self) -> int:
        return self._take(1)[0]

    def u32(self) -> int:
        return int.from_bytes(self._take(4), "big")

    def string(self) -> bytes:
        return self._take(self.u32())

    def view(self) -> memoryview:
        """A ``string`` as a view into the message, not a copy (for secrets the caller wipes in place)."""
        count = self.u32()
        end = self._pos + count
        if end > len(self._data):
            raise WireError("message is cut short")
        chunk = self._data[self._pos:end]
        self._pos = end
        return chunk

    def text(self) -> str:
        try:
            return self.string().decode()
        except UnicodeDecodeError:
            raise WireError("text field is not UTF-8") from None

    def rest(self) -> bytes:
        return self._take(len(self._data) - self._pos)

    def more(self) -> bool:
        """True while unread bytes remain (for optional trailing fields)."""
        return self._pos < len(self._data)

    def end(self) -> None:
        """Raise WireError if anything is left unread."""
        if self._pos != len(self._data):
            raise WireError("message has trailing bytes")


def _recv_exact(sock: socket.socket, count: int) -> bytes:
    parts = []
    while count:
        chunk = sock.recv(min(count, 65536))
        if not chunk:
            break
        parts.append(chunk)
        count -= len(chunk)
    return b"".join(parts)


def read_frame(sock: socket.socket, limit: int = MAX_MESSAGE) -> Optional[bytes]:
    """Read one message body; None on a clean end of stream before it starts.

    Raises WireError for an empty or oversized frame or one cut short, OSError for socket failures.
    """
    head = _recv_exact(sock, 4)
    if not head:
        return None
    if len(head) < 4:
        raise WireError("frame header is cut short")
    length = int.from_bytes(head, "big")
    if length == 0 or length > limit:
        raise WireError(f"frame length {length} is out of range")
    body = _recv_exact(sock, length)
    if len(body) < length:
        raise WireError("frame is cut short")
    return body
