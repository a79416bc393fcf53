"""Two real HTCondor pools (issue 19): the same job id in both, reached by host name and by route, `sync`
listing both, and a route that names only a pool reaching that pool's job, never the local one.

Run with `sh scripts/test-real-pool.sh tests/real/test_real_sites.py` (as root it runs as an unprivileged user).
"""

from __future__ import annotations

import pytest

from conftest import tool

pytestmark = pytest.mark.real


def _same_job_id(first, second) -> str:
    """A running sleep job in each pool with one and the same id (each schedd numbers its own)."""
    a, b = first.submit_sleep(), second.submit_sleep()
    for _ in range(500):
        if a == b:
            break
        # the one behind removes its filler at once (the id stays used), so fillers never hold slots
        if int(a.split(".")[0]) < int(b.split(".")[0]):
            first.rm(a)
            a = first.submit_sleep()
        else:
            second.rm(b)
            b = second.submit_sleep()
    assert a == b, (a, b)
    first.wait_status(a, "running")
    second.wait_status(b, "running")
    return a


def _scratch(w, host: str) -> str:
    done = w.ssh(host, "echo $_CONDOR_SCRATCH_DIR", check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _job_hosts(w) -> set:
    return {line[5:] for line in w.ssh_config.read_text().splitlines()
            if line.startswith("Host ") and line[5:6].isdigit()}


def test_the_same_job_id_on_two_pools_by_host_name_route_and_sync(world, second_real_pool):
    w, here, there = world, world.pool, second_real_pool
    job = _same_job_id(here, there)
    w.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(w.ssh_config), "--yes",
           "--route", f"p2.condor=@{there.collector}", "--route", f"s2.condor={there.schedd}@{there.collector}"])
    mine, pool_route, named_route = (_scratch(w, f"{job}.job.condor"), _scratch(w, f"{job}.p2.condor"),
                                     _scratch(w, f"{job}.s2.condor"))
    assert mine.startswith(str(here.dir)) and not mine.startswith(str(there.dir)), mine
    # the route naming only pool 2 reaches pool 2's job 1.0, not the local schedd's job of that id
    assert pool_route.startswith(str(there.dir)), (pool_route, there.dir)
    assert named_route == pool_route
    done = w.run([tool("condor-job-ssh"), "sync", "--ssh-config", str(w.ssh_config)])
    assert done.stderr.strip() == "", done.stderr
    # both jobs 1.0 listed, pool 2's once (its two routes reach the same schedd), each under a name that reaches it
    assert {f"{job}.job.condor", f"{job}.p2.condor"} <= _job_hosts(w)
    assert not [h for h in _job_hosts(w) if h.endswith(".s2.condor") and h.startswith(f"{job}.")]


def test_condor_ssh_to_job_with_only_a_pool_asks_the_local_schedd(world, second_real_pool):
    """Why a pool-only route asks the collector (proxycmd/backends/poolschedd.py): HTCondor's own tools given
    -pool without -name use the local schedd.  If this ever fails, HTCondor changed and the README's note
    can say so."""
    here, there = world.pool, second_real_pool
    job = _same_job_id(here, there)
    listed = here.condor("condor_q", "-pool", there.collector, "-af", "GlobalJobId", job).stdout
    assert listed.split("#")[0] == here.schedd, listed
