"""A near-miss host name gets the name it probably meant (issue 28, item 4): `ssh 2.o.job.condor` once said only
"there is no schedd named o"."""

from __future__ import annotations

import pytest

from conftest import proxy_said

from proxycmd.nearmiss import hint, likely


@pytest.mark.parametrize("typed, meant", [
    ("2.o.job.condor", "2.0.job.condor"),     # a letter o for the zero
    ("2.O.job.condor", "2.0.job.condor"),     # capital O
    ("2.I.job.condor", "2.1.job.condor"),
    ("l2.job.condor", "12.0.job.condor"),
    ("2,0.job.condor", "2.0.job.condor"),     # a comma for the dot
    ("2;0.job.condor", "2.0.job.condor"),
    ("2_0.job.condor", "2.0.job.condor"),
    ("2..0.job.condor", "2.0.job.condor"),    # a doubled dot
    ("2.00.job.condor", "2.0.job.condor"),    # a leading zero
    ("2.0.job.condr", "2.0.job.condor"),      # a misspelt suffix
    ("2.0.jobs.condor", "2.0.job.condor"),
    ("2.0.condor", "2.0.job.condor"),         # .job left out
])
def test_a_near_miss_gets_the_likely_name(typed, meant):
    assert likely(typed) == meant


@pytest.mark.parametrize("typed", ["2.0.job.condor", "2.job.condor", "2.0.job.condor.", "gpu.job.condor",
                                   "2.0.ap1.job.condor", "o.job.condor", "example.org", "", "x" * 300])
def test_a_good_name_or_one_far_from_a_job_gets_no_guess(typed):
    assert likely(typed) is None


def test_other_suffixes_are_used():
    assert likely("7.o.jobs.example", ["jobs.example"]) == "7.0.jobs.example"


def test_the_hint_follows_the_sentence():
    assert hint("there is no schedd named o", "2.o.job.condor") == \
        "there is no schedd named o (did you mean 2.0.job.condor?)"
    assert hint("job 2.0 is held", "2.0.job.condor") == "job 2.0 is held"


@pytest.mark.e2e
@pytest.mark.also_real
@pytest.mark.parametrize("typed", ["2.o.job.condor", "2.O.job.condor", "2..0.job.condor", "2.00.job.condor"])
def test_ssh_to_a_near_miss_says_which_name_was_probably_meant(world, typed):
    world.submit("sleep", "600")
    world.submit("sleep", "600")
    done = world.ssh(typed, "true", check=False)
    said = proxy_said(done.stderr)
    assert done.returncode == 255 and len(said) == 1, done.stderr
    assert said[0].endswith("(did you mean 2.0.job.condor?)"), said


@pytest.mark.e2e
def test_the_proxy_given_a_name_ssh_refuses_still_hints(world):
    """ssh refuses `2,0.job.condor` itself ("hostname contains invalid characters"); condor-job-ssh's commands
    and a ProxyCommand run by another client reach the proxy with it."""
    from conftest import tool

    done = world.run([tool("condor-job-proxy"), *world.proxy_args(), "2,0.job.condor"], check=False)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "',' is not allowed" in done.stderr and done.stderr.endswith("(did you mean 2.0.job.condor?)\n")
