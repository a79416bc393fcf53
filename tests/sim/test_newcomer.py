"""What a new user trips over (issue 21): sim commands find the pool setup saved, setup warns about what
it can see, help and small edges."""

from __future__ import annotations

import subprocess

import pytest

from conftest import flat_table, tool

pytestmark = pytest.mark.world(backends=["sim"], multiplex=True)


def cjs(world, *args, check=False, **kw):
    return world.run([tool("condor-job-ssh"), *args], check=check, **kw)


@pytest.mark.e2e
def test_sim_commands_use_the_root_setup_saved(world):
    job = cjs(world, "sim", "submit", "--", "sleep", "600", check=True).stdout.strip()  # no --root
    listed = cjs(world, "sim", "list", check=True).stdout
    assert job in listed and "running" in listed
    assert job in cjs(world, "sim", "list", "--root", str(world.sim_root), check=True).stdout
    assert f"simulated pool already running in {world.sim_root}" in cjs(world, "sim", "start").stdout
    held = cjs(world, "sim", "hold", job)
    assert held.returncode == 0 and f"job {job} is held" in held.stdout


@pytest.mark.e2e
def test_setup_warns_about_a_user_line_below_the_block_and_names_a_job_to_try(world):
    job = world.submit("sleep", "600")
    with open(world.ssh_config, "a") as f:
        f.write("\nHost *\n    User alice\n")
    done = cjs(world, "setup", "--ssh-config", str(world.ssh_config), "--no-multiplex", "--yes")
    assert done.returncode == 0, done.stderr
    assert "ssh logs in to 1.0.job.condor as alice" in done.stderr, done.stderr
    assert "condor-job-ssh setup --user" in done.stderr, done.stderr
    assert f"Try `ssh {job}.job.condor`;" in done.stdout, done.stdout
    again = cjs(world, "setup", "--ssh-config", str(world.ssh_config), "--yes")  # no changes: still warned
    assert "no changes" in again.stdout and "as alice" in again.stderr
    import os
    import pwd

    fixed = cjs(world, "setup", "--ssh-config", str(world.ssh_config), "--user",
                pwd.getpwuid(os.getuid()).pw_name, "--yes")
    assert fixed.returncode == 0 and "warning" not in fixed.stderr, fixed.stderr


@pytest.mark.e2e
def test_setup_condor_without_condor_ssh_to_job_says_so(world, tmp_path):
    env = dict(world.env, PATH="/usr/bin:/bin", CONDOR_CONFIG="/nonexistent")
    env.pop("CONDOR_SSH_TO_JOB", None)
    done = world.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(tmp_path / "cfg"), "--condor", "--yes"],
                      check=False, env=env)
    assert done.returncode == 0, done.stderr
    assert "cannot find HTCondor's condor_ssh_to_job" in done.stderr and "ssh to job hosts fails" in done.stderr
    assert "Try `ssh CLUSTER.PROC.job.condor` with one of your job ids" in done.stdout


def test_the_dialer_ships_inside_the_package_and_not_as_a_command_on_path():
    """pipx links every installed script into ~/.local/bin; the dialer is no user command."""
    from pathlib import Path

    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib
    from proxycmd import dialer

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert "script-files" not in project.get("tool", {}).get("setuptools", {})
    assert dialer.NAME in project["tool"]["setuptools"]["package-data"]["proxycmd.dialer"]
    packaged = Path(dialer.__file__).resolve().parent / dialer.NAME
    assert packaged.stat().st_mode & 0o111 and dialer.find() == str(packaged)


PROBE = r"""
import grp, json, os
from proxycmd.sim.ptycheck import pty_problem
leader, follower = os.openpty()
try:
    os.chown(os.ttyname(follower), os.getuid(), grp.getgrnam("tty").gr_gid)
    chown_ok = True
except OSError:
    chown_ok = False
print(json.dumps({"chown_ok": chown_ok, "problem": pty_problem()}))
"""


def _as_user_cmd(user: str):
    import os
    import shutil
    from pathlib import Path

    here = str(Path(__file__).resolve().parents[2])
    if os.getuid() != 0:
        return ["/usr/bin/env", f"PYTHONPATH={here}", "/usr/bin/python3", "-c", PROBE]
    if not shutil.which("runuser"):
        pytest.skip("runuser is not installed")
    check = subprocess.run(["runuser", "-u", user, "--", "test", "-r", f"{here}/proxycmd/sim/ptycheck.py"])
    if check.returncode != 0:
        pytest.skip(f"{user} cannot read this clone")
    return ["runuser", "-u", user, "--", "/usr/bin/env", f"PYTHONPATH={here}", "/usr/bin/python3", "-c", PROBE]


def test_pty_problem_is_said_exactly_when_an_sshd_running_as_the_user_could_not_chown_its_terminal():
    """On this machine (devpts without gid=5) a non-root user's sshd cannot; root's always can."""
    import json

    done = subprocess.run(_as_user_cmd("nobody"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert (seen["problem"] is None) == seen["chown_ok"], seen
    if seen["problem"]:
        assert "interactive shells fail on this machine" in seen["problem"] and "gid=5" in seen["problem"]


@pytest.mark.e2e
def test_an_interactive_shell_that_cannot_get_a_terminal_is_told_why(world):
    import shutil

    from proxycmd.sim.ptycheck import pty_problem

    problem = pty_problem()
    if problem is None:
        pytest.skip("terminals work for this user here (root, or devpts with gid=5)")
    if not shutil.which("script"):
        pytest.skip("util-linux `script` is not installed")
    job = world.submit("sleep", "600")
    done = subprocess.run(["script", "-qec", f"ssh -F {world.ssh_config} -o ControlMaster=no {job}.job.condor",
                           "/dev/null"], env=world.env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.count("interactive shells fail on this machine") == 1, done.stdout
    assert "doctor" not in done.stdout
    doctor = cjs(world, "doctor", "--ssh-config", str(world.ssh_config))
    assert "WARN" in doctor.stdout and "interactive shells fail" in flat_table(doctor.stdout)
