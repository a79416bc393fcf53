"""The refusal an SSH client reads: a version line, then an unencrypted SSH_MSG_DISCONNECT, delivered over
pipes or over a passed descriptor whose server end outlives the proxy."""

from __future__ import annotations

import os
import socket
import struct
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxycmd import disconnect


def parse_packet(data: bytes):
    """An independent reading of RFC 4253 §6 / §11.1: (reason, description, language, rest)."""
    length, padding = struct.unpack(">IB", data[:5])
    assert (4 + length) % 8 == 0, "before key exchange the packet must fill whole 8-byte blocks"
    assert 4 <= padding <= 255 and length <= 35000
    payload = data[5:4 + length - padding]
    assert payload[0] == 1  # SSH_MSG_DISCONNECT
    reason, = struct.unpack(">I", payload[1:5])
    n, = struct.unpack(">I", payload[5:9])
    description = payload[9:9 + n]
    m, = struct.unpack(">I", payload[9 + n:13 + n])
    language = payload[13 + n:13 + n + m]
    assert 13 + n + m == len(payload)
    return reason, description.decode("utf-8"), language, data[4 + length:]


def test_stream_is_a_version_line_then_one_disconnect_service_not_available():
    """Reason 7 (SERVICE_NOT_AVAILABLE), never 11 (BY_APPLICATION), which Node's ssh2 drops without an
    error (tests/sim/test_editors_e2e.py shows the sentence reaching open-remote-ssh's error)."""
    data = disconnect.refusal_stream("condor-job-proxy: job 5.0 is held: over quota")
    line, rest = data.split(b"\r\n", 1)
    assert line == b"SSH-2.0-condor-job-proxy"
    reason, description, language, after = parse_packet(rest)
    assert (reason, description, language, after) == (7, "condor-job-proxy: job 5.0 is held: over quota", b"", b"")


@given(st.text(max_size=600))
def test_any_sentence_makes_a_well_formed_packet_within_what_openssh_prints(text):
    reason, description, _, rest = parse_packet(disconnect.disconnect_packet(text))
    assert reason == 7 and rest == b""
    assert len(description.encode()) <= disconnect.DESCRIPTION_MAX
    assert "\n" not in description and "\r" not in description


def test_banner_lines_never_look_like_a_version_line():
    assert disconnect.banner_line("SSH-2.0-evil\nsecond") == b" SSH-2.0-evil second\r\n"
    assert disconnect.banner_line("job 1.0 is idle\x1b[K") == b"job 1.0 is idle [K\r\n"


def test_pipes_get_the_bytes_and_the_proxy_waits_for_the_client_to_hang_up():
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    done = threading.Event()
    worker = threading.Thread(target=lambda: (disconnect.tell_ssh("why", fd_in=stdin_r, fd_out=stdout_w, linger=30),
                                              done.set()))
    worker.start()
    expected = disconnect.refusal_stream("why")
    got = b""
    while len(got) < len(expected):
        got += os.read(stdout_r, 4096)
    assert got == expected
    os.write(stdin_w, b"SSH-2.0-OpenSSH_9.2\r\n")  # ssh's own version line does not meet a closed pipe
    assert not done.wait(0.5), "the proxy must keep reading until ssh hangs up"
    os.close(stdin_w)
    assert done.wait(10)
    worker.join()
    for fd in (stdin_r, stdout_r, stdout_w):
        os.close(fd)


def test_fdpass_gets_a_descriptor_whose_server_outlives_the_proxy_and_then_ends_by_itself():
    ssh_end, proxy_end = socket.socketpair()
    fd = proxy_end.fileno()
    assert disconnect.tell_ssh("job 9.0 is not in the queue", fd_in=fd, fd_out=fd, linger=1.0)
    proxy_end.close()  # the proxy exits before ssh reads the descriptor
    data, fds, _, _ = socket.recv_fds(ssh_end, 1, 1)
    assert data == b"\0" and len(fds) == 1
    stream = socket.socket(fileno=fds[0])
    stream.settimeout(10)
    stream.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
    got = b""
    while True:
        chunk = stream.recv(4096)  # EOF only when the detached server gave up after its linger
        if not chunk:
            break
        got += chunk
    assert got == disconnect.refusal_stream("job 9.0 is not in the queue")
    stream.close()
    ssh_end.close()


def test_a_terminal_gets_nothing_but_the_line_on_stderr():
    import pty

    leader, follower = pty.openpty()
    try:
        assert disconnect.tell_ssh("x", fd_in=follower, fd_out=follower) is False
        os.set_blocking(leader, False)
        with pytest.raises(BlockingIOError):
            os.read(leader, 100)
    finally:
        os.close(leader)
        os.close(follower)


def test_progress_goes_to_ssh_log_only_in_pipe_mode(monkeypatch):
    monkeypatch.setattr(disconnect, "_log", {"lines": 0, "stream": None})
    r, w = os.pipe()
    a, b = socket.socketpair()
    try:
        disconnect.log_to_ssh("job 3.0 is idle", fd_in=r, fd_out=w)
        assert os.read(r, 100) == b"job 3.0 is idle\r\n"
        monkeypatch.setattr(disconnect, "_log", {"lines": 0, "stream": None})
        disconnect.log_to_ssh("job 3.0 is idle", fd_in=b.fileno(), fd_out=b.fileno())  # OpenSSH's fdpass socket
        a.setblocking(False)
        with pytest.raises(BlockingIOError):
            a.recv(100)
    finally:
        for thing in (a, b):
            thing.close()
        os.close(r)
        os.close(w)


def test_no_client_writing_into_stdin_means_no_bytes_on_stdout():
    """A script capturing the proxy's output (stdin /dev/null, a file) gets only the line on stderr."""
    r, w = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        assert disconnect.tell_ssh("x", fd_in=null, fd_out=w) is False
        os.set_blocking(r, False)
        with pytest.raises(BlockingIOError):
            os.read(r, 100)
    finally:
        for fd in (r, w, null):
            os.close(fd)
