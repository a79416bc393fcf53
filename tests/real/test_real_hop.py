"""The laptop path on a real pool: a laptop with no HTCondor tool, `setup --via ap`, and an access point that
is a real sshd on a loopback port whose sessions find a real HTCondor personal pool (tests/support/realpool.py)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from conftest import tool
from realworld import program_pid
from test_e2e import _make_tree, sha256
from test_hop_e2e import assert_nothing_left, check_the_ap_relay, proxy_line

pytestmark = [pytest.mark.e2e, pytest.mark.real, pytest.mark.world(via="ap", scope="module")]

HOST = "{}.job.condor"


@pytest.fixture(autouse=True)
def _remove_jobs_after_each_test(world):
    yield
    for job in list(world.jobs):
        world.pool.condor("condor_rm", job, check=False)


def test_remote_command_exit_status_and_job_environment(world):
    job = world.submit("sleep", "600")
    done = world.ssh(HOST.format(job), "echo", "$_CONDOR_JOB_PIDS", "$(pwd)", check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(program_pid(job)), str(world.jobs[job])]
    assert world.ssh(HOST.format(job), "exit 7", check=False).returncode == 7
    assert_nothing_left(world)


def test_scp_and_rsync_both_ways(world, tmp_path):
    job = world.submit("sleep", "600")
    src = tmp_path / "random.bin"
    src.write_bytes(os.urandom(16 << 20))
    world.run(["scp", "-F", str(world.ssh_config), str(src), f"{HOST.format(job)}:uploaded.bin"])
    assert sha256(world.jobs[job] / "uploaded.bin") == sha256(src)
    back = tmp_path / "back.bin"
    world.run(["scp", "-F", str(world.ssh_config), f"{HOST.format(job)}:uploaded.bin", str(back)])
    assert sha256(back) == sha256(src)
    tree = tmp_path / "tree"
    files = _make_tree(tree)
    rsh = f"ssh -F {world.ssh_config}"
    world.run(["rsync", "-a", "-e", rsh, f"{tree}/", f"{HOST.format(job)}:tree/"])
    for rel, data in files.items():
        assert (world.jobs[job] / "tree" / rel).read_bytes() == data
    world.run(["rsync", "-a", "-e", rsh, f"{HOST.format(job)}:tree/", f"{tmp_path / 'again'}/"])
    for rel, data in files.items():
        assert (tmp_path / "again" / rel).read_bytes() == data
    assert_nothing_left(world)


@pytest.mark.parametrize("ap_python, relay", [(None, "python"), ("", "condor_ssh_to_job")])
def test_the_ap_relays_with_its_own_python_else_with_condor_ssh_to_jobs(world, tmp_path, ap_python, relay):
    """On the real pool: the AP's /usr/bin/python3 relays the session, else HTCondor's own -proxy relay; every
    byte arrives both ways, and the end of the input reaches the job before it answers (a half-close)."""
    check_the_ap_relay(world, tmp_path, ap_python, relay, mib=32, job_dir=lambda job: world.jobs[job], timeout=180)


def test_sessions_at_once_through_the_hop(world):
    jobs = [world.submit("sleep", "600") for _ in range(2)]
    procs = [subprocess.Popen(world.ssh_argv(HOST.format(jobs[i % 2]), "echo", f"ok-{i}", "$_CONDOR_JOB_PIDS"),
                              env=world.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(6)]
    for i, proc in enumerate(procs):
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        assert out.split()[:2] == [f"ok-{i}", str(program_pid(jobs[i % 2]))]
    assert_nothing_left(world)


def test_held_and_unknown_jobs_are_one_sentence_naming_the_ap(world):
    held = world.submit("sleep", "600")
    world.pool.hold(held, "exceeded its memory request")
    world.pool.wait_status(held, "held")
    done = world.ssh(HOST.format(held), "true", check=False)
    assert done.returncode == 255
    line = proxy_line(done.stderr)
    assert line.startswith(f"condor-job-proxy: job {held} is held: exceeded its memory request"), done.stderr
    assert f"condor_release {held}" in line  # the command that releases it, run on the AP
    done = world.ssh(HOST.format("99.0"), "true", check=False)
    assert done.returncode == 255
    assert proxy_line(done.stderr).startswith("condor-job-proxy: job 99.0 is not in the queue"), done.stderr
    assert_nothing_left(world)


def test_idle_job_is_waited_for_then_reached(world):
    job = world.submit("sleep", "600", idle=True)
    ssh = subprocess.Popen(world.ssh_argv(HOST.format(job), "echo", "connected"), env=world.env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    assert ssh.poll() is None, "ssh should still be waiting for the idle job"
    world.pool.qedit(job, "CJPHeldBack", "false")
    out, err = ssh.communicate(timeout=120)
    assert ssh.returncode == 0, err
    assert out.strip() == "connected"
    assert f"condor-job-proxy: job {job} is idle" in err


def test_sync_lists_the_users_running_jobs_through_the_hop(world):
    job = world.submit("sleep", "600")
    world.run([tool("condor-job-ssh"), "sync", "--ssh-config", str(world.ssh_config)])
    block = world.ssh_config.read_text()
    assert f"Host {HOST.format(job)}\n" in block
    running = world.pool.condor("condor_q", "-constraint", "JobStatus == 2", "-af", "ClusterId", "ProcId").stdout
    listed = {line[5:] for line in block.splitlines() if line.startswith("Host ") and line.endswith(".job.condor")}
    assert listed == {HOST.format(".".join(row.split())) for row in running.splitlines() if row.strip()}
    assert world.ssh(HOST.format(job), "true", check=False).returncode == 0
