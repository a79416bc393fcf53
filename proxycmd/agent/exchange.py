"""What a relaying proxy sees of the job sshd's first key exchange: its signature of the session id.

A relayed client (a library) may share its process, and so its agent connections, with channels it
forwards into other jobs: the agent cannot tell the library's own request from a forwarded one by the
process.  The signature request itself can tell: its data starts with the session identifier, the hash
of the connection's first key exchange (RFC 4253 §7.2, RFC 4252 §7), which only the two ends of that
connection know.  The job's sshd signs that hash with its host key, which is the session's key pair
(docs/design-facts.md: "How condor_ssh_to_job opens a session, step by step"), in its key-exchange reply, and that reply crosses the relay in the clear.  The relay hands
the signature to the agent before it passes the reply on; the agent then lets the session's key sign
only for a session id that this signature verifies (agent/registry.py).

`ExchangeWatch` reads the server-to-client bytes up to the first SSH_MSG_NEWKEYS: the version line (and
any lines before it), then unencrypted binary packets (RFC 4253 §6).  Every key exchange method's reply
(KEXDH_REPLY, KEX_ECDH_REPLY, KEX_DH_GEX_REPLY, and the hybrid post-quantum ones) carries string K_S,
the server's public value, string signature; the reply is the packet whose first string is the host key.
Stdlib only, used on the relay path alone.
"""

from __future__ import annotations

import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional

NEWKEYS = 21
_REPLIES = (31, 33)  # KEXDH_REPLY / KEX_ECDH_REPLY / hybrid replies; KEX_DH_GEX_REPLY (31 is GEX_GROUP there)
WATCH_LIMIT = 1 << 20  # bytes looked at before giving up: a key exchange is a few KiB
_LINE_LIMIT = 8192
_U32 = struct.Struct(">I")


def _strings(payload: bytes, count: int) -> "Optional[list]":
    """The first *count* SSH strings of *payload* after its type byte, or None when it holds fewer."""
    found, at = [], 1
    for _ in range(count):
        if at + 4 > len(payload):
            return None
        size = _U32.unpack_from(payload, at)[0]
        at += 4
        if at + size > len(payload):
            return None
        found.append(payload[at:at + size])
        at += size
    return found


class ExchangeWatch:
    """Fed the server's bytes in order; calls *found(signature)* once, when the reply signed with
    *host_key* (the public key blob) has arrived and before the caller passes those bytes on."""

    def __init__(self, host_key: bytes, found: "Callable[[bytes], None]") -> None:
        self._host_key = host_key
        self._found = found
        self._buffer = bytearray()
        self._seen = 0
        self._banner = True
        self.done = False

    def feed(self, data: bytes) -> None:
        if self.done:
            return
        self._seen += len(data)
        self._buffer += data
        try:
            self._parse()
        finally:
            if self._seen > WATCH_LIMIT:
                self.done = True
            if self.done:
                self._buffer = bytearray()

    def _parse(self) -> None:
        while self._banner:  # lines before and including "SSH-2.0-...\r\n"
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > _LINE_LIMIT:
                    self.done = True
                return
            line = bytes(self._buffer[:end])
            del self._buffer[:end + 1]
            self._banner = not line.startswith(b"SSH-")
        while len(self._buffer) >= 5:
            length = _U32.unpack_from(self._buffer)[0]
            if length < 5 or length > WATCH_LIMIT:
                self.done = True
                return
            if len(self._buffer) < 4 + length:
                return
            padding = self._buffer[4]
            payload = bytes(self._buffer[5:4 + length - padding]) if padding < length else b""
            del self._buffer[:4 + length]
            if not payload:
                continue
            if payload[0] == NEWKEYS:  # from here on the stream is encrypted
                self.done = True
                return
            if payload[0] in _REPLIES:
                fields = _strings(payload, 3)
                if fields and fields[0] == self._host_key:
                    self.done = True
                    self._found(fields[2])
                    return
