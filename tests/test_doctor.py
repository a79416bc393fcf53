"""`condor-job-ssh doctor` checks what the block really makes ssh use, and its table fits 80 columns."""

from __future__ import annotations

import os
import pwd
import re
import tempfile
from pathlib import Path

import pytest

from conftest import make_world, tool
from sshconfig import blockinfo, doctor as doctor_mod

pytestmark = pytest.mark.e2e


@pytest.fixture
def sworld():
    yield from make_world(multiplex=True)


def doctor(world, env=None):
    return world.run([tool("condor-job-ssh"), "doctor", "--ssh-config", str(world.ssh_config)], check=False,
                     env=env or world.env)


def rows(output: str) -> dict:
    return {m.group(1): m.group(2) for m in re.finditer(r"^(\S.*?)\s{2,}(OK|WARN|FAIL)\s", output, re.M)}


def flat(text: str) -> str:
    return " ".join(text.split())


def me() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


def test_checks_the_runtime_dir_the_block_names_not_todays_default(sworld):
    sworld.rundir.mkdir(mode=0o700, exist_ok=True)
    sworld.rundir.chmod(0o755)  # the block's directory lets others in
    elsewhere = Path(tempfile.mkdtemp(prefix="cjp-other-", dir="/tmp"))
    try:
        # doctor runs where $XDG_RUNTIME_DIR now points somewhere else and private (after su, a new login)
        done = doctor(sworld, env=dict(sworld.env, XDG_RUNTIME_DIR=str(elsewhere)))
    finally:
        sworld.rundir.chmod(0o700)
        elsewhere.rmdir()
    assert done.returncode == 1, done.stdout
    assert rows(done.stdout)["runtime dir"] == "FAIL"
    assert f"fix: chmod 700 {sworld.rundir}" in flat(done.stdout)


def test_a_user_line_below_the_block_is_found_and_setup_user_fixes_it(sworld):
    job = sworld.submit("sleep", "600")
    with open(sworld.ssh_config, "a") as f:
        f.write("\nHost *\n    User alice\n")
    assert sworld.ssh(f"{job}.job.condor", "true", check=False).returncode != 0  # the job's account is not alice
    done = doctor(sworld)
    assert done.returncode == 0, done.stdout  # a warning: with HTCondor's getpwnam shim any name works
    assert rows(done.stdout)["login user"] == "WARN"
    text = flat(done.stdout)
    assert f"ssh logs in to 1.0.job.condor as alice, not as your local user {me()}" in text
    assert f"fix: run `condor-job-ssh setup --user NAME` with the account your jobs run as (usually `--user {me()}`)" \
        in text
    assert not [line for line in done.stdout.splitlines() if len(line) > 80], done.stdout

    sworld.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(sworld.ssh_config), "--user", me(), "--yes"])
    done = doctor(sworld)
    assert rows(done.stdout)["login user"] == "OK" and f"as {me()} (setup --user)" in flat(done.stdout)
    assert sworld.ssh(f"{job}.job.condor", "true").returncode == 0


def test_the_table_fits_80_columns_with_fixes_under_their_rows():
    checks = [doctor_mod.Check("ssh config", doctor_mod.FAIL, "x" * 10 + " word" * 40, "move it " + "y " * 50),
              doctor_mod.Check("key agent", doctor_mod.OK, "fine")]
    text = doctor_mod.render(checks)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[1].startswith("ssh config  FAIL    xxxxxxxxxx word")
    fix = [i for i, line in enumerate(lines) if line.startswith("            fix:    move it y")]
    assert fix and fix[0] > 1 and lines[fix[0] + 1].startswith(" " * 20 + "y ")
    assert lines[fix[0] + 2].startswith("key agent   OK      fine")


def test_resolved_paths_from_ssh_g():
    values = {"user": "bob", "proxycommand": "'/opt/cjp/condor-job-proxy' --runtime-dir '/run/a 100%%/x' "
                                             "--login '%r' '%h'",
              "identityagent": "/run/a 100%/x/agent.sock", "controlpath": "/home/bob/.ssh/cjp/cm-abc",
              "userknownhostsfile": "/run/a 100%/x/known_hosts"}
    got = blockinfo.from_ssh_g(values, "1.0.job.condor")
    assert got.proxy_runtime_dir == "/run/a 100%/x"
    assert got.runtime_dirs() == ["/run/a 100%/x", "/home/bob/.ssh/cjp"]
    assert blockinfo.from_ssh_g(dict(values, controlpath="none"), "h").runtime_dirs() == ["/run/a 100%/x"]
