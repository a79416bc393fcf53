"""The hand-off to ssh: one descriptor over SCM_RIGHTS, Nagle off, and a relay that passes half-close on."""

from __future__ import annotations

import os
import socket
import threading

from proxycmd import handoff


def _tcp_pair():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    return client, server


def test_give_passes_one_connected_descriptor_with_nagle_off():
    conn, far = _tcp_pair()
    assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
    ssh_end, proxy_end = socket.socketpair()
    handoff.give(conn, fd=proxy_end.fileno())
    data, fds, _, _ = socket.recv_fds(ssh_end, 1, 2)
    assert data == b"\0" and len(fds) == 1
    received = socket.socket(fileno=fds[0])
    conn.close()  # the proxy exits; the connection lives on in ssh's descriptor
    assert received.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    far.sendall(b"SSH-2.0-test\r\n")
    assert received.recv(100) == b"SSH-2.0-test\r\n"
    for s in (received, far, ssh_end, proxy_end):
        s.close()


def test_relay_moves_bytes_both_ways_and_passes_half_close_on():
    conn, far = _tcp_pair()
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    payload = os.urandom(3 << 20)
    result = {}
    relay = threading.Thread(target=lambda: result.setdefault("code", handoff.relay(conn, stdin_r, stdout_w)))
    relay.start()
    received = bytearray()

    def far_side():
        while chunk := far.recv(1 << 16):  # ends when the relay passes ssh's half-close on
            received.extend(chunk)
        far.sendall(b"reply after EOF")
        far.close()

    server = threading.Thread(target=far_side)
    server.start()
    with os.fdopen(stdin_w, "wb") as w:
        w.write(payload)
    with os.fdopen(stdout_r, "rb") as r:
        back = r.read()
    relay.join(10)
    server.join(10)
    assert bytes(received) == payload
    assert back == b"reply after EOF"
    assert result["code"] == 0
    os.close(stdin_r)


# ----- which parent gets a descriptor (docs/design-facts.md: "Which client expects a passed descriptor") --------------------------------------------------------------
def test_openssh_fdpass_layout_gets_a_descriptor():
    ssh_end, ours = socket.socketpair()  # OpenSSH: one socketpair, the same socket on fd 0 and fd 1
    fd0, fd1 = os.dup(ours.fileno()), os.dup(ours.fileno())
    try:
        assert handoff.parent_wants_fd(fd0, fd1) is True
    finally:
        for fd in (fd0, fd1):
            os.close(fd)
        ssh_end.close()
        ours.close()


def test_openssh_pipes_layout_is_relayed():
    r0, w0 = os.pipe()
    r1, w1 = os.pipe()
    try:
        assert handoff.parent_wants_fd(r0, w1) is False
    finally:
        for fd in (r0, w0, r1, w1):
            os.close(fd)


def test_three_socketpairs_layout_is_relayed():
    pairs = [socket.socketpair() for _ in range(3)]  # Node/libuv: stdin, stdout, stderr each its own pair
    try:
        assert handoff.parent_wants_fd(pairs[0][1].fileno(), pairs[1][1].fileno()) is False
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_one_socketpair_with_the_clients_banner_pending_is_relayed_and_the_banner_kept():
    client, ours = socket.socketpair()  # libssh: one socketpair on fd 0 and 1, its banner sent first
    client.sendall(b"SSH-2.0-libssh_0.10.6\r\n")
    try:
        assert handoff.parent_wants_fd(ours.fileno(), ours.fileno()) is False
        assert ours.recv(100) == b"SSH-2.0-libssh_0.10.6\r\n"  # peeked, not consumed
    finally:
        client.close()
        ours.close()


def test_relay_on_one_socketpair_shuts_the_write_side_so_the_client_sees_eof():
    conn, far = _tcp_pair()
    client, ours = socket.socketpair()
    fd_in, fd_out = os.dup(ours.fileno()), os.dup(ours.fileno())
    relay = threading.Thread(target=handoff.relay, args=(conn, fd_in, fd_out), daemon=True)
    relay.start()
    far.sendall(b"SSH-2.0-sshd\r\n")
    far.close()  # sshd ends the connection
    client.settimeout(10)
    got = b""
    while chunk := client.recv(100):  # closing fd 1 alone sends no EOF while fd 0 holds the same socket
        got += chunk
    assert got == b"SSH-2.0-sshd\r\n"
    client.close()
    relay.join(10)
    ours.close()
    conn.close()
