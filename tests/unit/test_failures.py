"""The last failure per host, kept for `doctor`; and the advice added to a held job's sentence."""

from __future__ import annotations

import shutil

import pytest

from proxycmd import advice, failures, paths
from proxycmd.errors import ProxyError, SessionRefused
from proxycmd.paths import PathError


@pytest.fixture
def state(monkeypatch):
    from conftest import private_tmp

    base = private_tmp("fl-")  # not under /tmp: the state directory must pass the safe-chain rule
    monkeypatch.setenv("XDG_STATE_HOME", str(base / "state"))
    yield base / "state"
    shutil.rmtree(base, ignore_errors=True)


def test_the_last_failure_per_host_is_kept_newest_first(state):
    failures.record("1.0.job.condor", "condor-job-proxy: job 1.0 is held: x", now=1000.0)
    failures.record("2.0.job.condor", "condor-job-proxy: job 2.0 is not in the queue", now=1001.0)
    failures.record("1.0.job.condor", "condor-job-proxy: job 1.0 is idle", now=1002.0)
    items = failures.recent(now=1003.0)
    assert [(i["host"], i["sentence"]) for i in items] == [
        ("1.0.job.condor", "condor-job-proxy: job 1.0 is idle"),
        ("2.0.job.condor", "condor-job-proxy: job 2.0 is not in the queue")]
    where = paths.failures_dir()
    assert where.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in where.iterdir())
    assert not [p for p in where.iterdir() if p.name.endswith(".tmp")]


def test_only_recent_ones_are_kept(state):
    for i in range(failures.KEEP + 5):
        failures.record(f"{i + 1}.0.job.condor", "s", now=1000.0 + i)
    assert len(list(paths.failures_dir().iterdir())) == failures.KEEP
    failures.record("99.0.job.condor", "new", now=1000.0 + failures.MAX_AGE + 100)
    assert [i["host"] for i in failures.recent(now=1000.0 + failures.MAX_AGE + 100)] == ["99.0.job.condor"]
    assert len(list(paths.failures_dir().iterdir())) == 1


def test_a_planted_symlink_is_replaced_not_followed(state, tmp_path):
    failures.record("1.0.job.condor", "first", now=1.0)
    (record,) = paths.failures_dir().iterdir()
    victim = tmp_path / "victim"
    victim.write_text("mine")
    record.unlink()
    record.symlink_to(victim)
    assert failures.recent(now=2.0) == []  # a link is not read either
    failures.record("1.0.job.condor", "second", now=2.0)
    assert victim.read_text() == "mine"
    assert not record.is_symlink() and failures.recent(now=3.0)[0]["sentence"] == "second"


def test_a_failures_directory_that_is_a_symlink_is_refused(state, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    state.mkdir(parents=True)
    (state / paths.APP).mkdir()
    (state / paths.APP / "failures").symlink_to(elsewhere)
    with pytest.raises(PathError):
        failures.record("1.0.job.condor", "x")
    assert list(elsewhere.iterdir()) == []
    assert failures.recent() == []


def test_doctor_shows_recent_failures(state):
    from proxycmd.checkresult import OK, WARN
    from sshconfig.checks.recent_failures import check_recent_failures

    assert check_recent_failures(now=5000.0).state == OK
    failures.record("7.0.job.condor", "condor-job-proxy: job 7.0 is held: quota", now=4000.0)
    check = check_recent_failures(now=5000.0)
    assert check.state == WARN
    assert "7.0.job.condor (16 min ago): condor-job-proxy: job 7.0 is held: quota" in check.detail


def test_held_jobs_name_the_command_that_releases_them():
    held = SessionRefused("job 5.0 is held: over its memory request", status="held")
    assert str(advice.advise(held, "5.0")) == ("job 5.0 is held: over its memory request; after fixing the cause, "
                                               "release it with: condor_release 5.0")
    assert str(advice.advise(held, "5.0", schedd="ap2.example.org")).endswith(
        "condor_release -name ap2.example.org 5.0")
    image = SessionRefused("job 6.0 is held: Error from slot1@ep: Cannot pull image cjp/missing:1", status="held")
    assert str(advice.advise(image, "6.0")).endswith(
        "Cannot pull image cjp/missing:1; submit it again with an image the execute node can pull "
        "(docs/containers.md), or retry as it is with: condor_release 6.0")
    assert str(advice.advise(held, "5.0", sim_root="/tmp/my pool")).endswith(
        "condor-job-ssh sim release 5.0 --root '/tmp/my pool'")
    idle = SessionRefused("job 5.0 is idle", retryable=True, status="idle")
    assert advice.advise(idle, "5.0") is idle
    other = ProxyError("x")
    assert advice.advise(other, "5.0") is other


def test_a_long_hold_reason_is_shortened_so_the_hint_fits_what_ssh_prints():
    held = SessionRefused("job 5.0 is held: " + "very long reason " * 60, status="held")
    sentence = str(advice.advise(held, "5.0"))
    assert sentence.endswith("release it with: condor_release 5.0")
    assert len(("condor-job-proxy: " + sentence).encode()) <= 400


def test_doctor_prints_a_recorded_host_with_control_characters_as_one_line(state):
    from sshconfig.checks.recent_failures import check_recent_failures

    failures.record("1.0\x1b[2J\n.job.condor", "condor-job-proxy: bad\x07 name", now=10.0)
    detail = check_recent_failures(now=20.0).detail
    assert detail.isprintable() and "1.0?[2J?.job.condor" in detail and "bad? name" in detail


def test_the_proxys_options_name_the_schedd_and_pool_to_release_on():
    import argparse

    held = SessionRefused("job 5.0 is held: x", status="held")
    args = argparse.Namespace(host="5.0.ap2.example.org.job.condor", suffix=None, sim=None, schedd=None,
                              pool="cm.example.org")
    assert str(advice.advise_for(held, args)).endswith(
        "condor_release -pool cm.example.org -name ap2.example.org 5.0")
    args.host = "not a host"
    assert advice.advise_for(held, args) is held


def test_records_are_kept_per_place_and_doctor_shows_only_its_own(state):
    """A demo's job 1.0 and the user's real job 1.0 never share or show each other's records."""
    from sshconfig.checks.recent_failures import check_recent_failures
    from sshconfig.block.settings import Settings

    demo = failures.where_key(sim_root="/tmp/cjp-demo-x/pool")
    real = failures.where_key(schedd=None, pool=None)
    failures.record("1.0.job.condor", "condor-job-proxy: job 1.0 is held: demo", now=100.0, where=demo)
    failures.record("1.0.job.condor", "condor-job-proxy: job 1.0 is held: real", now=101.0, where=real)
    assert len(failures.recent(now=102.0)) == 2  # two records: the second did not replace the first
    detail = check_recent_failures(now=102.0, settings=Settings()).detail
    assert "real" in detail and "demo" not in detail
    detail = check_recent_failures(now=102.0, settings=Settings(sim_root="/tmp/cjp-demo-x/pool")).detail
    assert "demo" in detail and "real" not in detail


def test_a_record_older_than_the_job_now_holding_its_id_is_dropped(state):
    from sshconfig.checks.recent_failures import check_recent_failures
    from sshconfig.block.settings import Settings

    root = "/srv/pool"
    where = failures.where_key(sim_root=root)
    failures.record("1.0.job.condor", "condor-job-proxy: job 1.0 is not in the queue", now=100.0, where=where)
    failures.record("2.0.job.condor", "condor-job-proxy: job 2.0 is held: x", now=100.0, where=where)
    check = check_recent_failures(now=200.0, settings=Settings(sim_root=root), jobs=lambda: {"1.0": 150.0, "2.0": 50.0})
    assert "1.0.job.condor" not in check.detail and "2.0.job.condor" in check.detail
    assert [item["host"] for item in failures.recent(now=200.0)] == ["2.0.job.condor"]  # the old record is gone


def test_one_failure_per_line_and_the_command_of_each_marked_for_the_table(state):
    from sshconfig.checks.recent_failures import check_recent_failures

    failures.record("1.0.job.condor", "condor-job-proxy: job 1.0 is held: q; after fixing the cause, release it "
                                      "with: condor_release 1.0", now=10.0)
    failures.record("9.0.job.condor", "condor-job-proxy: job 9.0 is not in the queue; you have no running jobs "
                                      "(list your jobs with: condor_q)", now=11.0)
    lines = check_recent_failures(now=12.0).detail.split("\n")
    assert len(lines) == 2
    assert lines[0].endswith("(list your jobs with: condor_q)")  # one word: stays in the prose
    assert lines[1].endswith("release it with: `condor_release 1.0`")


def test_a_command_in_parentheses_is_moved_out_of_them_for_its_own_line(state):
    from sshconfig.checks.recent_failures import check_recent_failures

    failures.record("9.0.job.condor", "condor-job-proxy: job 9.0 is not in the queue; your running job: 2.0 "
                                      "(list them with: condor-job-ssh sim list --root /p)", now=11.0)
    assert check_recent_failures(now=12.0).detail.endswith(
        "your running job: 2.0; list them with: `condor-job-ssh sim list --root /p`")
