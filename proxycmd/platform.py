"""What differs between Linux and macOS on the laptop's side of a connection, in one place.

Each function takes the platform name (default: this one) so that tests can check every branch anywhere.
(The agent's peer credentials and the user's agent lookup keep their own branches: proxycmd/agent/peer.py
and proxycmd/upstream.py.)

* Unix socket buffers: a socketpair's buffers are about 208 KiB on Linux but 8 KiB on macOS, where the
  hop's socketpair (proxycmd/backends/hop/tunnel.py), which carries every byte of a transfer between ssh and the
  hop's ssh, would cost a system call per 8 KiB: there we ask for larger ones.
"""

from __future__ import annotations

import socket
import sys

HOP_BUFFER = 1 << 20  # what we ask for where the default is small; the kernel may give less


def is_macos(platform: str = sys.platform) -> bool:
    return platform == "darwin"


def socketpair_buffer(platform: str = sys.platform):
    """The SO_SNDBUF/SO_RCVBUF to ask for on a stream socketpair, or None to keep the system's."""
    return HOP_BUFFER if is_macos(platform) or platform.startswith("freebsd") else None


def stream_socketpair(platform: str = sys.platform):
    """A connected AF_UNIX stream socketpair with buffers fit for bulk transfers."""
    pair = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    size = socketpair_buffer(platform)
    if size:
        for sock in pair:
            for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, option, size)
                except OSError:
                    pass  # a smaller limit (kern.ipc.maxsockbuf): keep what the system gives
    return pair
