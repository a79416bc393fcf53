"""proxycmd/backends/hop/remote.py: the command line sent to the access point, the program condor_ssh_to_job runs
there, and the session header -- checked against real shells and the fake tool's own V2 parser."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from proxycmd.backends.hop import remote
from conftest import install_fakes
from test_condor_parts import FAKE

SHELLS = [s for s in ("bash", "sh", "dash", "tcsh", "zsh") if shutil.which(s)]
KEY = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"


def expand_tokens(word: str) -> str:
    """condor_ssh_to_job's %-token expansion for a word with no token but %%."""
    assert "%" not in word.replace("%%", ""), word
    return word.replace("%%", "%")


def test_ssh_program_survives_v2_splitting_and_percent_tokens():
    words = [expand_tokens(w) for w in FAKE.split_args(remote.ssh_program())]
    assert words == ["/bin/sh", "-c", remote.RELAY, "cjp-hop", remote.AP_RELAY, " ".join(remote.AP_PYTHONS)]
    assert "'" not in remote.RELAY  # nothing for V2 quoting to get wrong
    assert [expand_tokens(w) for w in FAKE.split_args(remote.ssh_program(["/opt/py 3"]))][-1] == "/opt/py 3"


def test_the_interpreters_for_the_ap_relay_are_absolute_paths_only(monkeypatch):
    monkeypatch.delenv(remote.AP_PYTHON_ENV, raising=False)
    assert remote.ap_pythons() == list(remote.AP_PYTHONS)
    monkeypatch.setenv(remote.AP_PYTHON_ENV, "python3 /opt/py/bin/python3 ../x /a;b $(id)")
    assert remote.ap_pythons() == ["/opt/py/bin/python3"]  # never a PATH search, nothing sh would expand
    monkeypatch.setenv(remote.AP_PYTHON_ENV, "")
    assert remote.ap_pythons() == []


def test_tool_words_pass_options_in_v2_and_end_with_the_job():
    words = remote.tool_words("32.0", schedd="ap1.example.org", pool="cm:9618", keygen_options=["-t", "ecdsa"],
                              shells=["zsh", "bash"])
    assert words[2:] == ["-name", "ap1.example.org", "-pool", "cm:9618", "-keygen-options", "-t ecdsa",
                         "-shells", "zsh,bash", "--", "32.0"]
    assert FAKE.split_args(remote.tool_words("1.0", keygen_options=["-C", "it's me"])[3]) == ["-C", "it's me"]


@pytest.mark.parametrize("shell", SHELLS)
@settings(max_examples=25, deadline=None)
@given(text=st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=0x2FF), max_size=60))
def test_login_line_means_the_same_to_every_login_shell(shell, text):
    """Whatever script we send, the login shell hands /bin/sh exactly that script."""
    script = f"printf '%s' {remote_quote(text)}\n"
    line = remote.login_line(script)
    assert not any(c in line for c in "!\n") and line.count("'") == 2
    done = subprocess.run([shell, "-c", line], capture_output=True, timeout=20)
    assert done.returncode == 0, done.stderr
    assert done.stdout == text.encode("utf-8")


def remote_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


@pytest.mark.parametrize("shell", SHELLS)
def test_session_script_reports_a_missing_condor_ssh_to_job(shell, tmp_path):
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    done = subprocess.run([shutil.which(shell), "-c", remote.login_line(remote.session_script("1.0"))], env=env,
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == remote.NO_TOOL_STATUS
    assert remote.NO_TOOL_MARK in done.stderr


def test_relay_sends_the_header_then_execs_the_proxy_command(tmp_path):
    """RELAY with the arguments condor_ssh_to_job gives its ssh program (docs/design-facts.md: "Measured: the hand-over against the classic tool (real HTCondor 25.14 pool)"), with a stand-in for
    `condor_ssh_to_job -proxy` that prints its arguments."""
    session = tmp_path / "root.condor_ssh_to_job_1f"
    session.mkdir(mode=0o700)
    (session / "ssh_key").write_bytes(KEY)
    (session / "known_hosts").write_text("* ecdsa-sha2-nistp256 AAAAE2VjZHNh\n")
    relay = tmp_path / "relay tool"
    relay.write_text("#!/bin/sh\nprintf 'RELAY:%s|' \"$@\"\n")
    relay.chmod(0o755)
    proxy = FAKE.args_string_system([str(relay), "-proxy", f"{session}/fdpass"])
    args = ["-oUser=condor-user", f"-oIdentityFile={session}/ssh_key", "-oStrictHostKeyChecking=yes",
            f"-oUserKnownHostsFile={session}/known_hosts", f"-oGlobalKnownHostsFile={session}/known_hosts",
            f"-oProxyCommand={proxy}", "condor-job.exec7", "echo", "hi"]
    done = subprocess.run(["/bin/sh", "-c", remote.RELAY, "cjp-hop", remote.AP_RELAY, "/nonexistent/python3", *args],
                          capture_output=True, timeout=20)
    assert done.returncode == 0, done.stderr
    end, user, host_key, key = remote.parse_header(done.stdout)
    assert (user, host_key, key) == ("condor-user", "ecdsa-sha2-nistp256 AAAAE2VjZHNh", KEY)
    assert done.stdout[end:] == f"RELAY:-proxy|RELAY:{session}/fdpass|".encode()


def test_relay_refuses_when_the_admin_changed_the_command_line():
    done = subprocess.run(["/bin/sh", "-c", remote.RELAY, "cjp-hop", remote.AP_RELAY, "", "condor-job.exec7"],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 3 and done.stdout == ""
    assert "no session options" in done.stderr


def header(user=b"condor-user", key=KEY, line=b"* ssh-rsa AAAAB3Nz") -> bytes:
    return remote.MAGIC + user + b" " + str(len(key)).encode() + b"\n" + line + b"\n" + key


def test_parse_header_needs_every_byte_and_leaves_the_rest():
    data = header() + b"SSH-2.0-OpenSSH_9.2\r\n"
    for cut in range(len(header())):
        assert remote.parse_header(data[:cut]) is None
    end, user, host_key, key = remote.parse_header(data)
    assert (data[end:], user, host_key, key) == (b"SSH-2.0-OpenSSH_9.2\r\n", "condor-user", "ssh-rsa AAAAB3Nz", KEY)


def test_parse_header_skips_what_a_login_script_printed_first():
    noise = b"Welcome to ap1\nLast login: yesterday\n"
    data = noise + header() + b"SSH-2.0-x\r\n"
    assert remote.parse_header(noise) is None
    assert remote.parse_header(noise + remote.MAGIC[:5]) is None
    end, user, _, key = remote.parse_header(data)
    assert (data[end:], user, key) == (b"SSH-2.0-x\r\n", "condor-user", KEY)


@pytest.mark.parametrize("data", [
    b"SSH-2.0-OpenSSH_9.2\r\n" + b"x" * remote.MAX_NOISE,
    remote.MAGIC + b"condor-user\n",
    remote.MAGIC + b"condor-user 0\n* ssh-rsa AAAA\n",
    header(line=b"ssh-rsa AAAA"),
    header(line=b"* ssh-rsa AA;rm"),
    header(key=b"x" * 40),
    remote.MAGIC + b"u " + b"9" * 12 + b"\n",
])
def test_parse_header_refuses_what_is_not_ours(data):
    with pytest.raises(remote.HeaderError):
        remote.parse_header(data)


def test_command_script_quotes_every_word(tmp_path):
    script = remote.command_script(["printf", "%s|", "a b", "it's", "$HOME", "`x`"])
    done = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, timeout=20)
    assert done.stdout == "a b|it's|$HOME|`x`|"
    with pytest.raises(ValueError):
        remote.command_script([])


@settings(max_examples=200, deadline=None)
@given(word=st.text(max_size=30))
def test_sh_quote_is_shlex_quote_in_meaning(word):
    import shlex

    assert shlex.split(remote.sh_quote(word)) == shlex.split(shlex.quote(word)) == [word]


# ----- the relay on the AP, with real bytes ------------------------------------------------------------------
class Starter:
    """condor_ssh_to_job's side of one session: its session directory, and the fdpass socket that hands over,
    once, one end of a TCP connection whose other end is a stand-in for the job's sshd.  That sshd sends
    *down* bytes at once while it reads everything that comes up to the end (so both directions flow at the
    same time), then answers the SHA-256 of what it read and closes."""

    def __init__(self, tmp_path, down: bytes) -> None:
        self.dir = tmp_path / "u.condor_ssh_to_job_9e"
        self.dir.mkdir(mode=0o700)
        (self.dir / "ssh_key").write_bytes(KEY)
        (self.dir / "known_hosts").write_text("* ecdsa-sha2-nistp256 AAAAE2VjZHNh\n")
        self.fdpass = self.dir / "fdpass"
        self.down = down
        self.got_up = None
        self.handed = 0
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.fdpass))
        self._listener.listen(1)
        self._threads = [threading.Thread(target=self._serve, daemon=True)]
        self._threads[0].start()

    def _serve(self) -> None:
        channel, _ = self._listener.accept()
        self._listener.close()  # one hand-over, as condor_ssh_to_job does
        tcp = socket.create_server(("127.0.0.1", 0))
        ours = socket.create_connection(tcp.getsockname())
        sshd, _ = tcp.accept()
        tcp.close()
        socket.send_fds(channel, [b"\0"], [ours.fileno()])
        self.handed += 1
        ours.close()
        channel.close()
        sender = threading.Thread(target=sshd.sendall, args=(self.down,), daemon=True)
        sender.start()
        digest = hashlib.sha256()
        while True:
            chunk = sshd.recv(1 << 16)
            if not chunk:
                break
            digest.update(chunk)
        self.got_up = digest.hexdigest()
        sender.join()
        sshd.sendall(self.got_up.encode())
        sshd.close()

    def session_args(self, proxy_words) -> list:
        proxy = FAKE.args_string_system(proxy_words + ["-proxy", str(self.fdpass)])
        return ["-oUser=condor-user", f"-oIdentityFile={self.dir}/ssh_key", "-oStrictHostKeyChecking=yes",
                f"-oUserKnownHostsFile={self.dir}/known_hosts", f"-oProxyCommand={proxy}", "condor-job.exec7"]


NO_SET_BLOCKING = """#!/bin/sh
# A Python 3.4 stand-in: one without os.set_blocking (its -I -S -c CODE ARGS...)
code=$4; shift 4
exec /usr/bin/python3 -I -S -c "import os; del os.set_blocking
$code" "$@"
"""


def _relay(tmp_path, pythons: str, stdio: str, up: bytes, down: bytes):
    """Run RELAY as condor_ssh_to_job runs its ssh program, on pipes (as sshd gives a command) or one socket:
    write *up* and close (a half-close), read to the end.  (header, what came after it, stderr, the Starter)."""
    starter = Starter(tmp_path, down)
    fake = install_fakes(tmp_path / "fakes") / "condor_ssh_to_job"  # its own relay (-proxy), saying so (-debug)
    argv = ["/bin/sh", "-c", remote.RELAY, "cjp-hop", remote.AP_RELAY, pythons,
            *starter.session_args([str(fake), "-debug"])]
    if stdio == "pipes":
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        write_end, read_end = proc.stdin, proc.stdout
    else:
        ours, theirs = socket.socketpair()
        proc = subprocess.Popen(argv, stdin=theirs, stdout=theirs, stderr=subprocess.PIPE)
        theirs.close()
        write_end, read_end = ours.makefile("wb"), ours.makefile("rb")

    def write() -> None:
        write_end.write(up)
        write_end.close()
        if stdio != "pipes":
            ours.shutdown(socket.SHUT_WR)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    watchdog = threading.Timer(60, proc.kill)  # a relay that never ends fails the test, not the run
    watchdog.start()
    try:
        out = read_end.read()
    finally:
        watchdog.cancel()
    writer.join(30)
    err = proc.stderr.read().decode()
    assert proc.wait(30) == 0, err
    end, user, _, key = remote.parse_header(out)
    assert (user, key) == ("condor-user", KEY)
    return out[end:], err, starter


PY3 = "/usr/bin/python3"


@pytest.mark.skipif(not os.access(PY3, os.X_OK), reason="no /usr/bin/python3")
@pytest.mark.parametrize("stdio", ["pipes", "socket"])
def test_the_python_relay_moves_bytes_both_ways_and_passes_the_half_close_on(tmp_path, stdio):
    """On pipes (what sshd gives a command) the relay splices; on a socket it reads and writes: either way every
    byte arrives, in both directions at once, and the end of ssh's input reaches the job's sshd as a
    half-close, after which the sshd still answers.  condor_ssh_to_job's relay is not run."""
    up, down = os.urandom(6 << 20), os.urandom(5 << 20)  # many times what pipes and sockets buffer
    after, err, starter = _relay(tmp_path, f"/nonexistent/python3 {PY3}", stdio, up, down)
    assert starter.got_up == hashlib.sha256(up).hexdigest()
    assert after == down + starter.got_up.encode()
    assert "Setting up ssh proxy" not in err and starter.handed == 1


@pytest.mark.parametrize("pythons", ["", "/nonexistent/python3", "no-set-blocking"])
def test_without_a_usable_python_condor_ssh_to_jobs_relay_runs(tmp_path, pythons):
    """No interpreter at the paths tried (or none allowed), or one that lacks what the relay needs (checked
    before the fdpass socket is touched): the ProxyCommand condor_ssh_to_job gave runs, and relays alike."""
    if pythons == "no-set-blocking":
        if not os.access(PY3, os.X_OK):
            pytest.skip("no /usr/bin/python3")
        stand_in = tmp_path / "python3.4"
        stand_in.write_text(NO_SET_BLOCKING)
        stand_in.chmod(0o755)
        pythons = str(stand_in)
    up, down = os.urandom(4 << 20), os.urandom(3 << 20)
    after, err, starter = _relay(tmp_path, pythons, "pipes", up, down)
    assert starter.got_up == hashlib.sha256(up).hexdigest()
    assert after == down + starter.got_up.encode()
    assert "Setting up ssh proxy" in err  # the fake condor_ssh_to_job -proxy -debug said so


@pytest.mark.skipif(not os.access(PY3, os.X_OK), reason="no /usr/bin/python3")
def test_the_python_relay_says_one_line_when_no_connection_comes(tmp_path):
    """condor_ssh_to_job hands nothing over (its fdpass socket is gone): one line on stderr, exit status 1."""
    starter_dir = tmp_path / "u.condor_ssh_to_job_77"
    starter_dir.mkdir(mode=0o700)
    done = subprocess.run([PY3, "-I", "-S", "-c", remote.AP_RELAY, "condor_ssh_to_job", "-proxy",
                           str(starter_dir / "fdpass")], stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert done.returncode == 1 and done.stdout == b""
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("condor-job-proxy-hop: cannot take the session from "), lines
