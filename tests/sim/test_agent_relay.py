"""Relayed sessions (library clients making many connections from one process): turns and lifetimes.

A relayed registration is made by a child of this test process, as the proxy is a child of the client; the
child holds the agent connection open (as the relay does) until told to exit.
"""

from __future__ import annotations

import base64
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from proxycmd.agent import client, wire
from test_agent_local import (HOST, agent, keydir, keyring, known_hosts_lines, register, request,  # noqa: F401
                              rundir, sign_request, wait_until)

pytestmark = pytest.mark.world(backends=["sim"], scope="module")

RELAY_REGISTRAR = """
import base64, os, sys
from pathlib import Path
from proxycmd.agent import client, keys, wire
rundir, host, host_key, pem, session_id = sys.argv[1], sys.argv[2], sys.argv[3], base64.b64decode(sys.argv[4]), sys.argv[5]
try:
    held = client.register(Path(rundir), pid=os.getppid(), host=host, host_key=host_key, private_key=pem,
                           relayed=True)
except client.AgentError as exc:
    print("refused", exc, flush=True)
else:
    if session_id:  # what the relay sees: the job's sshd signs the session id with the session's key pair
        assert held.binds and held.bind(keys.load_private_key(pem).sign(bytes.fromhex(session_id), wire.RSA_SHA2_512))
    print("ok", flush=True)
    sys.stdin.read()  # the relay runs until the client closes
"""


class Relay:
    """A proxy that relays: registered for this process, its session lives until close().  Unless *bound* is
    False it binds the key to its connection, whose session id is `session_id`, as the relay does."""

    def __init__(self, rundir, key, host=HOST, bound=True):
        self.session_id = os.urandom(32)
        self.proc = subprocess.Popen([sys.executable, "-c", RELAY_REGISTRAR, str(rundir), host, key.line,
                                      base64.b64encode(key.pem).decode(), self.session_id.hex() if bound else ""],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def registered(self, timeout: float = 30.0) -> bool:
        """Has the agent taken the registration (within *timeout*)?"""
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return False
        line = self.proc.stdout.readline().strip()
        assert line == "ok", line
        return True

    def authentication(self, session_id: bytes = b"") -> bytes:
        """What a client signs to log in over this relay's connection (RFC 4252 §7), or over another one."""
        return userauth(session_id or self.session_id)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(30)


def userauth(session_id: bytes, message: int = 50) -> bytes:
    return (wire.string(session_id) + bytes([message]) + wire.string("condor-user") + wire.string("ssh-connection")
            + wire.string("publickey") + b"\x01" + wire.string("ssh-ed25519") + wire.string(b"blob"))


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
        assert request(agent, sign_request(key, relay.authentication()))[0] == wire.SIGN_RESPONSE
        assert request(agent, sign_request(key, relay.authentication())) == bytes([wire.AGENT_FAILURE])
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
            assert request(agent, sign_request(first, one.authentication()))[0] == wire.SIGN_RESPONSE
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
        assert request(agent, sign_request(relayed, relay.authentication()))[0] == wire.SIGN_RESPONSE
        assert identities(agent) == [blob(direct)]
    finally:
        relay.close()


def _relayed_and_signed(rundir, key) -> Relay:
    relay = Relay(rundir, key)
    assert relay.registered()
    assert request(rundir, sign_request(key, relay.authentication()))[0] == wire.SIGN_RESPONSE  # the turn passes
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
    sessions.bind(later[0], keys.load_private_key(bytearray(second.pem)).sign(b"session id"))
    assert stuck.key is None, "the key of a turn taken away is dropped"
    assert sessions.identities(me, token) == [(later[0].key.blob, HOST)]
    assert known_hosts.read_text().splitlines() == [f"{HOST} {second.line}", f"{HOST} {first.line}"]
    sessions.close(write=False)


# ----- a relayed key is bound to the connection its relay carries ---------------------------------------------
@pytest.mark.parametrize("kind", ["rsa", "ed25519", "ecdsa-256", "ecdsa-384", "ecdsa-521"])
def test_a_relayed_key_signs_only_the_authentication_of_its_own_connection(agent, keyring, kind):
    """Another connection of the same process (a channel forwarded into a job) asking with any other session
    id, or for anything but a userauth request, gets no signature, and the key stays for the real login."""
    key = keyring[kind]
    relay = Relay(agent, key)
    try:
        assert relay.registered()
        refused = bytes([wire.AGENT_FAILURE])
        for data in (relay.authentication(os.urandom(32)), b"data of a forwarded channel's choosing",
                     userauth(relay.session_id, message=51), relay.session_id):
            assert request(agent, sign_request(key, data)) == refused, data
        assert identities(agent) == [blob(key)]
        signed = request(agent, sign_request(key, relay.authentication(), wire.RSA_SHA2_256))
        assert signed[0] == wire.SIGN_RESPONSE
        assert identities(agent) == []
    finally:
        relay.close()


def test_a_relayed_key_is_neither_offered_nor_used_before_its_relay_binds_it(agent, keyring):
    key = keyring["ecdsa-256"]
    relay = Relay(agent, key, bound=False)
    try:
        assert relay.registered()
        assert identities(agent) == []
        assert request(agent, sign_request(key, relay.authentication())) == bytes([wire.AGENT_FAILURE])
        assert known_hosts_lines(agent) == [f"{HOST} {key.line}"]  # the client can check the host key meanwhile
    finally:
        relay.close()


def test_only_the_sessions_own_key_pair_makes_a_binding(keyring):
    """The agent checks the sshd's signature with the session's key: one made by another key binds nothing."""
    from proxycmd.agent import keys

    session_id = os.urandom(32)
    for kind in ("rsa", "ed25519", "ecdsa-384"):
        key = keys.load_private_key(bytearray(keyring[kind].pem))
        assert key.made(key.sign(session_id, wire.RSA_SHA2_256), session_id)
        assert not key.made(key.sign(session_id, wire.RSA_SHA2_256), session_id[:-1] + b"?")
        other = keys.load_private_key(bytearray(keyring["other"].pem))
        assert not key.made(other.sign(session_id), session_id)
        assert not key.made(b"not a signature", session_id)


def _packet(payload: bytes) -> bytes:
    padding = 8 - (len(payload) + 5) % 8 + 8
    return wire.u32(len(payload) + padding + 1) + bytes([padding]) + payload + bytes(padding)


@pytest.mark.parametrize("step", [1, 7, 4096])
def test_the_relay_finds_the_servers_signature_in_any_pieces(step):
    """The version line (after other lines), KEXINIT, a GEX group (31, not a reply), the GEX reply (33)."""
    from proxycmd.agent.exchange import ExchangeWatch

    host_key, signature = wire.string("ssh-ed25519") + wire.string(b"k" * 32), b"the signature"
    stream = (b"a line before the version\r\nSSH-2.0-OpenSSH_9.2\r\n" + _packet(bytes([20]) + b"kexinit" * 20)
              + _packet(bytes([31]) + wire.string(b"p" * 300) + wire.string(b"\x02"))
              + _packet(bytes([33]) + wire.string(host_key) + wire.string(b"f" * 256) + wire.string(signature))
              + _packet(bytes([21])) + b"encrypted from here" * 50)
    found, passed = [], bytearray()
    watch = ExchangeWatch(host_key, lambda sig: found.append((sig, len(passed))))
    for at in range(0, len(stream), step):
        chunk = stream[at:at + step]
        watch.feed(chunk)
        passed += chunk
    reply_end = stream.index(_packet(bytes([21])))
    assert found and found[0][0] == signature and len(found) == 1
    assert found[0][1] < reply_end, "the binding must come before the reply is passed on"
    assert watch.done


# ----- real OpenSSH through the relay: every key exchange and key type binds ----------------------------------
KEX = ["curve25519-sha256", "ecdh-sha2-nistp256", "ecdh-sha2-nistp521", "diffie-hellman-group14-sha256",
       "diffie-hellman-group-exchange-sha256", "sntrup761x25519-sha512@openssh.com"]


@pytest.mark.e2e
@pytest.mark.parametrize("keytype", ["rsa", "ecdsa", "ed25519"])
@pytest.mark.parametrize("kex", KEX)
def test_relayed_openssh_logs_in_with_every_key_exchange(world, kex, keytype):
    """ssh without fd passing gets the relay; the relay must find the sshd's signature in each kind of key
    exchange reply, and the agent must check it with each kind of session key, or the login fails."""
    from conftest import tool

    if kex not in subprocess.run(["ssh", "-Q", "kex"], capture_output=True, text=True).stdout.split():
        pytest.skip(f"this ssh has no {kex}")
    if not hasattr(world, "job"):
        world.job = world.submit("sleep", "3600")
    proxy = (f"{tool('condor-job-proxy')} --runtime-dir {world.rundir} {' '.join(world.proxy_args())} "
             f"--keygen-options '-t {keytype}' '%h'")
    done = world.ssh("-o", f"ProxyCommand={proxy}", "-o", "ProxyUseFdpass=no", "-o", f"KexAlgorithms={kex}",
                     f"{world.job}.job.condor", "echo $PWD", check=False)
    assert done.returncode == 0 and done.stdout.strip() == str(world.sandbox(world.job)), done.stderr


def _children(pid: int) -> list:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listing:
            return [int(child) for child in listing.read().split()]
    except OSError:
        return []


def _allow_cores() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def dumps_core(argv, cwd: Path, env=None, ready=None) -> bool:
    """Start *argv* in *cwd* with core dumps allowed, SIGSEGV the process *ready(proc)* names (default: the
    one started) once it is ready, and tell whether a core file appeared in *cwd*."""
    cwd.mkdir()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, preexec_fn=_allow_cores, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        target = ready(proc) if ready else proc.pid
        os.kill(target, signal.SIGSEGV)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and peer_alive(target):
            time.sleep(0.05)
        time.sleep(0.5)  # the kernel writes the core as the process dies
    finally:
        proc.kill()
        proc.communicate()
    return any(path.name.startswith("core") for path in cwd.iterdir())


def peer_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.mark.e2e
def test_a_relaying_proxy_holds_the_key_where_no_core_dump_or_debugger_reaches(world, tmp_path):
    """A relaying proxy holds the session key for the whole connection: like the agent it must be not
    dumpable (no core file with the key in it, no same-user ptrace or /proc/PID/mem)."""
    pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    if pattern.startswith("|") or "/" in pattern or Path("/proc/sys/fs/suid_dumpable").read_text().strip() != "0":
        pytest.skip(f"core files do not land in the working directory here (core_pattern {pattern!r})")
    if not dumps_core(["sleep", "60"], tmp_path / "control"):
        pytest.skip("this machine writes no core file even for an ordinary process")
    if not hasattr(world, "job"):
        world.job = world.submit("sleep", "3600")

    def relaying_proxy(ssh) -> int:
        assert ssh.stdout.readline().strip() == "relaying", ssh.stderr.read() if ssh.poll() is not None else ""
        proxies = [pid for pid in _children(ssh.pid) if b"condor-job-proxy" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(proxies) == 1, proxies
        return proxies[0]

    argv = world.ssh_argv("-o", "ProxyUseFdpass=no", f"{world.job}.job.condor", "echo relaying; sleep 60")
    assert not dumps_core(argv, tmp_path / "proxy", env=world.env, ready=relaying_proxy)
