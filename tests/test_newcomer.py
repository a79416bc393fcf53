"""What a new user trips over (issue 21): sim commands find the pool setup saved, setup warns about what
it can see, help and small edges."""

from __future__ import annotations

import subprocess

import pytest

from conftest import make_world, tool


@pytest.fixture
def sworld():
    yield from make_world(multiplex=True)


def cjs(world, *args, check=False, **kw):
    return world.run([tool("condor-job-ssh"), *args], check=check, **kw)


@pytest.mark.e2e
def test_sim_commands_use_the_root_setup_saved(sworld):
    job = cjs(sworld, "sim", "submit", "--", "sleep", "600", check=True).stdout.strip()  # no --root
    listed = cjs(sworld, "sim", "list", check=True).stdout
    assert job in listed and "running" in listed
    assert job in cjs(sworld, "sim", "list", "--root", str(sworld.sim_root), check=True).stdout
    assert f"simulated pool already running in {sworld.sim_root}" in cjs(sworld, "sim", "start").stdout
    held = cjs(sworld, "sim", "hold", job)
    assert held.returncode == 0 and f"job {job} is held" in held.stdout
