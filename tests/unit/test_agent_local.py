"""The key agent on its own, in a private runtime directory: its wire format, key files, registration,
signing for ssh-keygen and ssh-add, its log and its memory (no pool, no sshd; tests/sim/test_agent.py drives it
through real ssh)."""

from __future__ import annotations

import base64
import collections
import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding

from proxycmd import paths
from proxycmd.agent import client, harden, keys, peer, wire
from conftest import private_tmp


HOST = "32.0.job.condor"


# -- helpers: real ssh-keygen keys, processes whose pid is known before they run, raw requests -------------------

@dataclass(frozen=True)
class KeyPair:
    private: Path  # the private key file
    public_only: Path  # a .pub file alone in its directory: ssh-keygen -Y sign then asks the agent
    line: str  # "<type> <base64>"
    fingerprint: str  # "SHA256:..."

    @property
    def pem(self) -> bytes:
        return self.private.read_bytes()


def make_key(directory: Path, kind: str, bits: Optional[int] = None) -> KeyPair:
    """A fresh key from ssh-keygen, as the starter makes them."""
    directory.mkdir(parents=True)
    private = directory / "key"
    command = ["ssh-keygen", "-q", "-N", "", "-C", "", "-t", kind, "-f", str(private)]
    if bits:
        command += ["-b", str(bits)]
    subprocess.run(command, check=True)
    line = " ".join(private.with_suffix(".pub").read_text().split()[:2])
    public_only = directory / "pub" / "key.pub"
    public_only.parent.mkdir()
    shutil.copy(private.with_suffix(".pub"), public_only)
    listing = subprocess.run(["ssh-keygen", "-lf", str(public_only)], check=True, capture_output=True, text=True)
    return KeyPair(private, public_only, line, listing.stdout.split()[1])


def agent_env(rundir: Path) -> dict:
    env = dict(os.environ, SSH_AUTH_SOCK=str(paths.agent_socket(rundir)))
    env.pop("SSH_AGENT_PID", None)
    return env


REGISTRAR = """
import base64, json, os, sys
from pathlib import Path
from proxycmd.agent import client
a = json.loads(sys.argv[1])
try:
    client.register(Path(a["rundir"]), pid=os.getppid() if a["pid"] is None else a["pid"], host=a["host"],
                    host_key=a["host_key"], private_key=base64.b64decode(a["private_key"]),
                    key_lifetime=a["key_lifetime"])
except client.AgentError as exc:
    print("refused", " ".join(str(exc).split()), flush=True)
else:
    print("ok", flush=True)
"""


def registrar_request(rundir: Path, pid: Optional[int] = None, host: str = HOST, host_key: str = "",
                      private_key: bytes = b"", key_lifetime: int = 300) -> str:
    """The registrar's argument: register *pid* (default: the registrar's parent) as client.register would."""
    return json.dumps({"rundir": str(rundir), "pid": pid, "host": host, "host_key": host_key,
                       "private_key": base64.b64encode(private_key).decode(), "key_lifetime": key_lifetime})


def registrar_outcome(line: str) -> None:
    if line.strip() != "ok":
        raise client.AgentError(line.strip() or "the registrar died")


class Held:
    """A process that registers sessions for itself through a child (as the proxy does for ssh), then, on
    "go", execs *argv* under the same pid."""

    def __init__(self, argv: List[str], rundir: Path) -> None:
        env = dict(agent_env(rundir), REGISTRAR=REGISTRAR, PY=sys.executable)
        script = 'while IFS= read -r line; do [ "$line" = go ] && exec "$@"; "$PY" -c "$REGISTRAR" "$line"; done'
        self.proc = subprocess.Popen(["sh", "-c", script, "sh", *argv], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        self.pid = self.proc.pid

    def register(self, rundir: Path, **fields) -> None:
        """client.register(...) run by a child of this process; AgentError when refused."""
        self.proc.stdin.write(registrar_request(rundir, **fields) + "\n")
        self.proc.stdin.flush()
        registrar_outcome(self.proc.stdout.readline())

    def release(self, timeout: float = 20.0) -> subprocess.CompletedProcess:
        """Let it exec and run to the end; the process is reaped when this returns."""
        out, err = self.proc.communicate("go\n", timeout=timeout)
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, out, err)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()

    def __enter__(self) -> "Held":
        return self

    def __exit__(self, *exc_info) -> None:
        self.kill()


def register_self(rundir: Path, **fields) -> None:
    """client.register(...) for this test process, run by a child of it (the agent wants the parent)."""
    done = subprocess.run([sys.executable, "-c", REGISTRAR, registrar_request(rundir, **fields)],
                          capture_output=True, text=True, timeout=60)
    registrar_outcome(done.stdout or done.stderr[-300:])


def ssh_add_list(rundir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh-add", "-l"], env=agent_env(rundir), capture_output=True, text=True, timeout=20)


def request(rundir: Path, payload: bytes) -> Optional[bytes]:
    """Send one raw agent message from this process; the reply body, or None if the agent hung up."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(str(paths.agent_socket(rundir)))
        conn.sendall(wire.frame(payload))
        try:
            return wire.read_frame(conn)
        except (wire.WireError, ConnectionResetError):
            return None


RAW_SENDER = """
import socket, sys
from proxycmd.agent import wire
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
conn.connect(sys.argv[1])
conn.sendall(wire.frame(bytes.fromhex(sys.argv[2])))
reply = wire.read_frame(conn)
print(reply.hex() if reply else "")
"""


def control_request_from_child(rundir: Path, payload: bytes) -> bytes:
    """Send one raw message to the control socket from a child of this process; the reply body."""
    done = subprocess.run([sys.executable, "-c", RAW_SENDER, str(paths.control_socket(rundir)), payload.hex()],
                          capture_output=True, text=True, check=True, timeout=60)
    return bytes.fromhex(done.stdout.strip())


def send_raw(rundir: Path, data: bytes) -> bytes:
    """Send bytes as they are and return whatever comes back before the agent closes (b"" = closed)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(str(paths.agent_socket(rundir)))
        conn.sendall(data)
        chunks = []
        while True:
            try:
                chunk = conn.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def at_once(count: int, work: Callable[[int], None]) -> None:
    """Run work(0..count-1) in threads released together; re-raise the first failure."""
    barrier = threading.Barrier(count)
    errors = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            work(index)
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def gone(pid: int) -> bool:
    """Has *pid* exited?  Reaps it if it is our child (agents started by client.ensure_agent are)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def agent_pids(rundir: Path) -> List[int]:
    """Agent processes serving *rundir* (found by their command line)."""
    listing = subprocess.run(["ps", "-ww", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    found = []
    for row in listing.splitlines():
        pid, *args = row.split()
        if "proxycmd.agent" in args and str(rundir) in args and not gone(int(pid)):
            found.append(int(pid))
    return found


def stop_agents(rundir: Path) -> List[int]:
    """Stop the agent the polite way, then kill any left over; returns the pids that had to be killed."""
    client.stop(rundir)
    try:
        wait_until(lambda: not agent_pids(rundir), what="agents to exit")
    except AssertionError:
        pass
    leftovers = agent_pids(rundir)
    for pid in leftovers:
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: gone(pid), what=f"agent {pid} to die")
    return leftovers


# -- fixtures -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keydir():
    path = Path(tempfile.mkdtemp(prefix="cjp-keys-"))
    yield path
    shutil.rmtree(path)


@pytest.fixture(scope="module")
def keyring(keydir):
    """One key of each kind the starter can be asked to make."""
    return {
        "rsa": make_key(keydir / "rsa", "rsa", 3072),
        "ed25519": make_key(keydir / "ed25519", "ed25519"),
        "ecdsa-256": make_key(keydir / "ecdsa-256", "ecdsa", 256),
        "ecdsa-384": make_key(keydir / "ecdsa-384", "ecdsa", 384),
        "ecdsa-521": make_key(keydir / "ecdsa-521", "ecdsa", 521),
        "other": make_key(keydir / "other", "ed25519"),
    }


@pytest.fixture
def rundir(monkeypatch):
    """A short private runtime directory; no agent may outlive the test."""
    monkeypatch.delenv(client.AGENT_ARGS_ENV, raising=False)
    path = private_tmp("a-")  # not under /tmp: the agent refuses a runtime dir another user could take
    yield path
    leftovers = stop_agents(path)
    shutil.rmtree(path)
    assert not leftovers, f"agents still running after the test: {leftovers}"


@pytest.fixture
def agent(rundir):
    client.ensure_agent(rundir)
    return rundir


def register(rundir: Path, owner: Optional[Held], key: KeyPair, host: str = HOST, lifetime: int = 300) -> None:
    """Register *key* for *owner* (None: this test process), from a child of it as the proxy does."""
    fields = dict(host=host, host_key=key.line, private_key=key.pem, key_lifetime=lifetime)
    if owner is None:
        register_self(rundir, **fields)
    else:
        owner.register(rundir, **fields)


def known_hosts_lines(rundir: Path) -> list:
    return paths.known_hosts(rundir).read_text().splitlines()


def sign_request(key: KeyPair, data: bytes, flags: int = 0) -> bytes:
    blob = base64.b64decode(key.line.split()[1])
    return wire.message(wire.SIGN_REQUEST, wire.string(blob), wire.string(data), wire.u32(flags))


# -- wire and peer --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, encoded", [
    (0, "00000000"),
    (0x9A378F9B2E332A7, "0000000809a378f9b2e332a7"),
    (0x80, "000000020080"),
    (0x7F, "000000017f"),
])
def test_mpint_matches_rfc4251(value, encoded):
    assert wire.mpint(value).hex() == encoded


def test_reader_rejects_short_and_trailing_data():
    with pytest.raises(wire.WireError):
        wire.Reader(wire.u32(10) + b"abc").string()
    reader = wire.Reader(wire.string("ab") + b"x")
    assert reader.string() == b"ab"
    with pytest.raises(wire.WireError):
        reader.end()


def test_peer_credentials_and_liveness():
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        assert peer.peer_credentials(left) == (os.getpid(), os.getuid())
    token = peer.start_token(os.getpid())
    assert peer.process_alive(os.getpid(), token)
    child = subprocess.Popen(["true"])
    child_token = peer.start_token(child.pid)
    child.wait()
    assert not peer.process_alive(child.pid, child_token)
    if token is not None:  # Linux: a different start time means a different process
        assert not peer.process_alive(os.getpid(), str(int(token) + 1))


# -- serving keys to the right process ------------------------------------------------------------------------

def test_socket_and_known_hosts_are_private(agent):
    assert stat.S_IMODE(os.lstat(paths.agent_socket(agent)).st_mode) == 0o600
    assert stat.S_ISSOCK(os.lstat(paths.agent_socket(agent)).st_mode)
    known = paths.known_hosts(agent)
    assert stat.S_IMODE(os.lstat(known).st_mode) == 0o600 and known.read_text() == ""
    assert stat.S_IMODE(os.lstat(paths.control_socket(agent)).st_mode) == 0o600
    info = client.status(agent)
    st = os.lstat(paths.agent_socket(agent))
    assert info == {"pid": info["pid"], "sessions": 0, "keys": 0, "version": 1, "dumpable": False,
                    "socket": [st.st_dev, st.st_ino]}


def test_registered_process_lists_only_its_key(agent, keyring):
    key = keyring["ed25519"]
    with Held(["ssh-add", "-l"], agent) as held:
        register(agent, held, key)
        other = ssh_add_list(agent)
        assert other.returncode == 1 and "The agent has no identities" in other.stdout
        mine = held.release()
    assert mine.returncode == 0, mine.stderr
    assert len(mine.stdout.splitlines()) == 1
    assert key.fingerprint in mine.stdout and HOST in mine.stdout


def test_known_hosts_line_lives_as_long_as_the_process(agent, keyring):
    key = keyring["rsa"]
    with Held(["ssh-add", "-l"], agent) as held:
        register(agent, held, key, host="[32.0.job.condor]:2222")
        assert known_hosts_lines(agent) == [f"[32.0.job.condor]:2222 {key.line}"]
        assert key.fingerprint in held.release().stdout
    wait_until(lambda: known_hosts_lines(agent) == [], what="the known_hosts line to go")
    assert client.status(agent)["sessions"] == 0
    after = ssh_add_list(agent)
    assert after.returncode == 1 and key.fingerprint not in after.stdout


def test_key_lifetime_drops_the_key_but_not_the_host_line(agent, keyring):
    key = keyring["ed25519"]
    with Held(["ssh-add", "-l"], agent) as held:
        register(agent, held, key, lifetime=1)
        wait_until(lambda: client.status(agent)["keys"] == 0, what="the key to expire")
        assert client.status(agent)["sessions"] == 1
        assert known_hosts_lines(agent) == [f"{HOST} {key.line}"]
        result = held.release()
    assert result.returncode == 1 and "The agent has no identities" in result.stdout


def test_max_host_key_lifetime_drops_the_line(rundir, keyring, monkeypatch):
    monkeypatch.setenv(client.AGENT_ARGS_ENV, "--max-host-key-lifetime 1")
    with Held(["ssh-add", "-l"], rundir) as held:
        register(rundir, held, keyring["ed25519"])
        assert len(known_hosts_lines(rundir)) == 1
        wait_until(lambda: known_hosts_lines(rundir) == [], what="the host key lifetime to pass")
        assert client.status(rundir)["sessions"] == 0


def test_twelve_parallel_registrations(agent, keydir):
    keys = [make_key(keydir / f"parallel-{index}", "ed25519") for index in range(12)]
    with contextlib.ExitStack() as stack:
        helds = [stack.enter_context(Held(["ssh-add", "-l"], agent)) for _ in keys]
        at_once(12, lambda index: register(agent, helds[index], keys[index], host=f"{index}.0.job.condor"))
        assert sorted(known_hosts_lines(agent)) == sorted(f"{i}.0.job.condor {k.line}" for i, k in enumerate(keys))
        results = [held.release() for held in helds]
    for key, result in zip(keys, results):
        assert result.returncode == 0 and result.stdout.count("SHA256:") == 1 and key.fingerprint in result.stdout
    wait_until(lambda: known_hosts_lines(agent) == [], what="all 12 lines to go")
    assert client.status(agent)["sessions"] == 0


# -- signatures -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["rsa", "ed25519", "ecdsa-256", "ecdsa-384", "ecdsa-521"])
def test_ssh_keygen_signs_through_the_agent(agent, keyring, tmp_path, kind):
    key = keyring[kind]
    data = tmp_path / "data"
    data.write_bytes(b"payload for " + kind.encode())
    with Held(["ssh-keygen", "-Y", "sign", "-f", str(key.public_only), "-n", "file", str(data)], agent) as held:
        register(agent, held, key)
        signed = held.release()
    assert signed.returncode == 0, signed.stderr
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"tester {key.line}\n")
    with open(data, "rb") as message:
        verified = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I", "tester", "-n", "file",
                                   "-s", f"{data}.sig"], stdin=message, capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_unregistered_process_cannot_sign(agent, keyring, tmp_path):
    key = keyring["ed25519"]
    data = tmp_path / "data"
    data.write_bytes(b"x")
    with Held(["true"], agent) as owner:
        register(agent, owner, key)
        result = subprocess.run(["ssh-keygen", "-Y", "sign", "-f", str(key.public_only), "-n", "file", str(data)],
                                env=agent_env(agent), capture_output=True, text=True)
        assert result.returncode != 0 and not Path(f"{data}.sig").exists()
        assert request(agent, sign_request(key, b"x")) == bytes([wire.AGENT_FAILURE])


@pytest.mark.parametrize("flags, algorithm, digest", [
    (0, "ssh-rsa", hashes.SHA1),
    (wire.RSA_SHA2_256, "rsa-sha2-256", hashes.SHA256),
    (wire.RSA_SHA2_512, "rsa-sha2-512", hashes.SHA512),
    (wire.RSA_SHA2_256 | wire.RSA_SHA2_512, "rsa-sha2-256", hashes.SHA256),
])
def test_rsa_signature_algorithms(agent, keyring, flags, algorithm, digest):
    key = keyring["rsa"]
    register(agent, None, key)  # this test process is the registered one
    reply = wire.Reader(request(agent, sign_request(key, b"to be signed", flags)))
    assert reply.byte() == wire.SIGN_RESPONSE
    signature = wire.Reader(reply.string())
    assert signature.text() == algorithm
    public = serialization.load_ssh_public_key(key.line.encode())
    public.verify(signature.string(), b"to be signed", padding.PKCS1v15(), digest())
    # and only that key: another key's blob is refused
    assert request(agent, sign_request(keyring["other"], b"x")) == bytes([wire.AGENT_FAILURE])


# -- loading key files ----------------------------------------------------------------------------------------

def key_file(key: KeyPair, directory: Path, form: str = "OpenSSH", passphrase: str = "") -> bytes:
    """*key*'s private key as ssh-keygen writes it in *form* (OpenSSH, PEM or PKCS8), with *passphrase*."""
    path = directory / f"{form}-{passphrase or 'plain'}"
    shutil.copy(key.private, path)
    path.chmod(0o600)
    if form != "OpenSSH" or passphrase:
        options = [] if form == "OpenSSH" else ["-m", form]
        subprocess.run(["ssh-keygen", "-q", "-p", "-P", "", "-N", passphrase, *options, "-f", str(path)], check=True,
                       capture_output=True)
    return path.read_bytes()


def armoured(container: bytes) -> bytes:
    """An OpenSSH private key file holding *container* (the openssh-key-v1 bytes), as ssh-keygen lays it out."""
    text = base64.b64encode(container).decode()
    lines = [text[at:at + 70] for at in range(0, len(text), 70)]
    return "\n".join(["-----BEGIN OPENSSH PRIVATE KEY-----", *lines, "-----END OPENSSH PRIVATE KEY-----", ""]).encode()


def container(key: KeyPair) -> bytes:
    return base64.b64decode(b"".join(key.pem.splitlines()[1:-1]))


@pytest.mark.parametrize("kind, form", [(kind, "OpenSSH") for kind in ("rsa", "ed25519", "ecdsa-256", "ecdsa-384",
                                                                        "ecdsa-521")]
                         + [(kind, form) for kind in ("rsa", "ecdsa-256", "ecdsa-521") for form in ("PEM", "PKCS8")])
def test_each_key_file_ssh_keygen_writes_loads_as_its_key_pair(keyring, tmp_path, kind, form):
    """Read in place from inside a request's bytearray, as the agent does; with \\n or \\r\\n line ends."""
    key = keyring[kind]
    text = key_file(key, tmp_path, form)
    assert text.startswith(b"-----BEGIN " + {"OpenSSH": b"OPENSSH", "PEM": b"RSA" if kind == "rsa" else b"EC",
                                             "PKCS8": b"PRIVATE"}[form])
    for layout in (text, text.replace(b"\n", b"\r\n")):
        request = bytearray(b"\x00" * 9 + layout + b"\xff" * 9)
        loaded = keys.load_private_key(memoryview(request)[9:9 + len(layout)])
        assert loaded.blob == base64.b64decode(key.line.split()[1])
        assert loaded.made(loaded.sign(b"data", wire.RSA_SHA2_512), b"data")


def test_private_keys_that_are_not_plain_session_keys_are_refused(keyring, tmp_path):
    """One KeyFormatError each, never a cryptography exception, and no key text in its message."""
    key, other = keyring["ed25519"], keyring["other"]
    inner = container(key)
    public, others = base64.b64decode(key.line.split()[1]), base64.b64decode(other.line.split()[1])
    body = [line for line in key.pem.splitlines() if b"-----" not in line]
    cases = {
        "encrypted (OpenSSH)": key_file(key, tmp_path, passphrase="secret"),
        "encrypted (PEM)": key_file(keyring["rsa"], tmp_path, "PEM", "secret"),
        "another key's public part": armoured(inner.replace(public, others, 1)),
        "bad padding": armoured(inner[:-1] + bytes([inner[-1] ^ 0x40])),
        "a character that is not base64": key.pem.replace(body[1], body[1][:9] + b"*" + body[1][10:]),
        "cut short": key.pem.replace(body[-1] + b"\n", b""),
        "no end line": key.pem.replace(b"-----END OPENSSH PRIVATE KEY-----", b""),
        "ends as another format": key.pem.replace(b"END OPENSSH", b"END RSA"),
        "a public key": key.line.encode(),
        "nothing": b"",
    }
    for what, text in cases.items():
        with pytest.raises(keys.KeyFormatError) as refused:
            keys.load_private_key(bytearray(text))
        assert not any(line[:12].decode() in str(refused.value) for line in body), what
        assert "\n" not in str(refused.value), what
    with pytest.raises(keys.KeyFormatError, match="does not match"):
        keys.load_private_key(bytearray(cases["another key's public part"]))


# -- refusals and malformed input -----------------------------------------------------------------------------

@pytest.mark.parametrize("change", [
    {"private_key": b"-----BEGIN OPENSSH PRIVATE KEY-----\nbroken\n-----END OPENSSH PRIVATE KEY-----\n"},
    {"host": "two words"},
    {"host": "a,b"},
    {"host": "*"},
    {"host": "@cert-authority"},
    {"host": "x\n*"},
    {"host_key": "ssh-rsa"},
    {"host_key": "ssh-rsa not!base64"},
    {"host_key": "ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ=="},
    {"host_key": ""},
    {"pid": 0},
    {"key_lifetime": 0},
])
def test_bad_registration_is_refused_and_changes_nothing(agent, keyring, change):
    good = keyring["ed25519"]
    register(agent, None, good)
    before = paths.known_hosts(agent).read_text()
    fields = {"host": HOST, "host_key": keyring["other"].line, "private_key": keyring["other"].pem,
              "key_lifetime": 300}
    fields.update(change)
    with pytest.raises(client.AgentError, match="refused the session key"):
        register_self(agent, **fields)
    assert paths.known_hosts(agent).read_text() == before
    assert client.status(agent)["sessions"] == 1


def test_host_key_as_read_from_a_pub_file(agent, keyring):
    key = keyring["ecdsa-256"]
    register_self(agent, host=HOST, host_key=f"{key.line} \n", private_key=key.pem)
    register_self(agent, host=HOST, host_key=f"{key.line} user@host\n", private_key=key.pem)
    assert known_hosts_lines(agent) == [f"{HOST} {key.line}"] * 2


@pytest.mark.parametrize("suffix", [" comment", "\n", " "])
def test_agent_itself_wants_exactly_type_and_base64(agent, keyring, suffix):
    key = keyring["ed25519"]
    def raw(line: str) -> bytes:
        return wire.message(wire.EXTENSION, wire.string(wire.REGISTER), wire.u32(os.getpid()), wire.string(HOST),
                            wire.string(line), wire.string(key.pem), wire.u32(60))

    assert control_request_from_child(agent, raw(key.line + suffix)) == bytes([wire.AGENT_FAILURE])
    assert known_hosts_lines(agent) == []
    assert control_request_from_child(agent, raw(key.line)) == bytes([wire.AGENT_SUCCESS])
    assert known_hosts_lines(agent) == [f"{HOST} {key.line}"]


def test_registration_for_a_dead_process_is_refused(agent, keyring):
    child = subprocess.Popen(["true"])
    child.wait()
    with pytest.raises(client.AgentError):
        register_self(agent, pid=child.pid, host_key=keyring["ed25519"].line, private_key=keyring["ed25519"].pem)
    assert known_hosts_lines(agent) == []


def test_standard_changes_are_refused(agent, keyring):
    env = agent_env(agent)
    added = subprocess.run(["ssh-add", str(keyring["ed25519"].private)], env=env, capture_output=True, text=True)
    assert added.returncode != 0
    assert subprocess.run(["ssh-add", "-D"], env=env, capture_output=True).returncode != 0
    assert request(agent, wire.message(22, wire.string("pw"))) == bytes([wire.AGENT_FAILURE])  # lock
    assert request(agent, wire.message(wire.EXTENSION, wire.string("query"))) == bytes([wire.AGENT_FAILURE])
    bind = wire.message(wire.EXTENSION, wire.string(wire.SESSION_BIND), wire.string(b"k"), wire.string(b"s"))
    assert request(agent, bind) == bytes([wire.AGENT_SUCCESS])
    assert client.status(agent)["keys"] == 0


def test_oversized_and_malformed_messages_close_the_connection(agent):
    assert send_raw(agent, wire.u32(wire.MAX_MESSAGE + 1) + b"\x0b") == b""
    assert send_raw(agent, wire.frame(bytes([wire.REQUEST_IDENTITIES]) + b"junk")) == b""
    assert send_raw(agent, wire.frame(bytes([wire.SIGN_REQUEST]) + wire.u32(99))) == b""
    # several requests on one connection still work, and the agent is still there
    answer = send_raw(agent, wire.frame(bytes([wire.REQUEST_IDENTITIES])) * 2 + wire.u32(0))
    assert answer == (wire.frame(wire.message(wire.IDENTITIES_ANSWER, wire.u32(0)))) * 2
    assert client.status(agent)["sessions"] == 0


# -- life cycle -----------------------------------------------------------------------------------------------

def test_stop(agent, keyring):
    register(agent, None, keyring["ed25519"])
    pid = client.status(agent)["pid"]
    assert client.stop(agent) is True
    assert not paths.agent_socket(agent).exists()
    assert known_hosts_lines(agent) == []
    wait_until(lambda: gone(pid), what="the agent to exit")
    assert client.stop(agent) is False and client.status(agent) is None


def test_sigterm_cleans_up(agent, keyring):
    register(agent, None, keyring["ed25519"])
    pid = client.status(agent)["pid"]
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: gone(pid), what="the agent to exit")
    assert not paths.agent_socket(agent).exists() and known_hosts_lines(agent) == []


def test_idle_exit(rundir, monkeypatch):
    monkeypatch.setenv(client.AGENT_ARGS_ENV, "--idle-exit 1")
    client.ensure_agent(rundir)
    pid = client.status(rundir)["pid"]
    wait_until(lambda: gone(pid), timeout=5, what="the idle agent to exit")
    assert not paths.agent_socket(rundir).exists()


def test_no_idle_exit_while_a_session_lives(rundir, keyring, monkeypatch):
    monkeypatch.setenv(client.AGENT_ARGS_ENV, "--idle-exit 1")
    with Held(["true"], rundir) as held:
        register(rundir, held, keyring["ed25519"])
        pid = client.status(rundir)["pid"]
        time.sleep(2.0)
        assert not gone(pid)
        held.release()
    wait_until(lambda: gone(pid), timeout=5, what="the agent to exit once idle")
    assert not paths.agent_socket(rundir).exists()


def test_register_starts_the_agent(rundir, keyring):
    assert client.status(rundir) is None
    register(rundir, None, keyring["ed25519"])
    assert client.status(rundir)["sessions"] == 1
    assert known_hosts_lines(rundir) == [f"{HOST} {keyring['ed25519'].line}"]


def test_stale_socket_is_replaced(rundir, keyring):
    paths.ensure_host_dir(rundir)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(paths.agent_socket(rundir)))
    stale.close()
    assert client.status(rundir) is None
    register(rundir, None, keyring["ed25519"])
    assert client.status(rundir)["sessions"] == 1


def agent_starts(monkeypatch) -> list:
    """The command lines of the agents started from now on (subprocess.Popen is watched, not replaced)."""
    real_popen = subprocess.Popen
    spawned = []

    def counting_popen(args, *rest, **kwargs):
        if "proxycmd.agent" in args:
            spawned.append(args)
        return real_popen(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", counting_popen)
    return spawned


def test_concurrent_ensure_agent_starts_one_agent(rundir, monkeypatch):
    spawned = agent_starts(monkeypatch)
    at_once(4, lambda _: client.ensure_agent(rundir))
    assert len(spawned) == 1
    assert len(agent_pids(rundir)) == 1


def test_second_agent_exits_quietly(agent):
    pid = client.status(agent)["pid"]
    second = subprocess.run([sys.executable, "-m", "proxycmd.agent", "--runtime-dir", str(agent)],
                            capture_output=True, text=True, timeout=20)
    assert (second.returncode, second.stderr) == (0, "")
    assert client.status(agent)["pid"] == pid


def test_agent_that_cannot_start_is_reported(rundir, monkeypatch):
    monkeypatch.setenv(client.AGENT_ARGS_ENV, "--no-such-option")
    with pytest.raises(client.AgentError, match=f"did not start; see {paths.agent_log(rundir)}"):
        client.ensure_agent(rundir, timeout=10)
    assert "--no-such-option" in paths.agent_log(rundir).read_text()


def test_an_agent_slow_to_start_is_waited_for(rundir, monkeypatch, keyring):
    """A loaded login node (or a burst of first connections) can take seconds to start Python: an agent that
    listens only after 6 s is still the one the registration reaches (the wait was 5 s, and the CI run's
    burst of 200 lost a connection to "the key agent did not start")."""
    from proxycmd import pystart

    real_argv = pystart.module_argv
    monkeypatch.setattr(pystart, "module_argv",
                        lambda *words: ["sh", "-c", 'sleep 6; exec "$0" "$@"', *real_argv(*words)])
    started = time.monotonic()
    client.ensure_agent(rundir)
    assert time.monotonic() - started >= 6
    register(rundir, None, keyring["ed25519"])
    assert client.status(rundir)["sessions"] == 1


def test_an_agent_that_listens_but_is_slow_to_answer_is_not_doubled(rundir, monkeypatch):
    """Something accepts on control.sock but answers late (an agent busy with a burst): no second agent is
    started beside it, and the caller's own request says how long it waited."""
    spawned = agent_starts(monkeypatch)
    paths.ensure_host_dir(rundir)
    busy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    busy.bind(str(paths.control_socket(rundir)))
    busy.listen(1)
    try:
        client.ensure_agent(rundir)
        assert spawned == []
        with pytest.raises(client.AgentError, match="did not answer within 1 s"):
            client._exchange(rundir, b"\x0b", timeout=1)
    finally:
        busy.close()


def test_nothing_secret_in_the_log(agent, keyring):
    key = keyring["rsa"]
    register(agent, None, key)
    with pytest.raises(client.AgentError):
        register_self(agent, host="bad host", host_key=key.line, private_key=key.pem)
    client.stop(agent)
    log = paths.agent_log(agent).read_text()
    secret_lines = [line for line in key.pem.decode().splitlines() if "-----" not in line]
    assert not any(line in log for line in secret_lines)


def test_the_log_stays_bounded_under_a_flood(agent, keyring):
    """A job looping on a forwarded agent makes a log line per request: agent.log is rotated at its limit
    (into agent.log.1) instead of growing without bound, and the agent goes on answering."""
    key = keyring["ed25519"]
    log, old = paths.agent_log(agent), paths.agent_log(agent).with_name("agent.log.1")
    refused = bytes([wire.AGENT_FAILURE])

    def flood(_index: int) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(30)
            conn.connect(str(paths.agent_socket(agent)))
            for _ in range(7000):  # each refused: "refused a signature for pid ...", about 110 bytes a line
                conn.sendall(wire.frame(sign_request(key, b"data")))
                assert wire.read_frame(conn) == refused

    at_once(4, flood)
    assert old.exists(), f"2.8 MB of lines must have filled agent.log at least once ({log.stat().st_size} bytes)"
    from proxycmd.agent import logfile

    slack = 4096  # the line that crossed the limit
    assert log.stat().st_size <= logfile.LIMIT + slack and old.stat().st_size <= logfile.LIMIT + slack
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert client.status(agent)["pid"]  # still answering
    client.stop(agent)
    wait_until(lambda: log.read_text().endswith("agent stopped\n"), timeout=10,
               what="the agent's last line, in the new agent.log")


@pytest.mark.parametrize("platform, expected", [("linux", "proc"), ("darwin", "libproc"), ("freebsd13", "ps")])
def test_parent_lookup_branch(platform, expected):
    assert peer.parent_method(platform) == expected


def test_parent_lookups_agree_with_the_kernel():
    assert peer.parent_pid(os.getpid()) == os.getppid()
    assert peer._ps_parent(os.getpid()) == os.getppid()  # the fallback, for the platforms without libproc
    child = subprocess.Popen(["true"])
    child.wait()
    assert peer.parent_pid(child.pid) is None and peer._ps_parent(child.pid) is None


@pytest.mark.parametrize("platform, expected", [("linux", "prctl"), ("darwin", "ptrace"), ("freebsd13", "none")])
def test_memory_protection_branch(platform, expected, monkeypatch):
    assert harden.method(platform) == expected
    calls = []

    class Libc:
        def prctl(self, *args):
            calls.append(("prctl",) + args)
            return 0

        def ptrace(self, *args):
            calls.append(("ptrace",) + args)
            return 0

    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(harden, "_libc", Libc)
    assert harden.forbid_inspection() is (expected != "none")
    assert calls == {"prctl": [("prctl", 4, 0, 0, 0, 0)], "ptrace": [("ptrace", 31, 0, None, 0)], "none": []}[expected]


def test_agent_is_not_dumpable(agent):
    info = client.status(agent)
    assert info["dumpable"] is False
    if sys.platform.startswith("linux"):
        # the kernel hands a not-dumpable process's /proc files to root
        assert os.stat(f"/proc/{info['pid']}/mem").st_uid == 0


# -- who may register what ------------------------------------------------------------------------------------

def test_only_the_registered_processs_child_may_register(agent, keyring):
    key = keyring["ed25519"]
    with Held(["ssh-add", "-l"], agent) as held:
        with pytest.raises(client.AgentError):  # we are held's parent, not its child
            client.register(agent, pid=held.pid, host=HOST, host_key=key.line, private_key=key.pem)
        with pytest.raises(client.AgentError):  # an orphaned proxy registering for init
            register_self(agent, pid=1, host_key=key.line, private_key=key.pem)
        assert known_hosts_lines(agent) == [] and client.status(agent)["sessions"] == 0
        held.register(agent, host_key=key.line, private_key=key.pem)  # from held's child: accepted
        assert known_hosts_lines(agent) == [f"{HOST} {key.line}"]
        assert key.fingerprint in held.release().stdout


def test_management_is_refused_on_the_agent_socket(agent, keyring):
    """agent.sock is what ForwardAgent carries into a job: register, status and stop must not work there."""
    key = keyring["ed25519"]
    pid = client.status(agent)["pid"]
    register_raw = wire.message(wire.EXTENSION, wire.string(wire.REGISTER), wire.u32(os.getppid()),
                                wire.string(HOST), wire.string(key.line), wire.string(key.pem), wire.u32(60))
    for payload in (register_raw, wire.message(wire.EXTENSION, wire.string(wire.STATUS)),
                    wire.message(wire.EXTENSION, wire.string(wire.STOP))):
        assert request(agent, payload) == bytes([wire.AGENT_FAILURE])
    assert known_hosts_lines(agent) == []
    assert client.status(agent)["pid"] == pid and not gone(pid)


def test_a_session_key_signs_once(agent, keyring):
    key = keyring["ed25519"]
    register(agent, None, key)
    identities = bytes([wire.REQUEST_IDENTITIES])
    assert wire.Reader(request(agent, identities)[1:]).u32() == 1
    assert request(agent, sign_request(key, b"authentication"))[0] == wire.SIGN_RESPONSE
    assert request(agent, sign_request(key, b"again, as a forwarded channel would")) == bytes([wire.AGENT_FAILURE])
    assert request(agent, identities) == wire.message(wire.IDENTITIES_ANSWER, wire.u32(0))
    info = client.status(agent)
    assert (info["sessions"], info["keys"]) == (1, 0)  # the known_hosts line stays while we live
    assert known_hosts_lines(agent) == [f"{HOST} {key.line}"]


# -- bursts and slow clients ----------------------------------------------------------------------------------

BURST = """
import os, sys, threading
from pathlib import Path
from proxycmd.agent import client
rundir, count, keyfile = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
pem, line = keyfile.read_bytes(), " ".join(Path(f"{keyfile}.pub").read_text().split()[:2])
barrier, failures = threading.Barrier(count), []
def run(index):
    barrier.wait()
    try:
        client.register(rundir, pid=os.getppid(), host=f"{index}.0.job.condor", host_key=line, private_key=pem)
    except Exception as exc:
        failures.append(str(exc))
threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(len(failures), *failures[:3], sep="\\n")
"""


def test_two_hundred_registrations_at_once(agent, keyring):
    key = keyring["ed25519"]
    done = subprocess.run([sys.executable, "-c", BURST, str(agent), "200", str(key.private)],
                          capture_output=True, text=True, timeout=300)
    assert done.stdout.split("\n", 1)[0] == "0", done.stdout + done.stderr
    assert sorted(known_hosts_lines(agent)) == sorted(f"{index}.0.job.condor {key.line}" for index in range(200))
    assert client.status(agent)["sessions"] == 200


def test_idle_and_slow_clients_do_not_starve_others(agent, keyring, tmp_path):
    key = keyring["ecdsa-256"]
    data = tmp_path / "data"
    data.write_bytes(b"signed while the agent is crowded")
    held_open = []
    half_frames = []
    try:
        for index in range(320):
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.connect(str(paths.agent_socket(agent) if index % 8 else paths.control_socket(agent)))
            if index % 5 == 0:  # half a request, never finished
                conn.sendall(wire.u32(100) + b"\x0b" * 10)
                half_frames.append(conn)
            held_open.append(conn)
        command = ["ssh-keygen", "-Y", "sign", "-f", str(key.public_only), "-n", "file", str(data)]
        with Held(command, agent) as held:
            register(agent, held, key)
            signed = held.release()
        assert signed.returncode == 0, signed.stderr
        assert client.status(agent)["sessions"] == 1
        for conn in half_frames:  # each slow one is closed: by the request deadline, or to make room
            conn.settimeout(30)
            try:
                assert conn.recv(100) == b""
            except ConnectionResetError:
                pass
    finally:
        for conn in held_open:
            conn.close()


# -- key bytes in the agent's memory --------------------------------------------------------------------------

def agent_memory(pid: int) -> bytes:
    """Every readable mapping of *pid* (root can read a not-dumpable process's memory)."""
    found = bytearray()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for row in maps:
            span, perms = row.split()[:2]
            if "r" not in perms:
                continue
            start, end = (int(value, 16) for value in span.split("-"))
            try:
                mem.seek(start)
                found += mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
    return bytes(found)


def register_then_end(agent: Path, pairs: List[KeyPair], tmp_path: Path) -> bytes:
    """Register each key for a process of its own, every other one used to authenticate (the key is used,
    then wiped) and the rest ending unused; the agent's memory once every session has ended."""
    data = tmp_path / "data"
    data.write_bytes(b"x")
    for index, key in enumerate(pairs):
        used = index % 2 == 0
        argv = ["ssh-keygen", "-Y", "sign", "-f", str(key.public_only), "-n", "file", str(data)] if used else ["true"]
        with Held(argv, agent) as held:
            register(agent, held, key)
            result = held.release()
        Path(f"{data}.sig").unlink(missing_ok=True)
        assert result.returncode == 0, result.stderr
    wait_until(lambda: client.status(agent)["sessions"] == 0, what="all sessions to end")
    return agent_memory(client.status(agent)["pid"])


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.getuid() != 0,
                    reason="reads /proc/PID/mem of a not-dumpable process: Linux, as root")
def test_no_session_key_stays_in_agent_memory(agent, keydir, tmp_path):
    pairs = [make_key(keydir / f"memory-{index}", "rsa" if index % 6 == 0 else "ed25519") for index in range(24)]
    memory = register_then_end(agent, pairs, tmp_path)
    bodies = [[line for line in key.pem.decode().splitlines() if "-----" not in line] for key in pairs]
    shared = collections.Counter(line for body in bodies for line in set(body))  # format headers keys share
    leaked = [index for index, body in enumerate(bodies)
              if any(line.encode() in memory for line in body if shared[line] == 1)]
    assert leaked == [], f"{len(leaked)} of {len(pairs)} session keys readable in the agent's memory"
    import re

    assert not re.search(rb"PRIVATE KEY-----\r?\n[A-Za-z0-9+/]{16}", memory), "a PEM private key in memory"


def private_value(key: KeyPair) -> bytes:
    """An Ed25519 or ECDSA key's private value, big-endian as its file holds it."""
    loaded = serialization.load_ssh_private_key(key.pem, None)
    if isinstance(loaded, ed25519.Ed25519PrivateKey):
        return loaded.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
    return loaded.private_numbers().private_value.to_bytes((loaded.curve.key_size + 7) // 8, "big")


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.getuid() != 0,
                    reason="reads /proc/PID/mem of a not-dumpable process: Linux, as root")
def test_no_decoded_session_key_stays_in_agent_memory(agent, keydir, tmp_path):
    """ECDSA (the default session key) and Ed25519: neither the private part of the key file nor the
    private value it decodes to is left in the agent's memory.  The lines of a file that only encode the
    public key are left out: the agent holds that key as the session's host key (the same key pair)."""
    pairs = [make_key(keydir / f"decoded-{index}", "ecdsa" if index % 4 < 2 else "ed25519") for index in range(12)]
    memory = register_then_end(agent, pairs, tmp_path)
    bodies = [[line for line in key.pem.decode().splitlines() if "-----" not in line] for key in pairs]
    shared = collections.Counter(line for body in bodies for line in set(body))  # format headers keys share
    leaked = [index for index, (key, body) in enumerate(zip(pairs, bodies))
              if private_value(key)[4:20] in memory
              or any(line.encode() in memory for line in body if shared[line] == 1 and line not in key.line)]
    assert leaked == [], f"{len(leaked)} of {len(pairs)} session keys readable in the agent's memory"


def test_hand_over_to_an_ssh_that_is_gone_is_quiet():
    """ssh died after we registered: the hand-over meets a closed socket and says so without a traceback."""
    from proxycmd import handoff

    ours, ssh_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    session, other = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours, session, other:
        ssh_end.close()
        with pytest.raises(handoff.SshGone):
            handoff.give(session, ours.fileno())


def test_client_waits_while_the_agents_queue_is_full(rundir):
    """A full listen queue (EAGAIN) is a burst, not an absent agent: the client tries again within its timeout."""
    paths.ensure_host_dir(rundir)
    path = str(paths.control_socket(rundir))
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(0)
    fillers, accepted = [], []
    try:
        while True:  # fill the queue until the kernel says EAGAIN
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.setblocking(False)
            fillers.append(conn)
            try:
                conn.connect(path)
            except BlockingIOError:
                break
        connected = threading.Event()

        def drain_later() -> None:
            time.sleep(0.3)
            server.settimeout(0.1)
            while not connected.is_set():
                try:
                    accepted.append(server.accept()[0])
                except socket.timeout:
                    pass

        drainer = threading.Thread(target=drain_later)
        drainer.start()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(10)
        try:
            with conn:
                client._connect(conn, path, time.monotonic() + 10)
        finally:
            connected.set()
            drainer.join()
    finally:
        for conn in fillers:
            conn.close()
        server.close()
        for conn in accepted:
            conn.close()
