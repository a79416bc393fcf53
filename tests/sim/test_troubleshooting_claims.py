"""What docs/troubleshooting.md says of shared connections, checked with the real OpenSSH client on the
simulated pool (issue 28, item 6): a -L port outlives its command under ControlPersist, `-o ControlMaster=no`
does not stop that while a master exists, `-S none` and `ssh -O cancel` do; `ssh -f` stays in the foreground
over a master and goes to the background with `-S none`."""

from __future__ import annotations

import subprocess
import time

import pytest

from ports import free_port, listening

pytestmark = [pytest.mark.e2e, pytest.mark.world(backends=["sim"], multiplex=True)]


def test_a_forwarded_port_outlives_its_command_over_a_shared_connection(world):
    job, other = world.submit("sleep", "600"), world.submit("sleep", "600")
    host, port = f"{job}.job.condor", free_port()
    forward = f"{port}:127.0.0.1:9"
    world.ssh("-L", forward, host, "true")  # starts the master: the port is the master's
    assert listening(port)
    second = world.run(world.ssh_argv("-L", forward, f"{other}.job.condor", "true"), check=False)
    assert second.returncode == 0 and "Address already in use" in second.stderr, second.stderr
    world.ssh("-O", "cancel", "-L", forward, host)
    assert not listening(port)
    world.ssh("-o", "ControlMaster=no", "-L", forward, host, "true")  # joins the master all the same
    assert listening(port)
    world.ssh("-O", "cancel", "-L", forward, host)
    world.ssh("-S", "none", "-L", forward, host, "true")  # a connection of its own: the port goes with it
    assert not listening(port)


def _returns_after(world, *args: str) -> float:
    start = time.monotonic()
    subprocess.run(world.ssh_argv(*args), env=world.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60, check=True)
    return time.monotonic() - start


def test_ssh_f_stays_in_the_foreground_over_a_master(world):
    job = world.submit("sleep", "600")
    host = f"{job}.job.condor"
    world.ssh(host, "true")  # the master
    assert _returns_after(world, "-f", host, "sleep 6") >= 6
    assert _returns_after(world, "-S", "none", "-f", host, "sleep 6") < 5
