"""End to end with real ssh: a refusal is said exactly once, on a terminal (a pty through `script`) and
without one; a wait for an idle job says so on ssh's stderr even when ControlPersist gave the proxy
/dev/null (issue 21, items 1 and 2)."""

from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest

from conftest import tool

pytestmark = [pytest.mark.e2e, pytest.mark.world(multiplex=(True, False))]

NOT_QUEUED = "job 99999.0 is not in the queue"


def on_a_terminal(world, *ssh_args: str) -> subprocess.CompletedProcess:
    """ssh run by a person at a terminal: `script` gives it a pty as stdin, stdout, stderr and ctty."""
    if not shutil.which("script"):
        pytest.skip("util-linux `script` is not installed")
    command = " ".join(shlex.quote(word) for word in ["ssh", "-F", str(world.ssh_config), *ssh_args])
    return subprocess.run(["script", "-qec", command, "/dev/null"], env=world.env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


def no_terminal(world, *ssh_args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", "-F", str(world.ssh_config), *ssh_args], env=world.env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, start_new_session=True,
                          timeout=120)


def test_a_refusal_shows_once_on_a_terminal(world):
    done = on_a_terminal(world, "99999.0.job.condor", "true")
    assert done.returncode == 255, done.stdout
    assert done.stdout.count(NOT_QUEUED) == 1, done.stdout
    assert "Received disconnect from " in done.stdout, done.stdout  # ssh's own line is the one kept


def test_a_refusal_shows_once_without_a_terminal(world):
    done = no_terminal(world, "99999.0.job.condor", "true")
    assert done.returncode == 255, done.stderr
    assert done.stderr.count(NOT_QUEUED) == 1, done.stderr
    assert "Received disconnect from " in done.stderr, done.stderr


def test_ssh_q_hides_its_own_line_so_ours_is_shown(world):
    done = on_a_terminal(world, "-q", "99999.0.job.condor", "true")
    assert done.returncode == 255, done.stdout
    assert done.stdout.count(NOT_QUEUED) == 1, done.stdout
    assert f"condor-job-proxy: {NOT_QUEUED}" in done.stdout and "Received disconnect" not in done.stdout


def test_a_wait_without_a_terminal_says_so_once_on_ssh_stderr(world):
    """With ControlPersist ssh gives the proxy /dev/null; the line must still reach the script's stderr."""
    job = world.submit("sleep", "600", idle=True)
    world.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(world.ssh_config),
                  "--wait-timeout", "3", "--yes"])
    done = no_terminal(world, f"{job}.job.condor", "true")
    assert done.returncode == 255, done.stderr
    waiting = [line for line in done.stderr.splitlines() if "waiting for it to run (up to 0m03s)" in line]
    assert len(waiting) == 1 and f"job {job} is " in waiting[0], done.stderr
    assert done.stderr.count("gave up after") == 1, done.stderr


def test_a_wait_reaches_a_log_file_opened_for_appending(world, tmp_path):
    job = world.submit("sleep", "600", idle=True)
    log = tmp_path / "cron.log"
    log.write_text("earlier line\n")
    world.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(world.ssh_config),
                  "--wait-timeout", "2", "--yes"])
    argv = ["ssh", "-F", str(world.ssh_config), f"{job}.job.condor", "true"]
    with open(log, "a") as out:
        done = subprocess.run(argv, env=world.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=out, start_new_session=True, timeout=120)
    text = log.read_text()
    assert done.returncode == 255, text
    assert text.startswith("earlier line\n") and text.count("waiting for it to run (up to 0m02s)") == 1, text
    assert text.count("gave up after") == 1, text


@pytest.mark.world(multiplex=True)
def test_not_in_the_queue_names_the_running_jobs_and_the_command_that_lists_them(world):
    done = no_terminal(world, "99999.0.job.condor", "true")
    if world.backend == "sim":
        listing = f"condor-job-ssh sim list --root {world.sim_root}"
        assert f"{NOT_QUEUED}; you have no running jobs (list your jobs with: {listing})" in done.stderr, done.stderr
        first, second = world.submit("sleep", "600"), world.submit("sleep", "600")
        world.submit("sleep", "600", idle=True)
        done = no_terminal(world, "99999.0.job.condor", "true")
        assert f"{NOT_QUEUED}; your running jobs: {first}, {second} (list them with: {listing})" in done.stderr, \
            done.stderr
    else:  # the fake tool's world has no schedd the bindings could ask: only the command
        assert "is not in the queue (it may have finished or been removed); list your jobs with: condor_q" \
            in done.stderr, done.stderr
    assert done.returncode == 255
