"""`condor-job-ssh remove` stops what the block started (issue 28, item 5): the shared connections
(ControlMaster) and this host's key agent; a connection that still carries a session is named, with how to
end it, and its session goes on."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from conftest import tool, wait_for

# A block sharing one connection per job (ControlMaster auto, ControlPersist), on a real pool too.
pytestmark = [pytest.mark.e2e, pytest.mark.also_real, pytest.mark.world(multiplex=True)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not open(f"/proc/{pid}/stat").read().split(") ", 1)[1].startswith("Z")


def test_remove_stops_the_shared_connections_and_the_agent(world):
    from sshconfig.stopconns import master_pids, master_sockets

    job = world.submit("sleep", "600")
    world.ssh(f"{job}.job.condor", "true")
    sockets, masters = master_sockets(world.rundir), master_pids(world.rundir)
    agent = world.agent_status()
    assert len(sockets) == 1 and len(masters) == 1 and agent, (sockets, masters, agent)
    marker = world.rundir / "one-host"  # the literal-paths mode's marker (a local file system: setup's choice)
    assert marker.exists()
    done = world.run([tool("condor-job-ssh"), "remove", "--ssh-config", str(world.ssh_config), "--yes"])
    assert not marker.exists()
    assert "Stopped 1 shared connection (ControlMaster)" in done.stdout, done.stdout
    assert f"Stopped the key agent (pid {agent['pid']})." in done.stdout, done.stdout
    assert master_sockets(world.rundir) == [] and master_pids(world.rundir) == []
    assert not any(_alive(pid) for pid in masters)
    assert wait_for(lambda: not _alive(agent["pid"]), timeout=5) and world.agent_status() is None


def test_a_shared_connection_with_an_open_session_is_named_and_its_session_goes_on(world):
    from sshconfig.stopconns import master_pids, master_sockets

    job = world.submit("sleep", "600")
    world.ssh(f"{job}.job.condor", "true")
    session = subprocess.Popen(world.ssh_argv(f"{job}.job.condor", "sleep 10; echo still-here"), env=world.env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        masters = master_pids(world.rundir)
        done = world.run([tool("condor-job-ssh"), "remove", "--ssh-config", str(world.ssh_config), "--yes"])
        pids = " ".join(map(str, masters))
        assert f"still carries open sessions (pid {pids})" in done.stdout and f"kill {pids}" in done.stdout, done.stdout
        assert master_sockets(world.rundir) == []  # no new session joins it
        out, err = session.communicate(timeout=30)
        assert session.returncode == 0 and "still-here" in out, err
        assert wait_for(lambda: master_pids(world.rundir) == [], timeout=10)  # it ended with its last session
    finally:
        if session.poll() is None:
            session.kill()
