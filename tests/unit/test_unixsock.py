"""proxycmd/unixsock.py: the ProxyCommand's sockets without the socket module, against the socket module's
own behaviour (descriptors passed both ways, the `with` statement, a descriptor that is no socket)."""

from __future__ import annotations

import os
import socket

import pytest

from proxycmd import unixsock


@pytest.fixture
def pair():
    """(our end as a unixsock socket, the other end as a socket.socket, a pipe's read end, its write end)."""
    ours, theirs = socket.socketpair()
    ours = unixsock.from_fd(ours.detach())
    r, w = os.pipe()
    yield ours, theirs, r, w
    for fd in (r, w):
        os.close(fd)
    ours.close()
    theirs.close()


def test_descriptors_pass_between_unixsock_and_the_socket_module(pair):
    ours, theirs, r, w = pair
    unixsock.send_fds(ours, b"\0", [w])
    data, fds, _, _ = socket.recv_fds(theirs, 1, 1)  # what ssh reads (ProxyUseFdpass): one byte, one fd
    assert data == b"\0" and len(fds) == 1
    os.write(fds[0], b"through")
    os.close(fds[0])
    socket.send_fds(theirs, [b"x"], [r])
    data, fds, flags = unixsock.recv_fds(ours, 1, 1)
    assert (data, len(fds), flags & socket.MSG_CTRUNC) == (b"x", 1, 0)
    assert os.read(fds[0], 100) == b"through"
    os.close(fds[0])


def test_more_descriptors_than_asked_for_are_cut_off_and_not_ours(pair):
    ours, theirs, r, w = pair
    socket.send_fds(theirs, [b"x"], [r, w])
    data, fds, flags = unixsock.recv_fds(ours, 1, 1)
    assert len(fds) == 1 and flags & socket.MSG_CTRUNC
    os.close(fds[0])


def test_with_closes_and_a_descriptor_that_is_no_socket_is_refused():
    with unixsock.unix_stream() as sock:
        fd = sock.fileno()
        assert fd >= 0
    assert sock.fileno() == -1
    r, w = os.pipe()
    try:
        with pytest.raises(OSError):
            unixsock.from_fd(r)
    finally:
        os.close(r)
        os.close(w)


def test_a_timeout_is_the_socket_module_s():
    assert unixsock.timeout is socket.timeout
