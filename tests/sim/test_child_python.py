"""No Python we start imports from the directory the user stands in (issue 24, item 1).

A hostile `proxycmd/` package, `sitecustomize.py` and `usercustomize.py` are planted in a directory under
/tmp, and each start site of ours is used from there: `python -m` children (the simulated pool's daemon, the
key agent), and our console scripts run by us (`demo`) or by ssh (the ProxyCommand, the classic shim's
program).  What Python honours from the working directory, checked on 3.9 and 3.11: `-m` and `-c` put it
first on sys.path (packages and modules there are imported); sitecustomize and usercustomize are imported
only from sys.path as `site` sees it, i.e. from the working directory only through an empty or relative
PYTHONPATH entry (`PYTHONPATH=:`, as `export PYTHONPATH=$PYTHONPATH:/x` leaves it): so the in-process
start sites below are also tried with `PYTHONPATH=:`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import private_tmp, stop_agent, tool, user_env

pytestmark = [pytest.mark.e2e, pytest.mark.world(backends=["sim"])]

PLANTED = ("proxycmd/__init__.py", "proxycmd/sim/__init__.py", "proxycmd/sim/daemon.py",
           "proxycmd/agent/__init__.py", "proxycmd/agent/__main__.py", "proxycmd/cli.py",
           "sshconfig/__init__.py", "sshconfig/cli.py", "sitecustomize.py", "usercustomize.py")


@pytest.fixture
def hostile():
    """(a directory under /tmp with the planted code, the directory where what ran leaves its marks)."""
    where = Path(tempfile.mkdtemp(prefix="cjp-cwd-", dir="/tmp"))
    marks = where / "marks"
    marks.mkdir()
    for name in PLANTED:
        path = where / "plant" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("import os, sys\n"
                        f"open(os.path.join({str(marks)!r}, '{name.replace('/', '_')}.%d' % os.getpid()), 'w')"
                        ".write(' '.join(sys.argv))\n")
    yield where / "plant", marks
    shutil.rmtree(where, ignore_errors=True)


def ran(marks: Path) -> list:
    return sorted(f"{p.name}: {p.read_text()}" for p in marks.iterdir())


def test_sim_start_from_a_hostile_directory_runs_none_of_it(hostile):
    plant, marks = hostile
    base = private_tmp("cw-")
    _home, env = user_env(base)
    try:
        done = subprocess.run([tool("condor-job-ssh"), "sim", "start", "--root", str(base / "pool")], cwd=plant,
                              env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert ran(marks) == [] and done.returncode == 0, done.stderr
        job = subprocess.run([tool("condor-job-ssh"), "sim", "submit", "--root", str(base / "pool"), "--", "sleep",
                              "60"], env=env, capture_output=True, text=True, timeout=60, cwd=plant)
        assert job.returncode == 0, job.stderr
        assert ran(marks) == []
    finally:
        subprocess.run([tool("condor-job-ssh"), "sim", "stop", "--root", str(base / "pool")], env=env,
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("pythonpath", [None, ":"])
def test_the_pool_daemon_started_in_process_ignores_the_working_directory(hostile, monkeypatch, pythonpath):
    """The start site itself, called from a process whose own imports are settled (as `demo`, tests and
    `setup --sim` call it), with the working directory and PYTHONPATH pointing at the planted code."""
    from proxycmd.sim.client import SimPool

    plant, marks = hostile
    base = private_tmp("cw-")
    monkeypatch.chdir(plant)
    if pythonpath is not None:
        monkeypatch.setenv("PYTHONPATH", pythonpath)
    pool = SimPool(base / "pool")
    try:
        try:
            pool.start()
        finally:
            assert ran(marks) == []
        assert pool.running()
    finally:
        pool.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("pythonpath", [None, ":", "the planted directory"])
def test_the_agent_started_in_process_ignores_the_working_directory(hostile, monkeypatch, pythonpath):
    """Also with PYTHONPATH naming the planted directory itself, as a directory someone else controls:
    the agent runs isolated (pystart), so it reads no PYTHONPATH at all."""
    from proxycmd import safefs
    from proxycmd.agent import client

    plant, marks = hostile
    base = private_tmp("ca-")
    rundir = safefs.make_private_dir(base / "run")
    monkeypatch.chdir(plant)
    if pythonpath is not None:
        monkeypatch.setenv("PYTHONPATH", str(plant) if pythonpath == "the planted directory" else pythonpath)
    try:
        client.ensure_agent(rundir)
        assert client.status(rundir)["pid"]
        assert ran(marks) == []
    finally:
        stop_agent(rundir)
        shutil.rmtree(base, ignore_errors=True)


def test_demo_from_a_hostile_directory_runs_none_of_it(hostile):
    plant, marks = hostile
    base = private_tmp("d-")  # short: the demo's runtime dir lives under this HOME
    env = dict(os.environ, HOME=str(base), XDG_CONFIG_HOME=str(base / "config"), XDG_STATE_HOME=str(base / "state"))
    env.pop("XDG_RUNTIME_DIR", None)
    done = subprocess.run([tool("condor-job-ssh"), "demo", "--size", "1"], cwd=plant, env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=180)
    shutil.rmtree(base, ignore_errors=True)
    assert ran(marks) == []
    assert "all done; cleaned up" in done.stdout, done.stdout + done.stderr


def test_ssh_and_the_classic_shim_from_a_hostile_directory_run_none_of_it(hostile, world):
    """Our console scripts as ssh starts them: the ProxyCommand (setup's block) and the classic shim's program."""
    plant, marks = hostile
    job = world.submit("sleep", "600")
    done = world.run(world.ssh_argv(f"{job}.job.condor", "echo", "hi"), cwd=plant)
    assert done.stdout == "hi\n"
    shim = world.run([tool("condor-ssh-to-job"), job, "echo", "there"], cwd=plant)
    assert shim.stdout.endswith("there\n"), shim.stdout
    assert ran(marks) == []


def test_our_console_scripts_are_never_found_in_the_working_directory(hostile, monkeypatch):
    """Where no script of ours is beside this Python, PATH is searched: never its empty or relative entries
    (`setup` writes the path it finds into the block, and the classic shim runs it)."""
    from proxycmd import ourcommands

    plant, _marks = hostile
    for name in ("condor-job-proxy", "condor-job-ssh"):
        script = plant / name
        script.write_text("#!/bin/sh\ntouch planted\n")
        script.chmod(0o755)
    monkeypatch.chdir(plant)
    monkeypatch.setattr("sys.executable", "/nonexistent/bin/python3")
    for path in ("", ":/usr/bin", ".:/usr/bin", "bin/..:/usr/bin"):
        monkeypatch.setenv("PATH", path)
        assert ourcommands.console_script("condor-job-proxy") is None
        assert ourcommands.command_word("condor-job-ssh") == "condor-job-ssh"
