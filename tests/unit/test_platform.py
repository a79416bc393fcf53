"""proxycmd/platform.py: which branch each platform takes."""

from __future__ import annotations

import socket

import pytest

from proxycmd import platform


@pytest.mark.parametrize("name, macos, buffer", [
    ("linux", False, None), ("darwin", True, platform.HOP_BUFFER), ("freebsd14", False, platform.HOP_BUFFER),
])
def test_branches(name, macos, buffer):
    assert platform.is_macos(name) is macos
    assert platform.socketpair_buffer(name) == buffer


@pytest.mark.parametrize("name", ["linux", "darwin"])
def test_stream_socketpair_works_with_either_branch(name):
    a, b = platform.stream_socketpair(name)
    with a, b:
        assert a.family == socket.AF_UNIX and a.type == socket.SOCK_STREAM
        a.sendall(b"x" * 100000)
        got = b""
        while len(got) < 100000:
            got += b.recv(65536)
        if name == "darwin":  # asked for big buffers: the kernel gives at least its default
            assert a.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) >= 8192
