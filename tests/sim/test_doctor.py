"""`condor-job-ssh doctor` checks what the block really makes ssh use (its table, from given rows:
tests/unit/test_doctor_rows.py)."""

from __future__ import annotations

import os
import pwd
import re
import tempfile
from pathlib import Path

import pytest

from conftest import flat_table, tool

pytestmark = [pytest.mark.e2e, pytest.mark.world(backends=["sim"], multiplex=True)]


def doctor(world, env=None):
    return world.run([tool("condor-job-ssh"), "doctor", "--ssh-config", str(world.ssh_config)], check=False,
                     env=env or world.env)


def rows(output: str) -> dict:
    return {m.group(1): m.group(2) for m in re.finditer(r"^(\S.*?)\s{2,}(OK|WARN|FAIL)\s", output, re.M)}


def flat(text: str) -> str:
    return flat_table(text)


def me() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


def test_checks_the_runtime_dir_the_block_names_not_todays_default(world):
    world.rundir.mkdir(mode=0o700, exist_ok=True)
    world.rundir.chmod(0o755)  # the block's directory lets others in
    elsewhere = Path(tempfile.mkdtemp(prefix="cjp-other-", dir="/tmp"))
    try:
        # doctor runs where $XDG_RUNTIME_DIR now points somewhere else and private (after su, a new login)
        done = doctor(world, env=dict(world.env, XDG_RUNTIME_DIR=str(elsewhere)))
    finally:
        world.rundir.chmod(0o700)
        elsewhere.rmdir()
    assert done.returncode == 1, done.stdout
    assert rows(done.stdout)["runtime dir"] == "FAIL"
    assert f"fix: make it private:" in flat(done.stdout)
    assert f"chmod 700 {world.rundir}" in [line.strip() for line in done.stdout.splitlines()], done.stdout


def test_a_user_line_below_the_block_is_found_and_setup_user_fixes_it(world):
    job = world.submit("sleep", "600")
    with open(world.ssh_config, "a") as f:
        f.write("\nHost *\n    User alice\n")
    assert world.ssh(f"{job}.job.condor", "true", check=False).returncode != 0  # the job's account is not alice
    done = doctor(world)
    assert done.returncode == 1, done.stdout  # every connection to a job of another account fails
    assert rows(done.stdout)["login user"] == "FAIL"
    text = flat(done.stdout)
    assert f"ssh logs in to 1.0.job.condor as alice, not as your local user {me()}" in text
    assert f"fix: name the account your jobs run as (usually {me()}):" in text
    assert f"condor-job-ssh setup --user {me()}" in [line.strip() for line in done.stdout.splitlines()]
    assert not [line for line in done.stdout.splitlines() if len(line) > 80], done.stdout

    world.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(world.ssh_config), "--user", me(), "--yes"])
    done = doctor(world)
    assert rows(done.stdout)["login user"] == "OK" and f"as {me()} (setup --user)" in flat(done.stdout)
    assert world.ssh(f"{job}.job.condor", "true").returncode == 0
