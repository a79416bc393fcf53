"""`condor-job-ssh doctor JOB`, the pure parts: job ads -> facts (proxycmd/backends/jobfacts.py), the probe's script
and its output (sshconfig/checks/jobprobe.py), facts -> findings (sshconfig/checks/jobfindings.py).  The probe script runs
here for real under /bin/sh in a scratch directory laid out as a starter lays it out.  What a real pool
and real containers make of it: tests/real/test_real_containers.py; on the simulated pool and through the hop:
tests/sim/test_jobdoctor_e2e.py."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import private_tmp
from proxycmd.backends.jobfacts import JobFacts, from_ad, version_text
from sshconfig.checks import jobfindings, jobprobe
from proxycmd.checkresult import FAIL, OK, WARN

CTX = jobfindings.Context(host="7.0.job.condor", release="condor_release 7.0", list_jobs="condor_q",
                        doctor="condor-job-ssh doctor", again="condor-job-ssh doctor 7.0.job.condor")
DOCKER_AD = {"ClusterId": 7, "ProcId": 0, "JobStatus": 2, "JobUniverse": 5, "WantDocker": True,
             "DockerImage": "cjp/good:1", "RemoteHost": "slot1_1@ep"}
CONTAINER_AD = {"ClusterId": 7, "ProcId": 0, "JobStatus": 2, "JobUniverse": 5, "WantContainer": True,
                "WantDockerImage": True, "ContainerImage": "docker://cjp/good:1", "RemoteHost": "slot1_1@ep"}
INSIDE = jobprobe.Probe(complete=True, status_reported=False, sock=True, dockerenv=True, starter="no", uid="1001",
                        passwd=True,
                        sftp="/usr/lib/openssh/sftp-server", sftp_ok=True, scp=True, rsync=True, bash=True,
                        version="25.14.0", os="Debian GNU/Linux 12 (bookworm)")
ON_HOST = jobprobe.Probe(complete=True, status_reported=True, uid="1001", passwd=True,
                         sftp="/usr/lib/openssh/sftp-server",
                         sftp_ok=True, scp=True, rsync=True, bash=True, version="25.14.0")


def rows(facts, probe, ctx=CTX):
    return {row.name: row for row in jobfindings.findings("7.0", facts, probe, ctx)}


# ----- the execute node's version against HTCONDOR-3658 ----------------------------------------------------
@pytest.mark.parametrize("version, inside", [
    ("24.0.19", False), ("24.0.20", True), ("24.0.23", True), ("24.11.2", False), ("24.12.19", False),
    ("24.12.20", True), ("25.0.9", False), ("25.0.10", True), ("25.1.0", False), ("25.9.9", False),
    ("25.10.0", False), ("25.10.1", True), ("25.14.0", True), ("26.0.0", True), ("23.0.30", False),
])
def test_one_shot_commands_enter_the_container_from_the_releases_with_the_fix(version, inside):
    assert jobfindings.enters_container(version) is inside


@pytest.mark.parametrize("text", [None, "", "25.14", "x.y.z", "25.14.0.1"])
def test_an_unknown_version_is_unknown(text):
    assert jobfindings.enters_container(text) is None


def test_versions_are_read_from_condor_version_strings():
    assert version_text("$CondorVersion: 25.14.0 2026-12-02 PRE-RELEASE-UWCS $") == "25.14.0"
    assert version_text("24.0.20") == "24.0.20"
    assert version_text("$CondorPlatform: x86_64 $") is None and version_text(7) is None


# ----- job ads -> facts ---------------------------------------------------------------------------------
def test_a_docker_universe_ad():
    facts = from_ad(dict(DOCKER_AD, DockerNetworkType="host"), "7.0", "$CondorVersion: 25.14.0 2026-12-02 $")
    assert (facts.status, facts.universe, facts.runtime, facts.image, facts.network, facts.execute_version) == \
        ("running", "docker", "docker", "cjp/good:1", "host", "25.14.0")


def test_container_universe_ads_name_their_runtime():
    assert from_ad(CONTAINER_AD, "7.0").runtime == "docker or apptainer"
    sif = dict(CONTAINER_AD, WantDockerImage=False, WantSIF=True, ContainerImage="/images/x.sif")
    assert (from_ad(sif, "7.0").universe, from_ad(sif, "7.0").runtime) == ("container", "apptainer")


def test_a_vanilla_ad_and_the_version_an_admin_put_in_the_job_ad():
    facts = from_ad({"JobStatus": 5, "HoldReason": "x", "HoldReasonCode": 35,
                     "MachineAttrCondorVersion0": "$CondorVersion: 24.0.19 2025-01-01 $"}, "7.0", "25.14.0")
    assert (facts.universe, facts.runtime, facts.status, facts.hold_code, facts.execute_version) == \
        ("vanilla", "", "held", 35, "24.0.19")


# ----- the probe ----------------------------------------------------------------------------------------
def probe_output(**values):
    lines = [jobprobe.BEGIN] + [f"{key}={value}" for key, value in values.items()] + [jobprobe.END]
    return "\n".join(lines) + "\n"


def test_the_probe_output_is_parsed_and_the_exit_status_tells_whether_statuses_are_reported():
    out = probe_output(sock="yes", dockerenv="yes", apptainer="no", uid="1001", passwd="no",
                       sftp="/usr/lib/openssh/sftp-server", sftp_ok="yes", scp="yes", rsync="no", bash="yes",
                       version="25.14.0", os='"Debian GNU/Linux 12 (bookworm)"')
    got = jobprobe.parse("Welcome\n" + out, 0)
    assert got.complete and not got.status_reported and got.sock and got.in_container and got.runtime == "Docker"
    assert (got.uid, got.passwd, got.sftp_ok, got.rsync, got.os) == ("1001", False, True, False,
                                                                     "Debian GNU/Linux 12 (bookworm)")
    assert jobprobe.parse(out, jobprobe.EXIT_STATUS).status_reported
    assert jobprobe.parse(probe_output(sftp=""), 3).sftp_ok is None


def test_inside_a_container_means_out_of_sight_of_the_starter_not_only_a_dockerenv_file():
    """This very machine runs in a Docker container (/.dockerenv): an execute host can too."""
    assert not INSIDE._replace(starter="yes").in_container and INSIDE._replace(starter="", dockerenv=True).in_container
    assert not INSIDE._replace(sock=False).in_container and INSIDE._replace(starter="yes", apptainer=True).in_container
    assert INSIDE.runtime == "Docker" and INSIDE._replace(starter="yes").runtime == ""


def test_a_probe_that_did_not_finish_says_why_in_one_line_and_values_are_made_safe_to_show():
    got = jobprobe.parse("", 255, "some noise\nReceived disconnect from UNKNOWN port 65535:11: condor-job-proxy: "
                                   "job 7.0 is held: no image\n")
    assert not got.complete and got.error.endswith("job 7.0 is held: no image")
    shown = jobprobe.parse(probe_output(os="bad`\x1b[31mname" + "x" * 300), 3).os
    assert "`" not in shown and "\x1b" not in shown and len(shown) <= 80


def scratch_like_a_starter(tmp: Path, *, container: bool) -> Path:
    """A scratch directory as a 25.14 starter leaves it: a session directory with the sshd_config its
    template gives, the machine ad, and for a container job the `.docker_sock` it listens on."""
    scratch = tmp / "scratch"
    (scratch / ".condor_ssh_to_job_1").mkdir(parents=True)
    (scratch / ".condor_ssh_to_job_1" / "sshd_config").write_text(
        "HostKey /x/sshkey\nAcceptEnv *\n\nSubsystem       sftp    /usr/lib/openssh/sftp-server\nStrictModes no\n")
    (scratch / ".machine.ad").write_text('CondorVersion = "$CondorVersion: 25.14.0 2026-12-02 PRE-RELEASE-UWCS $"\n'
                                         'Cpus = 1\n')
    if container:
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(str(scratch / ".docker_sock"))
        listener.close()
    return scratch


@pytest.mark.parametrize("shell", ["/bin/sh", "dash", "bash"])
@pytest.mark.parametrize("container", [True, False])
def test_the_probe_script_runs_under_a_plain_sh_and_reads_the_starters_files(shell, container):
    program = shutil.which(shell) or shell
    if not os.access(program, os.X_OK):
        pytest.skip(f"{shell} is not installed")
    base = private_tmp("probe-")  # short: .docker_sock is a unix socket
    try:
        scratch = scratch_like_a_starter(base, container=container)
        env = {"PATH": "/usr/bin:/bin", "_CONDOR_SCRATCH_DIR": str(scratch)}
        done = subprocess.run([program], input=jobprobe.SCRIPT, capture_output=True, text=True, env=env, cwd=scratch,
                              timeout=30)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert done.returncode == jobprobe.EXIT_STATUS, done.stderr
    got = jobprobe.parse(done.stdout, done.returncode)
    assert got.complete and got.sock is container and got.uid == str(os.getuid()) and got.starter == ""
    assert got.sftp == "/usr/lib/openssh/sftp-server" and got.version == "25.14.0"
    assert got.passwd is (any(line.split(":")[2] == str(os.getuid()) for line in open("/etc/passwd")))
    assert got.sftp_ok is os.access("/usr/lib/openssh/sftp-server", os.X_OK)
    assert got.rsync is bool(shutil.which("rsync", path="/usr/bin:/bin"))


# ----- facts -> findings ---------------------------------------------------------------------------------
def test_a_job_whose_sessions_land_on_the_host_gets_one_row_and_nothing_else():
    got = jobfindings.findings("7.0", from_ad({"JobStatus": 2, "JobUniverse": 5, "RemoteHost": "slot1@ep"}, "7.0"),
                             ON_HOST, CTX)
    assert [(row.name, row.state) for row in got] == [("sessions", OK)]
    assert "land on the execute host slot1@ep" in got[0].detail and jobfindings.exit_status(got) == 0


def test_a_good_image_with_host_networking_has_only_the_exit_status_trap():
    got = rows(from_ad(dict(DOCKER_AD, DockerNetworkType="host"), "7.0"), INSIDE)
    assert {name: row.state for name, row in got.items()} == {"sessions": OK, "commands": WARN, "scp, sftp": OK,
                                                              "ssh -L/-D/-R": OK}
    assert "inside the job's Docker container (image cjp/good:1" in got["sessions"].detail
    assert "status=$?" in got["commands"].fix


def test_default_networking_fails_ssh_L_with_the_fix():
    got = rows(from_ad(CONTAINER_AD, "7.0"), INSIDE)
    assert got["ssh -L/-D/-R"].state == FAIL and "docker_network_type = host" in got["ssh -L/-D/-R"].fix
    assert jobfindings.exit_status(list(got.values())) == 1


def test_a_uid_missing_from_the_image_fails_scp_and_sftp_and_points_to_rsync():
    got = rows(from_ad(DOCKER_AD, "7.0"), INSIDE._replace(passwd=False))["scp, sftp"]
    assert got.state == FAIL and "No user found for uid 1001" in got.detail
    assert "rsync -a FILE 7.0.job.condor:" in got.fix and "image:" in got.fix


def test_no_sftp_server_at_the_execute_nodes_path_fails_sftp_and_points_to_scp_O():
    got = rows(from_ad(DOCKER_AD, "7.0"), INSIDE._replace(sftp_ok=False))["scp, sftp"]
    assert got.state == FAIL and "no /usr/lib/openssh/sftp-server" in got.detail and "scp -O FILE" in got.fix


def test_no_rsync_and_no_bash_in_the_image():
    got = rows(from_ad(DOCKER_AD, "7.0"), INSIDE._replace(rsync=False, bash=False))
    assert got["rsync"].state == FAIL and got["shell"].state == FAIL and "/bin/bash -i" in got["shell"].detail


def test_an_execute_node_before_the_fix_runs_one_shot_commands_on_the_host():
    old = INSIDE._replace(starter="yes", status_reported=True, version="25.0.9")  # an execute host in Docker
    got = rows(from_ad(DOCKER_AD, "7.0"), old)
    assert got["sessions"].state == WARN and "outside the job's Docker container" in got["sessions"].detail
    assert "runs HTCondor 25.0.9" in got["sessions"].detail and "25.10.1" in got["sessions"].fix
    assert "commands" not in got and "scp, sftp" not in got


def test_apptainer_is_marked_untested():
    probe = INSIDE._replace(dockerenv=False, apptainer=True, starter="yes")  # no pid namespace
    got = rows(from_ad(dict(CONTAINER_AD, WantSIF=True, WantDockerImage=False), "7.0"), probe)
    assert "Apptainer" in got["sessions"].detail and "untested here" in got["sessions"].detail
    assert got["ssh -L/-D/-R"].state == OK and "untested here" in got["ssh -L/-D/-R"].detail
    assert "shell" not in rows(from_ad(CONTAINER_AD, "7.0"), probe._replace(bash=False))


def test_forwarded_agent_is_named_only_when_the_block_forwards_it():
    assert "agent" not in rows(from_ad(DOCKER_AD, "7.0"), INSIDE)
    assert rows(from_ad(DOCKER_AD, "7.0"), INSIDE, CTX._replace(forward_agent=True))["agent"].state == WARN


def test_a_job_held_on_its_image_and_other_states():
    held = from_ad({"JobStatus": 5, "WantDocker": True, "JobUniverse": 5, "DockerImage": "cjp/missing:1",
                    "HoldReasonCode": 35, "HoldReason": "Error from slot1@ep: Cannot pull image cjp/missing:1"}, "7.0")
    got = rows(held, None)
    assert got["job"].state == FAIL and "is held: Error from slot1@ep: Cannot pull image" in got["job"].detail
    assert "could not get the image cjp/missing:1" in got["job"].fix and "condor_release 7.0" in got["job"].fix
    assert got["sessions"].state == WARN and got["ssh -L/-D/-R"].state == FAIL
    idle = rows(from_ad({"JobStatus": 1}, "7.0"), None)
    assert list(idle) == ["job"] and idle["job"].state == WARN
    assert jobfindings.findings("7.0", None, None, CTX)[0].state == FAIL


def test_a_session_that_failed_is_one_failing_row_with_what_ssh_said():
    got = jobfindings.findings("7.0", from_ad({"JobStatus": 2}, "7.0"), jobprobe.Probe(error="Connection refused"), CTX)
    assert [(row.name, row.state) for row in got] == [("session", FAIL)] and "Connection refused" in got[0].detail


def test_an_unread_ad_leaves_the_network_unknown():
    got = rows(JobFacts(job_id="7.0", status="running", ad_known=False), INSIDE)
    assert got["ssh -L/-D/-R"].state == WARN
