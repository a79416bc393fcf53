"""`condor-job-ssh demo`: isolated from the user's own connections, and what it prints works as printed."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import private_tmp, tool

pytestmark = [pytest.mark.e2e, pytest.mark.world(backends=["sim"], multiplex=True)]


def demo(env, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([tool("condor-job-ssh"), "demo", "--size", "1", *args], env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=timeout)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_demo_never_uses_the_users_live_connection_to_their_job(world):
    job = world.submit("sleep", "600")
    assert job == "1.0"  # the same host name the demo's own job gets: 1.0.job.condor
    host = f"{job}.job.condor"
    world.ssh(host, "true")  # leaves a ControlMaster up (ControlPersist)
    assert world.run(world.ssh_argv("-O", "check", host), check=False).returncode == 0
    sandbox = world.sandbox(job)
    before = sorted(p.name for p in sandbox.iterdir())
    settings = Path(world.env["XDG_CONFIG_HOME"]) / "condor-job-proxy" / "config.toml"
    saved = settings.read_bytes()

    done = demo(world.env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all done; cleaned up" in done.stdout
    # the demo's ssh ran in the demo's own job, not in the user's
    pwd = re.search(r"\| (/\S+)", done.stdout).group(1)
    assert "/cjp-demo-" in pwd and str(sandbox) not in pwd, done.stdout
    # nothing of the demo's reached the user's job, and the user's shared connection is still up
    assert sorted(p.name for p in sandbox.iterdir()) == before
    assert not (sandbox / "blob.bin").exists() and not (sandbox / "tree").exists()
    assert world.run(world.ssh_argv("-O", "check", host), check=False).returncode == 0
    assert settings.read_bytes() == saved  # the user's settings are untouched


def test_keep_prints_commands_that_work_as_printed_without_our_bin_on_path():
    tmp_path = private_tmp("dk-")  # a home the product accepts (not under /tmp): its runtime dir lives there
    env = dict(os.environ, PATH="/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"))
    env.pop("XDG_RUNTIME_DIR", None)
    done = demo(env, "--keep")
    base = Path(re.search(r"condor-job-ssh demo in (\S+)", done.stdout).group(1))
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        try_line = re.search(r"^  (ssh -F .*)$", done.stdout, re.M).group(1)
        stop_line = re.search(r"^Stop it with: (.*)$", done.stdout, re.M).group(1)
        # the ssh command to try reaches the kept pool's job
        # where a shell cannot get a terminal (sim/ptycheck.py) the demo offers a command, not a shell
        command = try_line if try_line.endswith("'") else try_line + " 'echo $PWD'"
        tried = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, timeout=60)
        assert tried.returncode == 0 and tried.stdout.startswith(str(base)), tried.stderr
        pool_pid = int((base / "pool" / "pool.pid").read_text())
        from proxycmd.agent import client

        rundir = tmp_path / ".ssh" / "cjp" / (base / "runtime-dir").read_text().strip()
        agent_pid = client.status(rundir)["pid"]
        assert _alive(pool_pid) and _alive(agent_pid)
        # the stop command, exactly as printed, with our bin directory not on PATH
        stopped = subprocess.run(["sh", "-c", stop_line], env=env, capture_output=True, text=True,
                                 stdin=subprocess.DEVNULL, timeout=60)
        assert stopped.returncode == 0, (stop_line, stopped.stderr)
        assert not base.exists() and not rundir.exists()
        assert not (tmp_path / ".ssh").exists(), list((tmp_path / ".ssh").rglob("*"))  # no empty ~/.ssh/cjp left
        again = subprocess.run(["sh", "-c", stop_line], env=env, capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, timeout=60)
        assert (again.returncode, again.stderr) == (0, ""), again.stderr
        assert again.stdout == f"no demo in {base}: it was stopped and removed already\n"
        from conftest import wait_for

        assert wait_for(lambda: not _alive(pool_pid) and not _alive(agent_pid))
    finally:
        if base.exists():
            subprocess.run([tool("condor-job-ssh"), "demo", "--stop", str(base)], env=env, capture_output=True)


@pytest.mark.parametrize("args, said", [
    (["--size", "-1"], "--size wants a whole number of MiB from 1 to 4096, not -1"),
    (["--size", "0"], "--size wants a whole number of MiB from 1 to 4096, not 0"),
    (["--stop", "/tmp"], "/tmp is not a directory `condor-job-ssh demo --keep` made"),
])
def test_bad_input_gets_one_line(args, said):
    done = subprocess.run([tool("condor-job-ssh"), "demo", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)
    assert (done.returncode, done.stderr, done.stdout) == (2, f"condor-job-ssh: error: {said}\n", "")


def test_ctrl_c_during_the_demo_removes_everything_and_says_so():
    """A Ctrl-C (and another one while it cleans up) leaves no pool, agent or files behind."""
    import signal
    import time

    from conftest import wait_for
    from proxycmd.agent import client

    tmp_path = private_tmp("di-")
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_STATE_HOME=str(tmp_path / "state"), PYTHONUNBUFFERED="1")
    env.pop("XDG_RUNTIME_DIR", None)
    proc = subprocess.Popen([tool("condor-job-ssh"), "demo", "--size", "1"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = Path(re.search(r"condor-job-ssh demo in (\S+)", proc.stdout.readline()).group(1))
        seen = ""
        while "scp" not in seen:  # the pool, the agent and the shared connection are all up by now
            line = proc.stdout.readline()
            assert line, seen
            seen += line
        pool_pid = int((base / "pool" / "pool.pid").read_text())
        rundir = tmp_path / ".ssh" / "cjp" / (base / "runtime-dir").read_text().strip()
        agent_pid = client.status(rundir)["pid"]
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)  # impatient: a second one while it cleans up
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, out + err
    assert err.strip().splitlines()[-1] == ("condor-job-ssh: error: interrupted; the demo's pool, agent and files "
                                            "are removed"), err
    assert not base.exists() and not rundir.exists()
    assert wait_for(lambda: not _alive(pool_pid) and not _alive(agent_pid))
