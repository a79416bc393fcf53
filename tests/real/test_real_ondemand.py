"""Jobs on demand on a real HTCondor pool (tests/support/realpool.py): the starter's first session of an interactive
job SIGTERMs the job's program (docs/design-facts.md: "What a starter does in every session"), so this is where the watchdog must prove it survives.  On
the AP (`setup --condor`) and from a laptop through a real sshd AP (tests/support/ap_fixture.py): the first ssh
submits, the watchdog's pid is the same after three sessions, a reconnect within the idle timeout finds
the same job, the job leaves the queue after the timeout, and `profile stop` removes it at once."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from conftest import tool, wait_for
from realworld import _environ, program_pid

pytestmark = [pytest.mark.e2e, pytest.mark.real]

IDLE_TIMEOUT = 20  # seconds: room for a reconnect 3 s after the last session, short enough to wait out
MARGIN = 60  # a real schedd notices the exit and the job leaves the queue within seconds; room for CI


def write_profile(config_home, name: str, text: str) -> None:
    path = config_home / "condor-job-proxy" / "profiles" / f"{name}.sub"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def submitted(stderr: str) -> str:
    found = re.search(r"submitted job (\d+\.\d+) from profile", stderr)
    assert found, stderr
    return found.group(1)


def profile_job_ids(pool, name: str = "gpu"):
    out = pool.condor("condor_q", "-json", "-attributes", "ClusterId,ProcId",
                      "-constraint", f'CondorJobProxyProfile == "{name}" && JobStatus == 2').stdout
    return [f"{ad['ClusterId']}.{ad['ProcId']}" for ad in (json.loads(out) if out.strip() else [])]


def live_through_sessions(side, pool, session_dirs):
    """The scenario on one side (the AP's world or a laptop): returns the job id, left running."""
    first = side.ssh("gpu.job.condor", "echo one; grep -i '^InteractiveJob' $_CONDOR_JOB_AD")
    assert first.stdout == "one\nInteractiveJob = true\n", first.stderr
    job = submitted(first.stderr)
    side.jobs[job] = side.base  # removed at the end of the test whatever happens
    pid = program_pid(job)
    assert pid is not None
    for word in ("two", "three"):  # each starts with no other session alive: each SIGTERMs the program
        assert side.ssh("gpu.job.condor", f"echo {word}").stdout == f"{word}\n"
    assert program_pid(job) == pid, "the job's program did not survive the sessions' SIGTERM"
    assert wait_for(lambda: session_dirs(job) == [], timeout=15)
    time.sleep(3)  # every session has ended; a reconnect within the idle timeout finds the same job
    again = side.ssh("gpu.job.condor", "echo back")
    assert again.stdout == "back\n" and "submitted" not in again.stderr, again.stderr
    assert program_pid(job) == pid and profile_job_ids(pool) == [job]
    return job


def test_profile_job_survives_its_sessions_is_reused_and_ends_after_the_idle_timeout(world):
    w = world
    write_profile(w.base / "config", "gpu", f"MY.CondorJobProxyIdleTimeout = {IDLE_TIMEOUT}\n")
    job = live_through_sessions(w, w.pool, w.session_dirs)
    w.pool.wait_status(job, "gone", timeout=IDLE_TIMEOUT + MARGIN)
    history = w.pool.condor("condor_history", job, "-af", "ExitCode", "-limit", "1").stdout.split()
    assert history == ["0"], history  # the watchdog ended itself, not a signal
    later = w.ssh("gpu.job.condor", "echo new")
    assert later.stdout == "new\n"
    w.jobs[submitted(later.stderr)] = w.base


def test_profile_stop_removes_a_real_profile_job_at_once(world):
    w = world
    write_profile(w.base / "config", "gpu", "MY.CondorJobProxyIdleTimeout = 600\n")
    done = w.ssh("gpu.job.condor", "true")
    job = submitted(done.stderr)
    w.jobs[job] = w.base
    assert program_pid(job) is not None
    stop = w.run([tool("condor-job-ssh"), "profile", "stop", "gpu"])
    assert stop.stdout.strip() == f"Removed job {job} (profile gpu)."
    # the watchdog exits on the job's kill_sig at once; far sooner than job_max_vacate_time's SIGKILL
    w.pool.wait_status(job, "gone", timeout=MARGIN)
    assert program_pid(job) is None


def _laptop_session_dirs(job: str):
    """The job's live session directories in its scratch directory (as RealWorld.session_dirs finds them)."""
    pid = program_pid(job)
    scratch = _environ(pid).get("_CONDOR_SCRATCH_DIR") if pid else None
    return sorted(Path(scratch).glob(".condor_ssh_to_job_*")) if scratch else []


@pytest.mark.world(via="ap")
def test_through_the_hop_a_real_profile_job_survives_is_reused_listed_and_stopped(world):
    write_profile(world.base / "config", "gpu", f"MY.CondorJobProxyIdleTimeout = {IDLE_TIMEOUT}\n")
    job = live_through_sessions(world, world.pool, _laptop_session_dirs)
    listed = world.run([tool("condor-job-ssh"), "profile", "list", "--ssh-config", str(world.ssh_config)]).stdout
    assert any(line.split()[:3] == ["gpu.job.condor", job, "running"] for line in listed.splitlines()), listed
    world.run([tool("condor-job-ssh"), "sync", "--ssh-config", str(world.ssh_config)])
    assert "Host gpu.job.condor" in world.ssh_config.read_text()
    stop = world.run([tool("condor-job-ssh"), "profile", "stop", "gpu", "--ssh-config", str(world.ssh_config)])
    assert stop.stdout.strip() == f"Removed job {job} (profile gpu)."
    world.pool.wait_status(job, "gone", timeout=MARGIN)
    assert program_pid(job) is None
