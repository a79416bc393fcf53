"""`doctor JOB` finds a job whose shell cannot get a terminal (issue 28, item 2): once it said "0 failed"."""

from __future__ import annotations

import pytest

from conftest import flat_table, tool
from proxycmd.checkresult import FAIL
from sshconfig.checks import jobfindings
from sshconfig.checks.jobprobe import Probe, parse

CTX = jobfindings.Context(host="1.0.job.condor", release="r", list_jobs="l", doctor="d", again="a")
NO_GID = "rw,nosuid,noexec,relatime,mode=600,ptmxmode=000"


def _facts():
    from proxycmd.backends.jobfacts import JobFacts

    return JobFacts(*([""] * len(JobFacts._fields)))._replace(job_id="1.0", status="running", simulated=True)


def test_a_probe_whose_terminal_did_not_start_gets_a_failing_shell_row_that_names_devpts():
    probe = Probe(complete=True, uid="1006", devpts=NO_GID, terminal=False,
                  terminal_said="Connection to 1.0.job.condor closed by remote host.")
    rows = jobfindings.findings("1.0", _facts(), probe, CTX)
    shell = [row for row in rows if row.name == "shell"]
    assert len(shell) == 1 and shell[0].state == FAIL, rows
    assert "cannot start" in shell[0].detail and "gid=5" in shell[0].detail and NO_GID in shell[0].detail
    assert "ssh 1.0.job.condor 'ls -l'" in shell[0].fix and jobfindings.exit_status(rows) == 1


def test_when_devpts_is_not_the_cause_ssh_s_own_words_are_given():
    probe = Probe(complete=True, uid="1006", devpts="rw,gid=5,mode=620", terminal=False,
                  terminal_said="PTY allocation request failed on channel 0")
    shell = [row for row in jobfindings.findings("1.0", _facts(), probe, CTX) if row.name == "shell"]
    assert "PTY allocation request failed" in shell[0].detail


def test_a_terminal_that_started_or_was_not_tried_adds_no_row():
    for terminal in (True, None):
        rows = jobfindings.findings("1.0", _facts(), Probe(complete=True, terminal=terminal), CTX)
        assert [row.name for row in rows] == ["sessions"], rows


def test_the_probe_reports_devpts_options():
    probe = parse(f"cjp-probe-begin\nuid=5\ndevpts={NO_GID}\ncjp-probe-end\n", 3)
    assert probe.devpts == NO_GID


@pytest.mark.e2e
@pytest.mark.also_real
def test_doctor_job_finds_a_job_whose_terminal_cannot_start(world):
    from proxycmd.sim.ptycheck import pty_problem

    if pty_problem() is None:
        pytest.skip("terminals work for this user here (root, or devpts with gid=5)")
    job = world.submit("sleep", "600")
    done = world.run([tool("condor-job-ssh"), "doctor", job, "--ssh-config", str(world.ssh_config)], check=False)
    flat = flat_table(done.stdout)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL" in done.stdout and f"a shell (ssh {job}.job.condor) cannot start" in flat, flat
    assert "without gid=5" in flat
