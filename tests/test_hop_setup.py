"""`setup --via DEST`: the saved setting, the rendered ProxyCommand, the hop's own ssh command line, and
which ssh config file the hop reads."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from proxycmd.errors import ProxyError
from proxycmd.backends.hop.command import SSH_OPTIONS, check_dest, ssh_argv
from sshconfig.hopsetup import advice
from sshconfig.sshclient import hop_config
from sshconfig.block.render import render_block
from sshconfig.block.settings import Settings, SettingsError, from_dict, to_dict
from test_render import context, ssh_g

PROXY = "/opt/condor-job-proxy/bin/condor-job-proxy"


def proxy_command(block: str) -> str:
    return next(line.strip() for line in block.splitlines() if line.strip().startswith("ProxyCommand '"))


def test_via_goes_into_the_proxy_command_with_the_config_file_when_not_the_default():
    block = render_block(context(Settings(via="ap1"), ssh_config="/home/u/my ssh/config"))
    assert proxy_command(block).endswith("--via 'ap1' --via-config '/home/u/my ssh/config' --login '%r' '%h'")
    assert "--via-config" not in render_block(context(Settings(via="u@ap1.example.org")))
    assert "--via" not in render_block(context(Settings()))
    assert "--via" not in render_block(context(Settings(via="ap1", sim_root="/tmp/pool")))  # the sim wins


def test_the_block_with_via_parses_and_reaches_the_proxy(tmp_path):
    config = tmp_path / "config"
    config.write_text(render_block(context(Settings(via="alice@ap1.example.org"), ssh_config=str(config))))
    options = ssh_g(config, "32.0.job.condor")
    assert options["proxycommand"][0].endswith(
        f"--via 'alice@ap1.example.org' --via-config '{config}' --login '%r' '%h'")


@pytest.mark.parametrize("dest", ["ap1", "alice@ap1.example.org", "ap1.example.org", "login-2_b"])
def test_good_destinations(dest):
    assert check_dest(dest) == dest
    assert from_dict({"via": dest}, "test").via == dest
    assert to_dict(Settings(via=dest)) == {"via": dest}


@pytest.mark.parametrize("dest", ["", "-oProxyCommand=x", "ap 1", "ap;x", "ap'1", "$(id)", "ap\n1", "a`b`"])
def test_bad_destinations_are_one_line(dest):
    with pytest.raises(ProxyError):
        check_dest(dest)
    if dest:
        with pytest.raises(SettingsError, match="bad value for 'via'"):
            from_dict({"via": dest}, "test")


def test_hop_ssh_command_line():
    argv = ssh_argv("ap1", "LINE", config="/c", batch=True)
    assert argv == ["ssh", "-F", "/c", *SSH_OPTIONS, "-o", "BatchMode=yes", "--", "ap1", "LINE"]
    assert ssh_argv("u@h", "LINE") == ["ssh", *SSH_OPTIONS, "--", "u@h", "LINE"]


def test_hop_config_names_only_a_file_ssh_would_not_read_by_itself(tmp_path):
    home = Path(pwd.getpwuid(os.geteuid()).pw_dir)
    assert hop_config(home / ".ssh" / "config") is None
    assert hop_config(tmp_path / "config") == str(tmp_path / "config")


def test_advice_suggests_a_control_master_for_the_host():
    text = advice("alice@ap1.example.org")
    assert "    Host ap1.example.org\n        ControlMaster auto\n" in text
    assert "ControlPersist" in text


def test_setup_via_is_saved_and_reset():
    import subprocess

    from conftest import private_tmp, tool

    tmp_path = private_tmp("hs-")  # a home the product accepts (not under /tmp): the runtime dir is in it

    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               XDG_STATE_HOME=str(tmp_path / "state"))
    env.pop("XDG_RUNTIME_DIR", None)
    config = tmp_path / "ssh_config"

    def setup(*args):
        return subprocess.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(config), "--yes", *args],
                              env=env, capture_output=True, text=True, timeout=60)

    done = setup("--via", "ap1")
    assert done.returncode == 0, done.stderr
    assert "ControlMaster auto" in done.stdout
    assert f"--via 'ap1' --via-config '{config}'" in config.read_text()
    assert 'via = "ap1"' in (tmp_path / "cfg" / "condor-job-proxy" / "config.toml").read_text()
    done = setup("--via", "ap 1")
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "bad value for 'via'" in done.stderr
    done = setup("--via", "")
    assert done.returncode == 0, done.stderr
    assert "--via" not in config.read_text()


@pytest.mark.parametrize("code, err, expected", [
    (255, "kex_exchange_identification: read: Connection reset by peer\r\n", True),
    (255, "kex_exchange_identification: Connection closed by remote host\r\n", True),
    (255, "Connection closed by 127.0.0.1 port 2222\r\n", True),
    (255, "ssh: connect to host ap1 port 22: Connection refused\r\n", False),
    (255, "root@ap1: Permission denied (publickey).\r\n", False),
    (1, "Connection reset by peer\n", False),
])
def test_which_hop_failures_are_tried_again(code, err, expected):
    from proxycmd.backends.hop.tunnel import throttled

    assert throttled(code, err) is expected


def test_a_hop_turned_away_by_maxstartups_is_tried_again(tmp_path):
    """A stand-in ssh that is turned away twice, then answers with a session header."""
    from proxycmd.backends.hop.tunnel import open_session
    from proxycmd.hostname import JobAddress

    count = tmp_path / "count"
    key = b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
    (tmp_path / "key").write_bytes(key)
    fake = tmp_path / "ssh"
    fake.write_text("#!/bin/sh\n"
                    f"echo x >> {count}\n"
                    f"if test $(wc -l < {count}) -le 2; then "
                    "echo 'kex_exchange_identification: read: Connection reset by peer' >&2; exit 255; fi\n"
                    f"printf 'condor-job-proxy-hop 1 condor-user {len(key)}\\n* ssh-ed25519 AAAAC3\\n'\n"
                    f"cat {tmp_path / 'key'}\necho SSH-2.0-fake\n")
    fake.chmod(0o755)
    session = open_session([str(fake)], JobAddress(1, 0), "ap1", attempts=3)
    try:
        assert (session.user, session.private_key) == ("condor-user", key)
        assert session.sock.recv(100) == b"SSH-2.0-fake\n"
    finally:
        session.close()
    assert count.read_text().count("x") == 3
    count.write_text("")
    with pytest.raises(ProxyError, match="cannot reach the access point ap1 with ssh: kex_exchange"):
        open_session([str(fake)], JobAddress(1, 0), "ap1", attempts=2)


@pytest.mark.parametrize("script, timeout, message", [
    ("head -c 70000 /dev/zero | tr '\\\\0' x", 30, "the hop through ap1 broke: the access point sent no session header"),
    ("printf 'condor-job-proxy-hop 1 condor-user 99\\\\n'; exec sleep 30", 1.5,
     "the access point ap1 opened no session within 2 s"),
])
def test_a_hop_that_sends_no_header_is_one_sentence_and_is_stopped(tmp_path, script, timeout, message):
    import subprocess
    import time

    from proxycmd.backends.hop.tunnel import open_session
    from proxycmd.hostname import JobAddress

    fake = tmp_path / "ssh"
    fake.write_text(f"#!/bin/sh\necho $$ > {tmp_path / 'pid'}\n{script}\n")
    fake.chmod(0o755)
    with pytest.raises(ProxyError) as caught:
        open_session([str(fake)], JobAddress(1, 0), "ap1", timeout=timeout)
    assert str(caught.value).startswith(message)
    pid = int((tmp_path / "pid").read_text())
    time.sleep(0.2)
    done = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True)
    assert done.stdout.strip() in ("", "Z"), "the hop was left running"


def test_condor_q_json_becomes_job_infos():
    from proxycmd.backends.hop.jobs import parse_condor_q_json

    text = ('[\n{\n  "ClusterId": 32,\n  "ProcId": 0,\n  "JobStatus": 2,\n  "Cmd": "/home/u/train.py",\n'
            '  "Args": "--epochs 3",\n  "RemoteHost": "slot1@exec7",\n  "JobCurrentStartDate": 1700000000,\n'
            '  "QDate": 1690000000\n}\n,\n{\n  "ClusterId": 33,\n  "ProcId": 1,\n  "JobStatus": 5,\n'
            '  "HoldReason": "over quota",\n  "QDate": 1690000000\n}\n]\n')
    jobs = parse_condor_q_json(text)
    assert [(j.job_id, j.status, j.cmd, j.remote_host, j.since, j.hold_reason) for j in jobs] == [
        ("32.0", "running", "train.py --epochs 3", "slot1@exec7", 1700000000.0, ""),
        ("33.1", "held", "", "", 1690000000.0, "over quota")]
    assert parse_condor_q_json("") == [] and parse_condor_q_json("[]\n") == []
    for bad in ("-- Schedd: ap1 : <1.2.3.4>", '{"ClusterId": 1}', "[1, 2]"):
        with pytest.raises(ValueError):
            parse_condor_q_json(bad)
