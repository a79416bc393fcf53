"""The container tier: docker- and container-universe jobs on a real HTCondor pool with Debian's Docker
(tests/support/realdocker.py builds the images; scripts/test-containers.sh installs Docker, starts dockerd, builds
them and runs this tier as an unprivileged user; CI sets CJP_REQUIRE_CONTAINERS=1, so it cannot skip).

sshd runs on the execute host and every session's commands enter the container (`docker exec`): the
tests check that commands, scp, sftp and rsync land inside (the image's /etc/os-release), that `ssh -L`
reaches a server inside with host networking and not without, that jobs on demand run in a container,
and the traps, each with what `condor-job-ssh doctor JOB` says of it (sshconfig/checks/jobfindings.py): exit
statuses always 0, scp and sftp failing without the job's uid in the image or without sftp-server at the
execute node's path, a job held on an image that cannot be had.  Marked `containers` (not `real`): the
real tier (`-m real`) leaves them to this one (`-m containers`).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest

import realdocker
from conftest import flat_table, proxy_said, tool, wait_for, world_variant
from ports import free_port, listening
from sshstop import stop_ssh
from realworld import wait_reachable
from test_e2e import _make_tree

pytestmark = [pytest.mark.e2e, pytest.mark.containers, pytest.mark.world(scope="module")]

MB = 4 << 20


class Jobs:
    """The tier's jobs, submitted at once so that they start together."""

    def __init__(self, world):
        self.w = world
        self.images = realdocker.tags()
        self.port_host_net = free_port()  # the server in the host-network container listens on the host
        self.port_own_net = free_port()  # a port nothing on the host listens on (checked in the test)
        self.missing = realdocker.missing_tag()
        pages = Path(realdocker.PAGE).parent
        server = f"executable = /bin/busybox\narguments = httpd -f -p 127.0.0.1:{{}} -h {pages}"
        sleeper = "executable = /bin/sleep\narguments = 3600"
        self.ids = {
            "host-net": self.submit("host-net", "universe = docker", f"docker_image = {self.images['good']}",
                                    "docker_network_type = host", server.format(self.port_host_net)),
            "container": self.submit("container", "universe = container",
                                     f"container_image = docker://{self.images['good']}",
                                     server.format(self.port_own_net)),
            "nouid": self.submit("nouid", "universe = docker", f"docker_image = {self.images['nouid']}", sleeper),
            "nosftp": self.submit("nosftp", "universe = docker", f"docker_image = {self.images['nosftp']}", sleeper),
            "missing": self.submit("missing", "universe = docker", f"docker_image = {self.missing}", sleeper),
        }
        for name, job in self.ids.items():
            if name != "missing":
                world.pool.wait_status(job, "running", timeout=180)
                wait_reachable(world.pool, job, timeout=180)  # five containers start at once
        world.pool.wait_status(self.ids["missing"], "held", timeout=180)

    def submit(self, name, *lines) -> str:
        iwd = self.w.base / "jobs" / name
        iwd.mkdir(parents=True)
        text = "\n".join(lines) + f"\ntransfer_executable = false\ninitialdir = {iwd}\nlog = job.log\n" \
                                  "output = job.out\nerror = job.err\n"
        job = self.w.pool.submit(text, cwd=iwd)
        self.w.jobs[job] = iwd
        return job

    def host(self, name: str) -> str:
        return f"{self.ids[name]}.job.condor"


@pytest.fixture
def jobs(world):
    """The tier's jobs, in the module's world."""
    if not hasattr(world, "tier_jobs"):
        try:
            world.tier_jobs = Jobs(world)
        except Exception as failed:
            world.tier_jobs = failed  # the next tests say so in a line, not with errors of their own
            raise
    if isinstance(world.tier_jobs, Exception):
        first = str(world.tier_jobs).splitlines()[0] if str(world.tier_jobs) else type(world.tier_jobs).__name__
        pytest.fail(f"the tier's jobs did not start (see the first error): {first}", pytrace=False)
    return world.tier_jobs


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def doctor(side, host: str):
    return side.run([tool("condor-job-ssh"), "doctor", host, "--ssh-config", str(side.ssh_config)], check=False)


def rows(stdout: str) -> dict:
    """doctor's table: row name -> state."""
    out = {}
    for line in stdout.splitlines()[1:]:
        found = re.match(r"(\S(?:.*?\S)?)  +(OK|WARN|FAIL)  ", line)
        if found:
            out[found.group(1)] = found.group(2)
    return out


def fetch(port: int) -> bytes:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
    except OSError:
        return b""


# ----- where the sessions land ---------------------------------------------------------------------------
def test_the_pools_sftp_server_path_is_the_one_the_images_are_built_for(docker_pool):
    template = docker_pool.dir / "release" / "lib" / "condor_ssh_to_job_sshd_config_template"
    assert f"Subsystem       sftp    {realdocker.SFTP_SERVER}" in template.read_text()


@pytest.mark.parametrize("name", ["host-net", "container"])
def test_commands_land_inside_the_container_of_a_docker_and_a_container_universe_job(world, jobs, name):
    assert realdocker.VARIANT_ID not in Path("/etc/os-release").read_text()  # the host's is not the image's
    done = world.ssh(jobs.host(name), f"grep ^VARIANT_ID= /etc/os-release; cat {realdocker.PAGE}; id -u; pwd")
    variant, page, uid, cwd = done.stdout.splitlines()
    assert variant == f"VARIANT_ID={realdocker.VARIANT_ID}" and page == realdocker.PAGE_TEXT.strip()
    assert uid == str(os.getuid())
    assert cwd == str(world.jobs[jobs.ids[name]])  # the job's working directory: its shared initialdir


def test_a_commands_exit_status_is_always_0_in_a_container(world, jobs):
    assert world.ssh(jobs.host("host-net"), "exit 3", check=False).returncode == 0
    assert world.ssh(jobs.host("host-net"), "false", check=False).returncode == 0
    said = world.ssh(jobs.host("host-net"), "false; echo status=$?").stdout
    assert said == "status=1\n"  # the fix doctor gives


# ----- copies ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["host-net", "container"])
def test_scp_and_sftp_both_ways_with_checksums(world, jobs, name, tmp_path):
    host = jobs.host(name)
    blob = tmp_path / "blob.bin"
    blob.write_bytes(os.urandom(MB))
    world.run(["scp", "-F", str(world.ssh_config), str(blob), f"{host}:up.bin"])
    inside = world.ssh(host, f"sha256sum up.bin; grep -c {realdocker.VARIANT_ID} /etc/os-release").stdout.split()
    assert inside[0] == sha256(blob) and inside[-1] == "1"
    world.run(["scp", "-F", str(world.ssh_config), f"{host}:up.bin", str(tmp_path / "down.bin")])
    assert sha256(tmp_path / "down.bin") == sha256(blob)
    batch = tmp_path / "batch"
    batch.write_text(f"put {blob} sftp.bin\nget sftp.bin {tmp_path / 'sftp-back.bin'}\n")
    world.run(["sftp", "-F", str(world.ssh_config), "-b", str(batch), host])
    assert sha256(tmp_path / "sftp-back.bin") == sha256(blob)
    assert world.ssh(host, "sha256sum sftp.bin").stdout.split()[0] == sha256(blob)


@pytest.mark.parametrize("name", ["host-net", "nouid"])
def test_rsync_a_both_ways_needs_neither_the_uid_nor_sftp_server(world, jobs, name, tmp_path):
    host = jobs.host(name)
    src = tmp_path / "tree"
    files = _make_tree(src)
    rsh = f"ssh -F {world.ssh_config}"
    world.run(["rsync", "-a", "-e", rsh, f"{src}/", f"{host}:tree/"])
    listed = world.ssh(host, "cd tree && find . -type f -exec sha256sum {} + && readlink link && stat -c %a d1/exec.sh"
                        ).stdout.splitlines()
    sums = {line.split()[1][2:]: line.split()[0] for line in listed[:-2]}
    assert sums == {str(rel): hashlib.sha256(data).hexdigest() for rel, data in files.items()} | \
        {"d1/exec.sh": hashlib.sha256(b"#!/bin/sh\n").hexdigest()}
    assert listed[-2:] == ["d0", "750"]
    back = tmp_path / "back"
    world.run(["rsync", "-a", "-e", rsh, f"{host}:tree/", f"{back}/"])
    for rel, data in files.items():
        assert (back / rel).read_bytes() == data
    assert os.readlink(back / "link") == "d0" and (back / "d1" / "exec.sh").stat().st_mode & 0o777 == 0o750


def test_without_the_jobs_uid_in_the_image_scp_and_sftp_fail_and_doctor_says_why(world, jobs, tmp_path):
    host = jobs.host("nouid")
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"x" * 1000)
    scp = world.run(["scp", "-F", str(world.ssh_config), str(blob), f"{host}:up.bin"], check=False)
    assert scp.returncode != 0 and "Connection closed" in scp.stderr
    legacy = world.run(["scp", "-O", "-F", str(world.ssh_config), str(blob), f"{host}:up.bin"], check=False)
    assert legacy.returncode != 0 and f"unknown user {os.getuid()}" in legacy.stderr
    batch = tmp_path / "batch"
    batch.write_text(f"put {blob} up.bin\n")
    assert world.run(["sftp", "-F", str(world.ssh_config), "-b", str(batch), host], check=False).returncode != 0
    said = world.ssh(host, f"{realdocker.SFTP_SERVER} < /dev/null", check=False)
    assert f"No user found for uid {os.getuid()}" in said.stderr  # what sftp-server says, unseen by sftp users
    done = doctor(world, host)
    assert done.returncode == 1 and rows(done.stdout)["scp, sftp"] == "FAIL"
    flat = flat_table(done.stdout)
    assert f"No user found for uid {os.getuid()}" in flat and f"rsync -a FILE {host}:" in flat


def test_without_sftp_server_sftp_fails_scp_O_works_and_doctor_says_why(world, jobs, tmp_path):
    host = jobs.host("nosftp")
    blob = tmp_path / "blob.bin"
    blob.write_bytes(os.urandom(100_000))
    batch = tmp_path / "batch"
    batch.write_text(f"put {blob} up.bin\n")
    assert world.run(["sftp", "-F", str(world.ssh_config), "-b", str(batch), host], check=False).returncode != 0
    assert world.run(["scp", "-F", str(world.ssh_config), str(blob), f"{host}:up.bin"], check=False).returncode != 0
    world.run(["scp", "-O", "-F", str(world.ssh_config), str(blob), f"{host}:legacy.bin"])
    assert world.ssh(host, "sha256sum legacy.bin").stdout.split()[0] == sha256(blob)
    done = doctor(world, host)
    assert done.returncode == 1 and rows(done.stdout)["scp, sftp"] == "FAIL"
    flat = flat_table(done.stdout)
    assert f"the image has no {realdocker.SFTP_SERVER}" in flat and f"scp -O FILE {host}:" in flat


# ----- forwarding -----------------------------------------------------------------------------------------
def forward(world, host: str, target_port: int):
    local = free_port()
    proc = subprocess.Popen(world.ssh_argv("-N", "-o", "ExitOnForwardFailure=yes", "-L",
                                           f"{local}:127.0.0.1:{target_port}", host),
                            env=world.env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return proc, local


def test_ssh_L_reaches_a_server_inside_with_host_networking_and_not_without(world, jobs):
    page = realdocker.PAGE_TEXT.encode()
    inside = f"busybox wget -q -O - http://127.0.0.1:{{}}/"
    assert world.ssh(jobs.host("container"), inside.format(jobs.port_own_net)).stdout.encode() == page
    assert fetch(jobs.port_own_net) == b""  # nothing on the host answers there
    for name, port, reached in (("host-net", jobs.port_host_net, True), ("container", jobs.port_own_net, False)):
        proc, local = forward(world, jobs.host(name), port)
        try:
            if reached:
                assert wait_for(lambda: fetch(local) == page, timeout=30), proc.stderr
            else:
                assert wait_for(lambda: proc.poll() is None and listening(local), timeout=30)
                assert fetch(local) == b""  # sshd on the execute host finds no server there
                assert proc.poll() is None  # the session itself is fine
        finally:
            stop_ssh(proc)
    assert rows(doctor(world, jobs.host("host-net")).stdout)["ssh -L/-D/-R"] == "OK"
    done = doctor(world, jobs.host("container"))
    assert rows(done.stdout)["ssh -L/-D/-R"] == "FAIL" and "docker_network_type = host" in flat_table(done.stdout)


# ----- doctor on each job, on the AP and through the hop -------------------------------------------------
def test_doctor_on_a_good_image_with_host_networking_reports_only_the_exit_status(world, jobs):
    from proxycmd.sim.ptycheck import pty_problem

    no_terminal = pty_problem() is not None  # this machine as an ordinary user: a shell cannot start (issue 28)
    done = doctor(world, jobs.host("host-net"))
    assert done.returncode == (1 if no_terminal else 0), done.stdout
    expected = {"sessions": "OK", "commands": "WARN", "scp, sftp": "OK", "ssh -L/-D/-R": "OK"}
    assert rows(done.stdout) == dict(expected, **({"shell": "FAIL"} if no_terminal else {})), done.stdout
    flat = flat_table(done.stdout)
    assert f"inside the job's Docker container (image {jobs.images['good']}" in flat
    assert "exit status is lost" in flat


def test_a_job_held_on_a_missing_image_says_so_in_one_sentence(world, jobs):
    job = jobs.ids["missing"]
    reason = " ".join(world.pool.ad(job)["HoldReason"].split())
    assert f"Cannot pull image {jobs.missing}" in reason
    done = world.ssh(f"{job}.job.condor", "true", check=False)
    assert done.returncode == 255
    said = proxy_said(done.stderr)
    assert len(said) == 1 and said[0].startswith(f"condor-job-proxy: job {job} is held: ")
    assert f"Cannot pull image {jobs.missing}" in said[0]
    assert said[0].endswith(f"; submit it again with an image the execute node can pull (docs/containers.md), "
                            f"or retry as it is with: condor_release {job}")
    report = doctor(world, f"{job}.job.condor")
    assert report.returncode == 1 and rows(report.stdout)["job"] == "FAIL"
    assert f"could not get the image {jobs.missing}" in flat_table(report.stdout)


def test_through_the_access_point_doctor_and_copies_reach_the_container(world, jobs, request, tmp_path):
    """doctor JOB from a laptop: the ad from condor_q on the AP, the probe through the hop."""
    laptop = world_variant(request, "containers", via="ap", scope="module")  # the same pool, through an AP
    for name in ("nouid", "host-net"):
        here, there = doctor(world, jobs.host(name)), doctor(laptop, jobs.host(name))
        assert (there.returncode, rows(there.stdout)) == (here.returncode, rows(here.stdout)), there.stdout
    blob = tmp_path / "blob.bin"
    blob.write_bytes(os.urandom(MB))
    laptop.run(["scp", "-F", str(laptop.ssh_config), str(blob), f"{jobs.host('host-net')}:via.bin"])
    inside = laptop.ssh(jobs.host("host-net"), f"sha256sum via.bin; grep -c {realdocker.VARIANT_ID} /etc/os-release")
    assert inside.stdout.split() == [sha256(blob), "via.bin", "1"]


# ----- jobs on demand in a container ---------------------------------------------------------------------
IDLE_TIMEOUT = 15


def test_a_profile_with_a_container_image_runs_inside_is_reused_and_ends_itself(world, jobs):
    profile = world.base / "config" / "condor-job-proxy" / "profiles" / "ctr.sub"
    profile.parent.mkdir(parents=True, exist_ok=True)
    profile.write_text(f"universe = container\ncontainer_image = docker://{jobs.images['good']}\n"
                       f"MY.CondorJobProxyIdleTimeout = {IDLE_TIMEOUT}\n")
    first = world.ssh("ctr.job.condor", f"grep ^VARIANT_ID= /etc/os-release; cat {realdocker.PAGE}")
    assert first.stdout.splitlines() == [f"VARIANT_ID={realdocker.VARIANT_ID}", realdocker.PAGE_TEXT.strip()]
    found = re.search(r"submitted job (\d+\.\d+) from profile ctr", first.stderr)
    assert found, first.stderr
    job = found.group(1)
    world.jobs[job] = world.base
    again = world.ssh("ctr.job.condor", "echo again")
    assert again.stdout == "again\n" and "submitted" not in again.stderr
    report = doctor(world, "ctr.job.condor")
    assert rows(report.stdout)["sessions"] == "OK"
    assert f"ssh {job}.job.condor 'cmd; echo status=$?'" in flat_table(report.stdout)  # the profile's job, found
    world.pool.wait_status(job, "gone", timeout=IDLE_TIMEOUT + 60)
    history = world.pool.condor("condor_history", job, "-af", "ExitCode", "-limit", "1").stdout.split()
    assert history == ["0"], history  # the watchdog ended the job itself, inside the container
