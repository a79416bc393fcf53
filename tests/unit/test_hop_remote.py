"""proxycmd/backends/hop/remote.py: the command line sent to the access point, the program condor_ssh_to_job runs
there, and the session header -- checked against real shells and the fake tool's own V2 parser."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from proxycmd.backends.hop import remote
from test_condor_backend import FAKE

SHELLS = [s for s in ("bash", "sh", "dash", "tcsh", "zsh") if shutil.which(s)]
KEY = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"


def expand_tokens(word: str) -> str:
    """condor_ssh_to_job's %-token expansion for a word with no token but %%."""
    assert "%" not in word.replace("%%", ""), word
    return word.replace("%%", "%")


def test_ssh_program_survives_v2_splitting_and_percent_tokens():
    words = [expand_tokens(w) for w in FAKE.split_args(remote.ssh_program())]
    assert words == ["/bin/sh", "-c", remote.RELAY, "cjp-hop"]
    assert "'" not in remote.RELAY  # nothing for V2 quoting to get wrong


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
    done = subprocess.run(["/bin/sh", "-c", remote.RELAY, "cjp-hop", *args], capture_output=True, timeout=20)
    assert done.returncode == 0, done.stderr
    end, user, host_key, key = remote.parse_header(done.stdout)
    assert (user, host_key, key) == ("condor-user", "ecdsa-sha2-nistp256 AAAAE2VjZHNh", KEY)
    assert done.stdout[end:] == f"RELAY:-proxy|RELAY:{session}/fdpass|".encode()


def test_relay_refuses_when_the_admin_changed_the_command_line():
    done = subprocess.run(["/bin/sh", "-c", remote.RELAY, "cjp-hop", "condor-job.exec7"], capture_output=True,
                          text=True, timeout=20)
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
