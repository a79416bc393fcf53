"""Jobs on demand from a laptop (`setup --via ap`): the profile's job is looked up with condor_q -constraint
and submitted with condor_submit on the access point, a real sshd (tests/support/ap_fixture.py) in front of the
simulated pool, whose starter SIGTERMs an interactive job's program in its first session as a real one does.
The job survives its sessions, a reconnect within the idle timeout reuses it, it ends after the timeout and
at once on `profile stop`; `sync` and `profile list` see it; VS Code's sequence finds the same job."""

from __future__ import annotations

import os
import time

import pytest

from conftest import tool, wait_for
from proxycmd.sim.client import SimPool
from test_ondemand_sessions import MARGIN, VSCODE_TIMEOUT, alive, vscode_window

pytestmark = [pytest.mark.e2e, pytest.mark.world(via="ap")]

IDLE_TIMEOUT = 8


def write_profile(lap, name: str, text: str) -> None:
    path = lap.base / "config" / "condor-job-proxy" / "profiles" / f"{name}.sub"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def jobs(lap, name: str = "gpu"):
    return [j for j in SimPool(lap.sim_root).jobs() if j.get("ad", {}).get("CondorJobProxyProfile") == f'"{name}"']


def job(lap, job_id: str) -> dict:
    return next(j for j in SimPool(lap.sim_root).jobs() if j["id"] == job_id)


def cjs(lap, *args: str, check: bool = True):
    return lap.run([tool("condor-job-ssh"), *args], check=check)


def test_through_the_hop_a_profile_job_survives_is_reused_listed_and_ends_after_the_idle_timeout(world):
    write_profile(world, "gpu", f"request_cpus = 1\nMY.CondorJobProxyIdleTimeout = {IDLE_TIMEOUT}\n")
    first = world.ssh("gpu.job.condor", "echo one; grep -i '^InteractiveJob' $_CONDOR_JOB_AD")
    assert first.stdout == "one\nInteractiveJob = true\n", first.stderr
    assert "submitted job 1.0 from profile gpu" in first.stderr
    [j] = jobs(world)
    pid = j["pid"]
    for word in ("two", "three"):
        assert world.ssh("gpu.job.condor", f"echo {word}").stdout == f"{word}\n"
    assert alive(pid) and job(world, "1.0")["program_running"]

    synced = cjs(world, "sync", "--ssh-config", str(world.ssh_config))
    assert "Host gpu.job.condor" in world.ssh_config.read_text(), synced.stdout
    listed = cjs(world, "profile", "list", "--ssh-config", str(world.ssh_config)).stdout
    assert any(line.split()[:3] == ["gpu.job.condor", "1.0", "running"] for line in listed.splitlines()), listed

    assert wait_for(lambda: not world.session_dirs(), timeout=15)
    time.sleep(2)  # all sessions over; a reconnect within the timeout is the same job, with no submission
    again = world.ssh("gpu.job.condor", "echo back")
    assert again.stdout == "back\n" and "submitted" not in again.stderr, again.stderr
    assert [x["id"] for x in jobs(world)] == ["1.0"] and alive(pid)

    assert wait_for(lambda: job(world, "1.0")["status"] == "completed", timeout=IDLE_TIMEOUT + MARGIN)
    assert job(world, "1.0")["exit_code"] == 0
    listed = cjs(world, "profile", "list", "--ssh-config", str(world.ssh_config)).stdout
    assert any(line.split()[:3] == ["gpu.job.condor", "-", "no"] for line in listed.splitlines()), listed
    later = world.ssh("gpu.job.condor", "echo new")
    assert later.stdout == "new\n" and "submitted job 2.0 from profile gpu" in later.stderr


def test_profile_stop_through_the_hop_ends_the_job_at_once(world):
    write_profile(world, "gpu", "MY.CondorJobProxyIdleTimeout = 600\n")
    world.ssh("gpu.job.condor", "true")
    [j] = jobs(world)
    done = cjs(world, "profile", "stop", "gpu", "--ssh-config", str(world.ssh_config))
    assert done.stdout.strip() == f"Removed job {j['id']} (profile gpu)."
    assert wait_for(lambda: job(world, j["id"])["exit_code"] is not None, timeout=MARGIN)
    assert job(world, j["id"])["exit_code"] == 0 and not alive(j["pid"])  # its own exit on kill_sig
    assert "No job of profile gpu" in cjs(world, "profile", "stop", "gpu", "--ssh-config",
                                          str(world.ssh_config)).stdout


def test_vscode_window_through_the_hop_closed_and_reopened_10s_later_finds_the_same_job(world):
    write_profile(world, "gpu", f"MY.CondorJobProxyIdleTimeout = {VSCODE_TIMEOUT}\n")
    payload = os.urandom(1 << 20)
    vscode_window(world, "gpu.job.condor", payload)
    [j] = jobs(world)
    time.sleep(10)
    vscode_window(world, "gpu.job.condor", payload)
    assert [x["id"] for x in jobs(world)] == [j["id"]] and alive(j["pid"])
