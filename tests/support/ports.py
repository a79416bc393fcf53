"""A free TCP port on 127.0.0.1 for a server a test starts later (sshd, a SOCKS or web server in a job),
and whether something listens on one.

Not port 0's answer: that is an ephemeral port, the range the kernel also gives every outgoing
connection, so in the seconds before the server binds it an HTCondor daemon's or ssh's connection may
take it (the server then fails with "address in use").  This picks one below that range and checks
that nothing listens on it or holds it now."""

from __future__ import annotations

import random
import socket

LOW, HIGH = 20000, 32000  # below Linux's default ip_local_port_range (32768-60999)


def _ephemeral_range() -> "tuple[int, int]":
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(word) for word in f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


_given: "set[int]" = set()  # never the same port twice in one run (a test may ask for two before either binds)


def free_port() -> int:
    low, high = _ephemeral_range()
    candidates = [p for p in range(LOW, HIGH) if not low <= p <= high and p not in _given] \
        or [p for p in range(1024, low) if p not in _given]
    for port in random.sample(candidates, min(200, len(candidates))):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port
    raise RuntimeError("no free TCP port found on 127.0.0.1 below the ephemeral range")


def listening(port: int) -> bool:
    """Whether a server accepts connections on 127.0.0.1:*port* now."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False
