"""Jobs on demand, end to end on the simulated pool with the real ssh and scp: `ssh gpu.job.condor`
submits a job from profiles/gpu.sub, waits for it, connects, reuses it, and the job's watchdog ends it
once no session has existed for its idle timeout."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import flat_table, proxy_said, tool, wait_for
from ports import free_port

IDLE_DELAY = "2"  # seconds the pool keeps a new job idle: the proxy must wait, with progress
IDLE_TIMEOUT = 3  # seconds without a session before the job ends itself
MARGIN = 20  # the watchdog polls every second; the pool notices the exit at once; generous for loaded CI
PROFILE = f"""\
# a test profile
request_cpus = 2
request_memory = 1GB
+ProjectName = "tests"
MY.CondorJobProxyIdleTimeout = 600
"""
SHORT = PROFILE.replace("IdleTimeout = 600", f"IdleTimeout = {IDLE_TIMEOUT}")  # the idle-timeout test only:
# anywhere else a short timeout could end the job between two steps of a test on a loaded machine

# The simulated pool only (the `world` of tests/sim is both backends), with an idle delay, as matchmaking takes
# a while on a real pool.
pytestmark = [pytest.mark.e2e, pytest.mark.world(backends=["sim"], pool_args=("--idle-delay", IDLE_DELAY))]


def profiles_dir(world) -> Path:
    path = Path(world.env["XDG_CONFIG_HOME"]) / "condor-job-proxy" / "profiles"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_profile(world, name: str, text: str) -> Path:
    path = profiles_dir(world) / f"{name}.sub"
    path.write_text(text)
    return path


def profile_jobs(world, name: str = "gpu"):
    from proxycmd.sim.client import SimPool

    return [job for job in SimPool(world.sim_root).jobs() if job.get("ad", {}).get("CondorJobProxyProfile") == f'"{name}"']


def live(world, name: str = "gpu"):
    return [job for job in profile_jobs(world, name) if job["status"] in ("idle", "running")]


def proxy_lines(stderr: str):
    return proxy_said(stderr)


def test_first_ssh_submits_waits_and_connects_then_the_job_is_reused(world):
    write_profile(world, "gpu", PROFILE)
    first = world.ssh("gpu.job.condor", "echo ok; cat $_CONDOR_JOB_AD")
    assert first.stdout.startswith("ok\n")
    said = "\n".join(proxy_lines(first.stderr))
    assert "submitted job 1.0 from profile gpu" in said and "waiting for it to run" in said, first.stderr
    assert "CondorJobProxyProfile = \"gpu\"" in first.stdout and "CondorJobProxyIdleTimeout = 600" in first.stdout
    [job] = profile_jobs(world)
    assert job["status"] == "running"
    assert job["submit"]["request_cpus"] == "2" and job["submit"]["request_memory"] == "1GB"
    assert job["ad"]["ProjectName"] == '"tests"' and job["ad"]["InteractiveJob"] == "True"
    assert job["cmd"].startswith("/bin/sh -c ")

    second = world.ssh("GPU.job.condor", "echo again")
    assert second.stdout == "again\n"
    assert not any("submitted" in line for line in proxy_lines(second.stderr)), second.stderr
    assert [j["id"] for j in profile_jobs(world)] == [job["id"]]


def test_simultaneous_first_connections_make_one_job(world):
    write_profile(world, "gpu", PROFILE)
    results = [None] * 4

    def run(i):
        results[i] = world.ssh("gpu.job.condor", f"echo {i}", check=False)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, done in enumerate(results):
        assert done.returncode == 0 and done.stdout == f"{i}\n", (done.returncode, done.stderr)
    assert len(profile_jobs(world)) == 1
    submitted = sum("submitted job" in done.stderr for done in results)
    assert submitted == 1


def test_job_leaves_the_queue_once_no_session_existed_for_the_idle_timeout(world):
    write_profile(world, "gpu", SHORT)
    # a session that lasts longer than the idle timeout keeps the job (the pool ends a finished job's sessions)
    assert world.ssh("gpu.job.condor", f"sleep {IDLE_TIMEOUT + 3}; echo still").stdout == "still\n"
    [job] = profile_jobs(world)
    sandbox = Path(job["sandbox"])
    assert wait_for(lambda: profile_jobs(world)[0]["status"] == "completed", timeout=IDLE_TIMEOUT + MARGIN)
    assert not list(sandbox.glob(".condor_ssh_to_job_*"))
    assert live(world) == []
    # the next ssh submits a new job
    again = world.ssh("gpu.job.condor", "echo back")
    assert again.stdout == "back\n" and "submitted job 2.0" in again.stderr
    assert [j["id"] for j in profile_jobs(world)] == ["1.0", "2.0"]


def test_scp_to_a_profile_host(world, tmp_path):
    write_profile(world, "gpu", PROFILE)
    data = bytes(range(256)) * 4096
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    world.run(["scp", "-F", str(world.ssh_config), str(source), "gpu.job.condor:copy.bin"])
    back = tmp_path / "back.bin"
    world.run(["scp", "-F", str(world.ssh_config), "gpu.job.condor:copy.bin", str(back)])
    assert back.read_bytes() == data
    assert len(profile_jobs(world)) == 1


def test_profile_stop_removes_the_job(world):
    write_profile(world, "gpu", PROFILE)
    world.ssh("gpu.job.condor", "true")
    listed = world.run([tool("condor-job-ssh"), "profile", "list"]).stdout
    assert "gpu.job.condor" in listed and "1.0" in listed and "running" in listed
    done = world.run([tool("condor-job-ssh"), "profile", "stop", "gpu"])
    assert "Removed job 1.0 (profile gpu)" in done.stdout
    assert [j["status"] for j in profile_jobs(world)] == ["removed"]
    again = world.run([tool("condor-job-ssh"), "profile", "stop", "gpu"])
    assert "No job of profile gpu" in again.stdout
    typo = world.run([tool("condor-job-ssh"), "profile", "stop", "gpuu"], check=False)
    assert typo.returncode == 1 and typo.stdout == "", typo.stdout
    assert typo.stderr == "condor-job-ssh: error: no profile 'gpuu' and no job of one (profiles: gpu)\n", typo.stderr


@pytest.mark.parametrize("text, expected", [
    ("request_cpus = 1\nexecutable = /bin/evil\n", ":2: a profile must not set executable"),
    ("request_cpus = 1\n\narguments = \"x\"\n", ":3: a profile must not set arguments"),
    ("request_cpus 2\n", ":1: HTCondor's submit parser refuses the profile"),
    ("queue 4\n", ":1: a profile must not have a queue statement"),
    ("shell = sleep 1000\n", ":1: a profile must not set shell"),
])
def test_bad_profiles_give_one_line_naming_file_and_line(world, text, expected):
    path = write_profile(world, "bad", text)
    done = world.ssh("bad.job.condor", "true", check=False)
    assert done.returncode == 255
    [line] = proxy_lines(done.stderr)
    assert line.startswith(f"condor-job-proxy: {path}{expected}"), done.stderr
    assert profile_jobs(world, "bad") == []


def test_unknown_profile_gives_one_line(world):
    write_profile(world, "gpu", PROFILE)
    done = world.ssh("gpux.job.condor", "true", check=False)
    assert done.returncode == 255
    [line] = proxy_lines(done.stderr)
    assert "no profile 'gpux'" in line and "condor-job-ssh profile new gpux" in line and "(profiles: gpu)" in line


def test_sync_lists_profiles_and_vscode_flow_reaches_the_profile_job(world, tmp_path):
    """VS Code lists the Host entry `sync` wrote, then opens `ssh -T -D PORT -o ConnectTimeout=15 HOST bash`
    and, at the same time, copies its server with scp (docs/design-facts.md: "VS Code's ssh invocations"): one job serves both."""
    write_profile(world, "gpu", PROFILE)
    world.run([tool("condor-job-ssh"), "sync", "--ssh-config", str(world.ssh_config)])
    assert "Host gpu.job.condor\n    # profile: gpu" in world.ssh_config.read_text()
    server = tmp_path / "vscode-server.tar.gz"
    server.write_bytes(os.urandom(1 << 20))
    shell = subprocess.Popen(world.ssh_argv("-T", "-D", f"127.0.0.1:{free_port()}", "-o", "ConnectTimeout=15",
                                            "gpu.job.condor", "bash"),
                             env=world.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    copy = subprocess.Popen(["scp", "-F", str(world.ssh_config), "-o", "ConnectTimeout=15", str(server),
                             "gpu.job.condor:server.tar.gz"], env=world.env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = shell.communicate(b"echo vscode-ok; exit 0\n", timeout=120)
    assert copy.wait(120) == 0, copy.stderr.read()
    assert shell.returncode == 0 and out.startswith(b"vscode-ok\n"), err
    assert len(profile_jobs(world)) == 1
    [job] = profile_jobs(world)
    assert (Path(job["sandbox"]) / "server.tar.gz").read_bytes() == server.read_bytes()


def test_doctor_fails_on_a_profile_that_sets_the_program(world):
    write_profile(world, "gpu", PROFILE)
    ok = world.run([tool("condor-job-ssh"), "doctor", "--ssh-config", str(world.ssh_config)], check=False)
    assert "profiles" in ok.stdout and "gpu: valid" in ok.stdout, ok.stdout
    path = write_profile(world, "evil", "request_cpus = 1\n+Cmd = \"/bin/evil\"\n")
    bad = world.run([tool("condor-job-ssh"), "doctor", "--ssh-config", str(world.ssh_config)], check=False)
    assert bad.returncode == 1
    assert f"{path}:2: a profile must not set MY.Cmd" in flat_table(bad.stdout), bad.stdout
