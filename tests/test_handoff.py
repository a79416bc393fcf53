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
