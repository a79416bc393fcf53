"""A lost or replaced agent socket heals (issue 18 item 6): real ssh against the simulated pool.

A cleanup script (`rm -rf ~/.ssh/cjp/*`) or anything else that removes or replaces the socket ssh's
IdentityAgent names must not leave ssh at `Permission denied (publickey)`: the next connection works at
once, `doctor` looks at the socket ssh really uses, and `condor-job-ssh agent stop` ends the agent.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

from conftest import tool  # `world`: conftest's, on the simulated pool through both backends
from proxycmd import paths
from proxycmd.checkresult import FAIL, OK
from sshconfig.checks.agent import check_agent
from sshconfig.block.resolved import resolve_block

HOST = "{}.job.condor"


def _login(world, job: str) -> None:
    done = world.ssh(HOST.format(job), "echo", "in", check=False)
    assert (done.returncode, done.stdout) == (0, "in\n"), done.stderr


def _agent_pid(world) -> int:
    return world.agent_status()["pid"]


def test_removing_only_the_agent_socket_heals_on_the_next_connection(world):
    job = world.submit("sleep", "600")
    _login(world, job)
    pid = _agent_pid(world)
    os.unlink(paths.agent_socket(world.rundir))  # control.sock stays: the agent still answers there
    _login(world, job)  # at once: no wait for the agent's own housekeeping
    assert _agent_pid(world) == pid  # the same agent, listening on agent.sock again


def test_rm_rf_of_the_runtime_directory_contents_heals(world):
    job = world.submit("sleep", "600")
    _login(world, job)
    for entry in world.rundir.iterdir():  # what `rm -rf ~/.ssh/cjp/*` does
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    _login(world, job)
    _login(world, job)
    status = world.agent_status()
    st = os.lstat(paths.agent_socket(world.rundir))
    assert status["socket"] == [st.st_dev, st.st_ino]  # ssh's socket is the answering agent's


def test_a_foreign_socket_in_place_of_agent_sock_is_replaced(world):
    job = world.submit("sleep", "600")
    _login(world, job)
    impostor = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    agent_sock = paths.agent_socket(world.rundir)
    temp = agent_sock.with_name("impostor")
    impostor.bind(str(temp))
    impostor.listen(8)
    os.replace(temp, agent_sock)  # something else now listens where ssh looks for keys
    try:
        _login(world, job)
    finally:
        impostor.close()


def test_doctor_checks_the_socket_ssh_uses(world):
    job = world.submit("sleep", "600")
    _login(world, job)
    resolved = resolve_block(world.ssh_config, "job.condor")
    assert resolved.identity_agent == str(paths.agent_socket(world.rundir))
    ok = check_agent(world.rundir, resolved.identity_agent)
    assert ok.state == OK, ok
    elsewhere = world.base / "other.sock"  # IdentityAgent naming a socket that is not the agent's
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(str(elsewhere))
    other.listen(1)
    try:
        wrong = check_agent(world.rundir, str(elsewhere))
    finally:
        other.close()
    assert wrong.state == FAIL and "not the socket of the agent" in wrong.detail, wrong
    missing = check_agent(world.rundir, str(world.base / "gone.sock"))
    assert missing.state == FAIL and "is not there" in missing.detail, missing


def test_agent_stop(world):
    job = world.submit("sleep", "600")
    _login(world, job)
    pid = _agent_pid(world)
    cjs = [tool("condor-job-ssh"), "agent", "stop", "--ssh-config", str(world.ssh_config)]
    done = world.run(cjs)
    assert f"Stopped the key agent (pid {pid})" in done.stdout
    assert world.agent_status() is None and not paths.agent_socket(world.rundir).exists()
    again = world.run(cjs)
    assert again.returncode == 0 and "No key agent is running" in again.stdout
    _login(world, job)  # the next connection starts a fresh one
    assert _agent_pid(world) != pid


def test_agent_stop_without_a_runtime_directory_is_one_line(world, tmp_path):
    home = tmp_path / "home"  # a home of its own (no block, nothing under it): never the real user's agent
    home.mkdir()
    env = dict(world.env, HOME=str(home))
    done = subprocess.run([tool("condor-job-ssh"), "agent", "stop", "--ssh-config", str(tmp_path / "none")],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "No key agent is running" in done.stdout and not done.stderr
