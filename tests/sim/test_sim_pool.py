"""The simulated pool's queue: ids, states and refusals as a real pool gives them."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from proxycmd.errors import SessionRefused
from proxycmd.sim.client import PoolError, SimPool


@pytest.fixture
def pool():
    root = Path(tempfile.mkdtemp(prefix="cjp-sim-", dir="/tmp"))  # short: the pool's socket lives in it
    sim = SimPool(root)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_job_ids_are_not_reused_after_a_restart(pool):
    assert pool.submit(["sleep", "60"])["id"] == "1.0"
    pool.stop()
    pool.start()
    assert pool.submit(["sleep", "60"])["id"] == "2.0"


def test_states_and_refusals(pool):
    job = pool.submit(["sleep", "60"], idle=True)
    with pytest.raises(SessionRefused) as idle:
        pool.open_session(job["cluster"], 0)
    assert idle.value.retryable and idle.value.status == "idle"
    assert pool.change("release", job["cluster"])["status"] == "running"
    assert pool.change("hold", job["cluster"], reason="out of disk")["status"] == "held"
    with pytest.raises(SessionRefused) as held:
        pool.open_session(job["cluster"], 0)
    assert not held.value.retryable and str(held.value) == f"job {job['id']} is held: out of disk"
    assert pool.change("rm", job["cluster"])["status"] == "removed"
    with pytest.raises(PoolError):
        pool.change("release", job["cluster"])


def test_a_session_is_a_tcp_connection_to_sshd_with_nagle_off(pool):
    job = pool.submit(["sleep", "60"])
    reply, sock = pool.open_session(job["cluster"], 0)
    with sock:
        assert sock.family == 2 and sock.getsockopt(6, 1) == 1  # AF_INET, IPPROTO_TCP/TCP_NODELAY
        assert sock.recv(8) == b"SSH-2.0-"
    assert reply["host_key"].startswith("ssh-rsa ") and "PRIVATE KEY" in reply["private_key"]
    assert Path(reply["directory"]).name == ".condor_ssh_to_job_1"
