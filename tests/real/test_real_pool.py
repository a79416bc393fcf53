"""What only a real pool can show: doctor against a real schedd and condor_ssh_to_job, and a route to a second
real pool (its own collector and schedd).  The shared behaviours (ssh, scp, rsync, sftp, forwarding,
sessions at once, idle, held, completed, unknown, the classic shim) run on the real pool from test_e2e.py and
test_classic.py (marked also_real), beside the simulated pool."""

from __future__ import annotations

import pytest

from conftest import flat_table, tool

pytestmark = [pytest.mark.e2e, pytest.mark.real]


def test_doctor_passes_against_a_real_schedd_and_condor_ssh_to_job(world):
    job = world.submit("sleep", "600")
    done = world.run([tool("condor-job-ssh"), "doctor", "--ssh-config", str(world.ssh_config)],
                          check=False)
    flat = flat_table(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "condor_ssh_to_job" in flat and "25.14" in flat, flat  # the real tool, with its version
    assert "FAIL" not in done.stdout
    assert world.ssh(f"{job}.job.condor", "true").returncode == 0


def test_a_route_that_names_only_a_pool_reaches_that_pools_job(world, second_real_pool):
    """`--route p2.condor=@POOL` must reach the job of POOL's schedd, never the local schedd's job of that id
    (condor_ssh_to_job -pool without -name asks the local schedd: seen on two real 25.14 pools; asked there,
    the id is another job or none)."""
    from realworld import submit_job

    theirs = submit_job(second_real_pool, world.base / "p2jobs", {}, "sleep", "600",
                        env={"WHICH_POOL": "second"})
    mine = world.submit("sleep", "600", env={"WHICH_POOL": "local"})
    world.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(world.ssh_config),
                    "--route", f"p2.condor=@{second_real_pool.collector}", "--yes"])
    done = world.ssh(f"{theirs}.p2.condor", "echo $WHICH_POOL", check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "second"
    assert world.ssh(f"{mine}.job.condor", "echo $WHICH_POOL").stdout.strip() == "local"
