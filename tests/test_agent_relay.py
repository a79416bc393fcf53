"""Relayed sessions (library clients making many connections from one process): turns and lifetimes.

A relayed registration is made by a child of this test process, as the proxy is a child of the client; the
child holds the agent connection open (as the relay does) until told to exit.
"""

from __future__ import annotations

import base64
import os
import select
import subprocess
import sys
import threading

import pytest

from proxycmd.agent import client, wire
from test_agent import (HOST, agent, keydir, keyring, known_hosts_lines, register, request,  # noqa: F401
                        rundir, sign_request, wait_until)

RELAY_REGISTRAR = """
import base64, os, sys
from pathlib import Path
from proxycmd.agent import client
rundir, host, host_key, pem = sys.argv[1], sys.argv[2], sys.argv[3], base64.b64decode(sys.argv[4])
try:
    held = client.register(Path(rundir), pid=os.getppid(), host=host, host_key=host_key, private_key=pem,
                           relayed=True)
except client.AgentError as exc:
    print("refused", exc, flush=True)
else:
    print("ok", flush=True)
    sys.stdin.read()  # the relay runs until the client closes
"""


class Relay:
    """A proxy that relays: registered for this process, its session lives until close()."""

    def __init__(self, rundir, key, host=HOST):
        self.proc = subprocess.Popen([sys.executable, "-c", RELAY_REGISTRAR, str(rundir), host, key.line,
                                      base64.b64encode(key.pem).decode()],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def registered(self, timeout: float = 30.0) -> bool:
        """Has the agent taken the registration (within *timeout*)?"""
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return False
        line = self.proc.stdout.readline().strip()
        assert line == "ok", line
        return True

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(30)


def identities(rundir) -> list:
    reply = wire.Reader(request(rundir, bytes([wire.REQUEST_IDENTITIES]))[1:])
    found = []
    for _ in range(reply.u32()):
        found.append(base64.b64encode(reply.string()).decode())
        reply.string()
    return found


def blob(key) -> str:
    return key.line.split()[1]


def test_a_relayed_session_lives_as_long_as_its_relay(agent, keyring):
    key = keyring["ecdsa-256"]
    relay = Relay(agent, key)
    try:
        assert relay.registered()
        assert known_hosts_lines(agent) == [f"{HOST} {key.line}"]
        assert identities(agent) == [blob(key)]
    finally:
        relay.close()
    # this process still lives: the session ended with the relay, not with the process
    wait_until(lambda: known_hosts_lines(agent) == [], what="the relayed session's line to go")
    assert client.status(agent)["sessions"] == 0 and identities(agent) == []


def test_a_relayed_key_still_signs_once(agent, keyring):
    key = keyring["ed25519"]
    relay = Relay(agent, key)
    try:
        assert relay.registered()
        assert request(agent, sign_request(key, b"authentication"))[0] == wire.SIGN_RESPONSE
        assert request(agent, sign_request(key, b"a forwarded channel")) == bytes([wire.AGENT_FAILURE])
        assert identities(agent) == []
        assert known_hosts_lines(agent) == [f"{HOST} {key.line}"]  # the line stays while the relay runs
    finally:
        relay.close()


@pytest.mark.parametrize("turn_passes_by", ["signature", "relay-end"])
def test_the_next_connection_to_a_host_waits_for_the_turn_and_then_comes_first(agent, keyring, turn_passes_by):
    first, second = keyring["ecdsa-256"], keyring["ed25519"]
    one, two = Relay(agent, first), None
    try:
        assert one.registered()
        two = Relay(agent, second)
        assert not two.registered(timeout=1.0), "a second handshake to the same job must wait for the first's"
        assert identities(agent) == [blob(first)]
        if turn_passes_by == "signature":
            assert request(agent, sign_request(first, b"first authenticates"))[0] == wire.SIGN_RESPONSE
            expected = [second, first]
        else:
            one.close()  # the client gave up on the first connection without signing
            expected = [second]
        assert two.registered()
        assert known_hosts_lines(agent) == [f"{HOST} {key.line}" for key in expected]
        assert identities(agent) == [blob(second)]
    finally:
        one.close()
        if two:
            two.close()


def test_during_a_turn_only_its_key_is_offered(agent, keyring):
    """A client that signs with every offered key (paramiko) cannot use up another connection's key."""
    direct, relayed = keyring["ecdsa-384"], keyring["ecdsa-256"]
    register(agent, None, direct, host="7.0.job.condor")  # an fd-pass session of this process, unused
    relay = Relay(agent, relayed, host="8.0.job.condor")
    try:
        assert relay.registered()
        assert identities(agent) == [blob(relayed)]
        assert request(agent, sign_request(relayed, b"authentication"))[0] == wire.SIGN_RESPONSE
        assert identities(agent) == [blob(direct)]
    finally:
        relay.close()


def _relayed_and_signed(rundir, key) -> Relay:
    relay = Relay(rundir, key)
    assert relay.registered()
    assert request(rundir, sign_request(key, b"authenticated: the turn passes"))[0] == wire.SIGN_RESPONSE
    return relay


@pytest.mark.parametrize("relayed_last", [False, True])
def test_the_newest_line_for_a_host_comes_first(agent, keyring, relayed_last):
    older, newer = keyring["ecdsa-384"], keyring["ecdsa-256"]
    relay = None
    try:
        if relayed_last:
            register(agent, None, older)
            relay = _relayed_and_signed(agent, newer)
        else:
            relay = _relayed_and_signed(agent, older)
            register(agent, None, newer)
        assert known_hosts_lines(agent) == [f"{HOST} {newer.line}", f"{HOST} {older.line}"]
    finally:
        if relay:
            relay.close()


def test_a_turn_not_used_in_time_is_taken_away_with_its_key(keyring, tmp_path, monkeypatch):
    """In the registry itself (the agent's limit is 10 s): the waiting connection gets the turn at the limit."""
    from proxycmd.agent import keys, peer, registry

    monkeypatch.setattr(registry, "HANDSHAKE_LIMIT", 0.3)
    known_hosts = tmp_path / "known_hosts"
    sessions = registry.Registry(known_hosts, 3600)
    me, token = os.getpid(), peer.start_token(os.getpid())
    first, second = keyring["ecdsa-256"], keyring["ed25519"]
    stuck = sessions.add(me, token, HOST, first.line, keys.load_private_key(bytearray(first.pem)), 300, relayed=True)
    later = []
    waiter = threading.Thread(target=lambda: later.append(sessions.add(
        me, token, HOST, second.line, keys.load_private_key(bytearray(second.pem)), 300, relayed=True)), daemon=True)
    waiter.start()
    waiter.join(30)
    assert later and later[0].in_handshake and not stuck.in_handshake
    assert stuck.key is None, "the key of a turn taken away is dropped"
    assert sessions.identities(me, token) == [(later[0].key.blob, HOST)]
    assert known_hosts.read_text().splitlines() == [f"{HOST} {second.line}", f"{HOST} {first.line}"]
    sessions.close(write=False)
