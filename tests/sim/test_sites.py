"""Sites with several schedds (issue 19): the simulated pool's named schedds, equal job ids on two schedds,
`sync` over every schedd the block reaches (its routes, `--all-schedds`, a schedd that does not answer),
the same through the hop, and a route that names only a pool."""

from __future__ import annotations

import subprocess
from typing import Optional

import pytest

from conftest import tool

# A world whose simulated pool serves the schedds ap2 and ap3 besides its default one.
pytestmark = [pytest.mark.e2e, pytest.mark.world(schedds=("ap2", "ap3"))]
SIM_SITES = pytest.mark.world(backends=["sim"], schedds=("ap2", "ap3"))


def _where(w, host: str) -> str:
    """The working directory of a session to *host*: the sandbox of the job it reached."""
    return w.ssh(host, "pwd").stdout.strip().rsplit("/", 1)[-1]


def _hosts(w) -> list:
    return [line[5:] for line in w.ssh_config.read_text().splitlines()
            if line.startswith("Host ") and "*" not in line and line[5:6].isdigit()]


def _sync(w, check: bool = True) -> subprocess.CompletedProcess:
    return w.run([tool("condor-job-ssh"), "sync", "--ssh-config", str(w.ssh_config)], check=check)


def _setup(w, *options: str) -> None:
    where = ["--sim", str(w.sim_root)] if w.backend == "sim" else ["--condor"]
    w.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(w.ssh_config), *where, "--no-multiplex", "--yes",
           *options])


# ----- the simulated pool's schedds --------------------------------------------------------------------------
def test_equal_job_ids_on_two_schedds_are_two_jobs(world):
    """Both backends: the sim itself and the fake condor_ssh_to_job with -name."""
    first, second = world.submit("sleep", "600"), world.submit("sleep", "600", schedd="ap2")
    assert first == second == "1.0"  # each schedd numbers its own jobs
    assert _where(world, "1.0.job.condor") == "dir_1.0"
    assert _where(world, "1.0.ap2.job.condor") == "dir_1.0.ap2"
    missing = world.ssh("1.0.ap3.job.condor", "true", check=False)  # ap3 has no job 1.0
    assert missing.returncode == 255 and "1.0" in missing.stderr
    unknown = world.ssh("1.0.nowhere.job.condor", "true", check=False)
    assert unknown.returncode == 255 and "nowhere" in unknown.stderr


@SIM_SITES
def test_sim_refuses_a_schedd_it_does_not_serve(world):
    done = world.run([tool("condor-job-ssh"), "sim", "submit", "--schedd", "ap9", "--root", str(world.sim_root),
                          "--", "true"], check=False)
    assert done.returncode == 1 and "no schedd named ap9 (its schedds: " in done.stderr
    bad = world.run([tool("condor-job-ssh"), "sim", "start", "--root", str(world.base / "other"),
                         "--schedd", "Bad_Name"], check=False)
    assert bad.returncode == 1 and "is not a schedd name" in bad.stderr and len(bad.stderr.splitlines()) == 1


# ----- sync ----------------------------------------------------------------------------------------------------
@SIM_SITES
def test_sync_lists_a_routes_jobs_under_its_suffix(world):
    w = world
    w.submit("sleep", "600")
    w.submit("sleep", "600", schedd="ap2")
    _setup(w, "--route", "ap2.condor=ap2")
    _sync(w)
    assert sorted(_hosts(w)) == ["1.0.ap2.condor", "1.0.job.condor"]
    assert _where(w, "1.0.ap2.condor") == "dir_1.0.ap2"  # the listed name reaches that schedd's job
    assert _where(w, "1.0.job.condor") == "dir_1.0"


@SIM_SITES
def test_sync_with_all_schedds_lists_every_schedd_of_the_pool(world):
    w = world
    for schedd in (None, "ap2", "ap3"):
        w.submit("sleep", "600", schedd=schedd)
    w.submit("sleep", "600", schedd="ap3")
    _setup(w)
    _sync(w)
    assert _hosts(w) == ["1.0.job.condor"]  # without --all-schedds: the block's own schedd
    _setup(w, "--all-schedds", "--route", "ap2.condor=ap2")
    done = _sync(w)
    assert done.stderr == ""
    # ap2 is reached under its route (once), ap3 by its name; the default schedd's job under the default suffix
    assert _hosts(w) == ["1.0.job.condor", "1.0.ap3.job.condor", "2.0.ap3.job.condor", "1.0.ap2.condor"]
    assert [_where(w, host) for host in _hosts(w)] == ["dir_1.0", "dir_1.0.ap3", "dir_2.0.ap3", "dir_1.0.ap2"]


@SIM_SITES
def test_a_schedd_that_does_not_answer_is_a_warning_and_the_rest_are_listed(world):
    w = world
    w.submit("sleep", "600")
    w.submit("sleep", "600", schedd="ap2")
    _setup(w, "--route", "gone.condor=gone", "--route", "ap2.condor=ap2")
    done = _sync(w)
    warnings = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and "schedd gone (route gone.condor) did not answer" in warnings[0], done.stderr
    assert "no schedd named gone" in warnings[0]
    assert sorted(_hosts(w)) == ["1.0.ap2.condor", "1.0.job.condor"]
    w.sim("stop")  # now none answers: that is an error, and the listing is left as it was
    failed = _sync(w, check=False)
    assert failed.returncode == 1 and "no simulated pool runs" in failed.stderr
    assert sorted(_hosts(w)) == ["1.0.ap2.condor", "1.0.job.condor"]


# ----- through the hop -----------------------------------------------------------------------------------------
@pytest.mark.world(via="ap", schedds=("ap2",), setup=False)
def test_sync_through_the_hop_lists_every_schedd(world):
    lap = world
    lap.submit("sleep", "600")
    lap.run([tool("condor-job-ssh"), "sim", "submit", "--schedd", "ap2", "--root", str(lap.sim_root), "--",
             "sleep", "600"])
    lap.setup("--no-multiplex", "--all-schedds", "--route", "gone.condor=gone")
    done = lap.run([tool("condor-job-ssh"), "sync", "--ssh-config", str(lap.ssh_config)])
    assert "schedd gone (route gone.condor) did not answer" in done.stderr
    assert sorted(_hosts(lap)) == ["1.0.ap2.job.condor", "1.0.job.condor"]
    assert lap.ssh("1.0.ap2.job.condor", "pwd").stdout.strip().endswith("/dir_1.0.ap2")
    assert lap.ssh("1.0.job.condor", "pwd").stdout.strip().endswith("/dir_1.0")


# ----- the listing's rules, without a pool ---------------------------------------------------------------------
class _Backend:
    def __init__(self, jobs=(), names=(), fail: Optional[str] = None):
        self.jobs, self.names, self.fail = list(jobs), list(names), fail

    def list_jobs(self, *, include_idle=False):
        from proxycmd.errors import ProxyError

        if self.fail:
            raise ProxyError(self.fail)
        return self.jobs

    def schedds(self):
        return self.names


def _job(cluster, schedd):
    from proxycmd.session import JobInfo

    return JobInfo(cluster, 0, "running", "sleep", schedd=schedd)


def test_listing_rules():
    from sshconfig.joblist import list_everywhere
    from sshconfig.block.render import render_listed
    from sshconfig.block.settings import Route, Settings

    settings = Settings(routes=[Route("r.condor", "s2", None)], all_schedds=True)
    pools = {None: _Backend([_job(1, "local")], ["local", "s2", "s3", "odd@host"]),
             "s2": _Backend([_job(1, "s2")]), "s3": _Backend([_job(1, "s3"), _job(2, "s3")]),
             "local": _Backend([_job(1, "local")])}
    warned = []
    listed = list_everywhere(settings, lambda schedd, pool, only: pools[schedd], False, warned.append, all_schedds=True)
    text = render_listed(listed, settings)
    assert [line for line in text.splitlines() if line.startswith("Host ")] == [
        "Host 1.0.job.condor", "Host 1.0.s3.job.condor", "Host 2.0.s3.job.condor", "Host 1.0.r.condor"]
    assert len(warned) == 1 and "schedd odd@host are not listed" in warned[0] and "--route SUFFIX=odd@host" in warned[0]
    pools["s2"] = _Backend(fail="cannot list your jobs: no such schedd")
    warned.clear()
    listed = list_everywhere(settings, lambda schedd, pool, only: pools[schedd], False, warned.append)
    assert [item.suffix for item in listed] == ["job.condor"] and len(warned) == 1
    assert warned[0].startswith("schedd s2 (route r.condor) did not answer")


def test_a_pool_with_several_schedds_is_refused_naming_them():
    from proxycmd.backends.poolschedd import the_schedd
    from proxycmd.errors import ProxyError

    assert the_schedd("cm2", ["second@h"]) == "second@h"
    with pytest.raises(ProxyError) as info:
        the_schedd("cm2", ["b", "a"])
    assert str(info.value) == ("pool cm2 has 2 schedds (a, b) and the route names none; pick one with "
                               "`condor-job-ssh setup --route SUFFIX=a@cm2`")
    with pytest.raises(ProxyError, match="knows no schedd"):
        the_schedd("cm2", [])


def test_only_a_routes_pool_alone_picks_that_pools_schedd(monkeypatch):
    """`--pool P` of the block keeps HTCondor's meaning (the local schedd, in pool P); a route naming only
    a pool (--pool-only) asks P's collector and never uses the local schedd."""
    from proxycmd.backends.condor import queue as condor_jobs
    from proxycmd.backends.condor.backend import CondorBackend
    from proxycmd.errors import ProxyError

    asked = []
    names = {"cm2": ["second@h"], "cm3": ["b@h", "a@h"]}
    monkeypatch.setattr(condor_jobs.Queue, "schedd_names", lambda self: asked.append(self.pool) or names[self.pool])
    monkeypatch.setattr(condor_jobs.Queue, "jobs", lambda self, user, include_idle=False: [self.name])
    assert CondorBackend(pool="cm2").list_jobs() == [None] and asked == []
    assert CondorBackend(pool="cm2", pool_only=True).list_jobs() == ["second@h"] and asked == ["cm2"]
    with pytest.raises(ProxyError) as info:
        CondorBackend(pool="cm3", pool_only=True).list_jobs()
    assert "pool cm3 has 2 schedds (a@h, b@h)" in str(info.value) and "--route SUFFIX=a@h@cm3" in str(info.value)
