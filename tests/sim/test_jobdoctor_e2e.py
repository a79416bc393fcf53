"""`condor-job-ssh doctor JOB` end to end on jobs whose sessions land on the host: the simulated pool through
both backends and a real pool (also_real), and from a laptop through an access point (`setup --via`).  A job
with no trap gets one row that says so and exit status 0; a held job, a job not in the queue and a JOB that
is no job say so.  Container jobs: tests/real/test_real_containers.py."""

from __future__ import annotations

import pytest

from conftest import flat_table, tool

pytestmark = pytest.mark.e2e


def doctor(side, job: str):
    return side.run([tool("condor-job-ssh"), "doctor", job, "--ssh-config", str(side.ssh_config)], check=False)


def table_rows(stdout: str):
    """(name, state) of each row of doctor's table."""
    out = []
    for line in stdout.splitlines()[1:]:
        words = line.split()
        if len(words) >= 2 and not line.startswith(" ") and words[-1:] != ["ok."]:
            name_end = line.index("  ")
            out.append((line[:name_end], line[name_end:].split()[0]))
    return out


@pytest.mark.also_real
def test_a_job_on_the_host_gets_one_row_that_says_all_is_fine(world):
    from proxycmd.sim.ptycheck import pty_problem

    no_terminal = pty_problem() is not None  # this machine as an ordinary user: a shell cannot start (issue 28)
    job = world.submit("sleep", "600")
    done = doctor(world, job)
    assert done.returncode == (1 if no_terminal else 0), done.stdout + done.stderr
    rows = table_rows(done.stdout)
    if world.backend == "condor":  # the fake condor_ssh_to_job has no schedd behind it for the bindings
        assert rows[0] == ("job", "WARN")
        assert "what follows comes from a session in the job alone" in flat_table(done.stdout)
        rows = rows[1:]
    assert rows == [("sessions", "OK")] + ([("shell", "FAIL")] if no_terminal else []), done.stdout
    where = "the simulated pool's host" if world.backend == "sim" else "the execute host"
    assert f"land on {where}" in flat_table(done.stdout)
    assert "exit statuses all work" in flat_table(done.stdout)
    again = doctor(world, f"{job}.job.condor")
    assert again.returncode == done.returncode and table_rows(again.stdout) == table_rows(done.stdout)


def test_a_held_job_says_why_and_how_to_release_it(world):
    """Through the condor backend's fake tool no schedd answers the bindings: the session's refusal (our
    one sentence) says it instead."""
    job = world.submit("sleep", "600")
    world.hold(job, "disk quota exceeded")
    done = doctor(world, job)
    assert done.returncode == 1
    flat = flat_table(done.stdout)
    assert f"job {job} is held: disk quota exceeded" in flat
    assert (f"sim release {job}" if world.backend == "sim" else f"condor_release {job}") in flat


def test_a_job_that_is_not_in_the_queue_and_a_job_that_is_no_job(world):
    done = doctor(world, "4242.0")
    assert done.returncode == 1 and "job 4242.0 is not in the queue" in flat_table(done.stdout)
    for text in ("rm -rf /", "", "0.0", "99999999999", "1.0.elsewhere.example", "x" * 5000):
        bad = doctor(world, text)
        assert bad.returncode == 2 and bad.stdout == "", text
        assert bad.stderr.count("\n") == 1
        assert bad.stderr.startswith(f"condor-job-ssh: error: {text[:80]!r} is not a job")


@pytest.mark.world(backends=["sim"])
def test_a_profile_name_nobody_wrote_is_no_profile(world):
    done = doctor(world, "nope.job.condor")
    assert done.returncode == 1, done.stdout + done.stderr
    assert ("job", "FAIL") in table_rows(done.stdout), done.stdout
    assert "there is no profile 'nope' and no job of one" in flat_table(done.stdout), done.stdout
    assert "profile new nope" in flat_table(done.stdout), done.stdout


@pytest.mark.world(via="ap", scope="module")
def test_through_the_access_point_the_job_is_asked_about_on_the_ap_and_probed_through_the_hop(world):
    job = world.submit("sleep", "600")
    done = doctor(world, job)
    assert done.returncode == 0, done.stdout + done.stderr
    assert table_rows(done.stdout) == [("sessions", "OK")], done.stdout
    assert "land on the execute host slot1@" in flat_table(done.stdout)
    world.sim("hold", job, "--reason", "over quota")
    held = doctor(world, job)
    assert held.returncode == 1 and f"job {job} is held: over quota" in flat_table(held.stdout)
    assert f"ssh ap condor_release {job}" in flat_table(held.stdout)
