"""Asking the user's own agent (``--forward-agent``): its identities, and signatures with its keys."""

from __future__ import annotations

import logging
import socket
from typing import List, Optional, Tuple

from . import wire

log = logging.getLogger("proxycmd.agent")

UPSTREAM_TIMEOUT = 30.0  # a signature may wait for the user to confirm on their own agent


def ask(path: str, request: bytes) -> Optional[bytes]:
    """Send one request to the user's own agent and return its reply, or None when it cannot be asked."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(UPSTREAM_TIMEOUT)
            conn.connect(path)
            conn.sendall(wire.frame(request))
            return wire.read_frame(conn)
    except (OSError, wire.WireError) as exc:
        log.info("the forwarded agent %s did not answer: %s", path, exc.strerror if isinstance(exc, OSError) else exc)
        return None


def identities(path: str) -> List[Tuple[bytes, bytes]]:
    """The (key blob, comment) pairs the user's own agent offers; none when it cannot be asked."""
    reply = ask(path, bytes([wire.REQUEST_IDENTITIES]))
    if not reply:
        return []
    try:
        reader = wire.Reader(reply)
        if reader.byte() != wire.IDENTITIES_ANSWER:
            return []
        return [(reader.string(), reader.string()) for _ in range(reader.u32())]
    except wire.WireError:
        return []
