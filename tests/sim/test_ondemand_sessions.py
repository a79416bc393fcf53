"""What a real starter does in every ssh session (docs/design-facts.md: "What a starter does in every session"), on the simulated pool, and how a profile
job lives through it: the first session of an interactive job SIGTERMs the job's program; the watchdog
survives that, is reused by a reconnect within its idle timeout, ends after it, and ends at once on
removal.  The same scenario through a laptop's hop is in tests/sim/test_ondemand_hop.py."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import tool, wait_for
from ports import free_port
from proxycmd.sim.client import SimPool

pytestmark = pytest.mark.e2e
SIM_ONLY = pytest.mark.world(backends=["sim"])  # the simulated pool alone: the profile tests look into its queue

IDLE_TIMEOUT = 8  # long enough for a reconnect 2 s after the last session, short enough to wait out
PROFILE = f"request_cpus = 1\nMY.CondorJobProxyIdleTimeout = {IDLE_TIMEOUT}\n"
MARGIN = 30  # the watchdog polls every second; generous for loaded CI (behaviour, not timing)


def write_profile(world, name: str, text: str) -> Path:
    path = Path(world.env["XDG_CONFIG_HOME"]) / "condor-job-proxy" / "profiles" / f"{name}.sub"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def job(world, job_id: str) -> dict:
    return next(j for j in SimPool(world.sim_root).jobs() if j["id"] == job_id)


def profile_jobs(world, name: str = "gpu"):
    return [j for j in SimPool(world.sim_root).jobs() if j.get("ad", {}).get("CondorJobProxyProfile") == f'"{name}"']


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


def finished(world, job_id: str) -> bool:
    """Completed (the sim keeps the job; a real queue forgets it: "gone")."""
    return world.job_status(job_id) in ("completed", "gone")


def submit_interactive(world, *cmd: str) -> str:
    """A running job with `MY.InteractiveJob = True` in its submit description, as condor_submit -interactive
    makes, on any backend; returns its id once its program runs."""
    if world.backend == "real":
        return world.submit(*cmd, extra="MY.InteractiveJob = True")
    from proxycmd import condorargs

    description = {"executable": cmd[0], "arguments": condorargs.quote(list(cmd[1:])), "MY.InteractiveJob": "True"}
    job_id = SimPool(world.sim_root).submit_description(description)["id"]
    assert wait_for(lambda: world.job_status(job_id) == "running")
    return job_id


def job_ad_text(pid: int) -> str:
    """The job ad file the starter wrote, found through the program's environment (_CONDOR_JOB_AD)."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    path = next(v.split(b"=", 1)[1] for v in raw if v.startswith(b"_CONDOR_JOB_AD="))
    return Path(path.decode()).read_text()


# ----- the starter's per-session steps (also on a real pool: any difference shows) ------------------------------
@pytest.mark.also_real
def test_first_session_of_an_interactive_job_sigterms_its_program_and_the_job_completes_with_the_session(world):
    job_id = submit_interactive(world, "sleep", "600")
    pid = world.job_pid(job_id)
    assert "InteractiveJob = true\n" in job_ad_text(pid)  # a ClassAd boolean, as the starter writes it
    session = subprocess.Popen(world.ssh_argv(f"{job_id}.job.condor", 'echo "pids=[$_CONDOR_JOB_PIDS]"; sleep 5'),
                               env=world.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert wait_for(lambda: not alive(pid), timeout=30)  # the shell setup's kill
    assert world.job_status(job_id) == "running"  # the job stays while its session lives
    out, err = session.communicate(timeout=60)
    assert session.returncode == 0 and out == b"pids=[]\n", err  # the list is emptied after the kill
    assert wait_for(lambda: finished(world, job_id), timeout=60)


@pytest.mark.also_real
def test_a_second_session_no_longer_kills_and_the_pid_list_holds_live_sessions_sshd(world):
    job_id = world.submit("sleep", "600")  # not interactive: the list reaches the command
    pid = world.job_pid(job_id)
    first = subprocess.Popen(world.ssh_argv(f"{job_id}.job.condor", "echo $_CONDOR_JOB_PIDS; sleep 8"),
                             env=world.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert first.stdout.readline().split() == [str(pid).encode()]
    second = world.ssh(f"{job_id}.job.condor", "echo $_CONDOR_JOB_PIDS").stdout.split()
    assert second[0] == str(pid) and len(second) == 2  # the program, then the first session's sshd
    assert os.readlink(f"/proc/{second[1]}/exe").endswith("sshd")
    first.kill()
    first.wait()


def test_once_the_program_is_gone_a_new_session_kills_the_one_word_list_a_live_sessions_sshd(world):
    """The quirk of the real script, kept: with the program gone, the list of a new session is the live
    session's sshd alone, one word, so `kill` ends that session (seen on a 25.14 starter: "Connection to
    condor-job.vm closed by remote host").  A profile job's watchdog never leaves the list one word."""
    job_id = submit_interactive(world, "sleep", "600")
    long = subprocess.Popen(world.ssh_argv(f"{job_id}.job.condor", "echo up; sleep 30; echo end"), env=world.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert long.stdout.readline() == b"up\n"  # this first session killed the program
    assert wait_for(lambda: not alive(world.job_pid(job_id)))
    assert world.ssh(f"{job_id}.job.condor", "echo second").stdout == "second\n"
    out, _ = long.communicate(timeout=60)
    assert long.returncode == 255 and out == b""
    assert wait_for(lambda: finished(world, job_id), timeout=20)


@pytest.mark.also_real
def test_the_command_is_evaluated_unquoted_in_the_jobs_directory_and_a_shell_is_greeted(world):
    job_id = world.submit("sleep", "600")
    # `eval ${SSH_ORIGINAL_COMMAND}` unquoted: the words are split before eval, so quoted runs of spaces
    # collapse, exactly as on a real starter
    assert world.ssh(f"{job_id}.job.condor", 'echo "a   b"; pwd').stdout == f"a b\n{world.sandbox(job_id)}\n"
    shell = world.run(world.ssh_argv("-T", f"{job_id}.job.condor"), input="echo in-shell\n", stdin=None)
    lines = shell.stdout.splitlines()
    assert lines[0].startswith("Welcome to slot") and lines[0].endswith("!"), shell.stdout
    assert lines[-1] == "in-shell"


# ----- a profile job lives through its sessions -----------------------------------------------------------------
@SIM_ONLY
def test_watchdog_survives_three_sessions_a_reconnect_reuses_the_job_and_it_ends_after_the_idle_timeout(world):
    write_profile(world, "gpu", PROFILE)
    first = world.ssh("gpu.job.condor", "echo one")
    assert first.stdout == "one\n" and "submitted job" in first.stderr
    [j] = profile_jobs(world)
    pid = j["pid"]
    for word in ("two", "three"):  # each starts with no other session alive: each SIGTERMs the program
        assert world.ssh("gpu.job.condor", f"echo {word}").stdout == f"{word}\n"
    assert alive(pid) and job(world, j["id"])["pid"] == pid and job(world, j["id"])["program_running"]
    sandbox = Path(j["sandbox"])
    assert wait_for(lambda: not list(sandbox.glob(".condor_ssh_to_job_*")), timeout=10)
    time.sleep(2)  # the last session has ended: a reconnect within the timeout finds the same job
    again = world.ssh("gpu.job.condor", "echo back")
    assert again.stdout == "back\n" and "submitted" not in again.stderr, again.stderr
    assert [x["id"] for x in profile_jobs(world)] == [j["id"]] and alive(pid)
    ended = time.monotonic()
    assert wait_for(lambda: job(world, j["id"])["status"] == "completed", timeout=IDLE_TIMEOUT + MARGIN)
    print(f"\nlast session end -> job left the queue: {time.monotonic() - ended:.1f} s "
          f"(idle timeout {IDLE_TIMEOUT} s)")
    assert job(world, j["id"])["exit_code"] == 0 and not alive(pid)
    later = world.ssh("gpu.job.condor", "echo new")
    assert later.stdout == "new\n" and "submitted job" in later.stderr
    assert len(profile_jobs(world)) == 2


@SIM_ONLY
def test_removing_a_profile_job_ends_its_program_at_once(world):
    write_profile(world, "gpu", PROFILE.replace(f"= {IDLE_TIMEOUT}", "= 600"))
    world.ssh("gpu.job.condor", "true")
    [j] = profile_jobs(world)
    assert alive(j["pid"])
    done = world.run([tool("condor-job-ssh"), "profile", "stop", "gpu"])
    assert "Removed job" in done.stdout
    assert wait_for(lambda: not alive(j["pid"]), timeout=MARGIN)
    # it exited on the job's kill_sig by itself (status 0), not by the SIGKILL after job_max_vacate_time
    assert wait_for(lambda: job(world, j["id"])["exit_code"] is not None, timeout=MARGIN)
    assert job(world, j["id"])["exit_code"] == 0


@SIM_ONLY
def test_holding_a_profile_job_ends_its_program_at_once(world):
    write_profile(world, "gpu", PROFILE.replace(f"= {IDLE_TIMEOUT}", "= 600"))
    world.ssh("gpu.job.condor", "true")
    [j] = profile_jobs(world)
    world.sim("hold", j["id"])
    assert wait_for(lambda: job(world, j["id"])["exit_code"] is not None, timeout=MARGIN)
    assert job(world, j["id"])["exit_code"] == 0 and not alive(j["pid"])


# ----- VS Code's sequence on a profile host -------------------------------------------------------------------
def vscode_window(side, host: str, payload: bytes) -> bytes:
    """One VS Code window (docs/design-facts.md: "VS Code's ssh invocations"): `ssh -T -D PORT HOST bash` with a script on its stdin and, while
    that runs, the server copied with scp beside it; the window closes when the script ends.  *side* is a
    World (the AP) or a Laptop.  Returns what the script printed."""
    source = side.base / "vscode-server.tar.gz"
    source.write_bytes(payload)
    shell = subprocess.Popen(side.ssh_argv("-T", "-D", f"127.0.0.1:{free_port()}", "-o", "ConnectTimeout=60",
                                           host, "bash"),
                             env=side.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    shell.stdin.write(b"echo vscode-up; while ! test -s server.tar.gz; do sleep 0.2; done; sleep 1\n")
    shell.stdin.flush()
    assert shell.stdout.readline() == b"vscode-up\n"
    copy = side.run(["scp", "-F", str(side.ssh_config), "-o", "ConnectTimeout=60", str(source),
                     f"{host}:server.tar.gz"], check=False)
    assert copy.returncode == 0, copy.stderr
    out, err = shell.communicate(b"cmp -s server.tar.gz server.tar.gz && echo vscode-ok; exit 0\n", timeout=120)
    assert shell.returncode == 0 and out == b"vscode-ok\n", err
    return out


VSCODE_TIMEOUT = 25  # above the 10 s between closing and reopening the window, with room on a loaded machine


@SIM_ONLY
def test_vscode_window_closed_and_reopened_10s_later_finds_the_same_job(world):
    write_profile(world, "gpu", f"MY.CondorJobProxyIdleTimeout = {VSCODE_TIMEOUT}\n")
    payload = os.urandom(1 << 20)
    vscode_window(world, "gpu.job.condor", payload)
    [j] = profile_jobs(world)
    assert (Path(j["sandbox"]) / "server.tar.gz").read_bytes() == payload
    time.sleep(10)  # the window closed; VS Code reconnects (a reload, a laptop waking up)
    vscode_window(world, "gpu.job.condor", payload)
    assert [x["id"] for x in profile_jobs(world)] == [j["id"]]
    assert job(world, j["id"])["status"] == "running" and alive(j["pid"])
