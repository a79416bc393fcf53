"""What the proxy learns about the ssh that runs it (proxycmd/sshparent.py) and how long it waits."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from proxycmd import sshparent, waiting
from proxycmd.errors import SessionRefused


@pytest.mark.parametrize("args, quiet", [
    (["32.0.job.condor", "true"], False),
    (["-q", "32.0.job.condor"], True),
    (["-qT", "32.0.job.condor"], True),
    (["-q", "-v", "32.0.job.condor"], False),
    (["32.0.job.condor", "-q"], True),  # ssh reads options after the destination too
    (["32.0.job.condor", "ls", "-q"], False),  # ...but not in the command
    (["-oLogLevel=QUIET", "h"], True),
    (["-o", "LogLevel fatal", "h"], True),
    (["-o", "LogLevel=error", "h"], False),  # ssh prints the disconnect at level ERROR
    (["-oLogLevel=info", "-oLogLevel=quiet", "h"], False),  # the first -o wins
    (["-F", "-q", "h"], False),  # -q is -F's argument here
    (["-lq", "h"], False),
])
def test_quiet_ssh_follows_ssh_option_rules(args, quiet):
    assert sshparent.quiet_ssh(args) is quiet


def test_parent_argv_reads_the_real_command_line():
    child = subprocess.run([sys.executable, "-c", "import os,sys; from proxycmd import sshparent; "
                            "print(sshparent.parent_argv(os.getppid()))"], capture_output=True, text=True)
    with open(f"/proc/{os.getpid()}/cmdline", "rb") as f:
        ours = [word.decode() for word in f.read().split(b"\0")[:-1]]
    assert child.returncode == 0 and child.stdout.strip() == repr(ours), child


def test_a_client_other_than_ssh_on_pipes_gets_our_line():
    assert sshparent.prints_disconnect(os.getpid(), fd_mode=False) is False  # we are python, not ssh


def test_a_pipe_of_the_parent_is_reached_and_dev_null_is_not():
    code = ("import os; from proxycmd import sshparent; fd = sshparent.open_ssh_stderr(os.getppid()); "
            "os.write(fd, b'reached\\n') if fd is not None else print('none')")
    piped = subprocess.run([sys.executable, "-c", f"import subprocess,sys; subprocess.run([sys.executable, '-c', "
                            f"{code!r}], stderr=subprocess.DEVNULL)"], capture_output=True, text=True)
    assert piped.stderr == "reached\n", piped
    silent = subprocess.run([sys.executable, "-c", f"import subprocess,sys; subprocess.run([sys.executable, '-c', "
                             f"{code!r}], stderr=subprocess.DEVNULL)"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert silent.stdout == "none\n"


def test_a_file_not_opened_for_appending_is_left_alone(tmp_path):
    code = ("import os; from proxycmd import sshparent; "
            "print(sshparent.open_ssh_stderr(os.getppid()) is None)")
    outer = f"import subprocess,sys; subprocess.run([sys.executable, '-c', {code!r}], stderr=subprocess.DEVNULL)"
    for mode, expected in (("w", "True"), ("a", "False")):
        with open(tmp_path / "log", mode) as log:
            done = subprocess.run([sys.executable, "-c", outer], stdout=subprocess.PIPE, stderr=log, text=True)
        assert done.stdout.strip() == expected, mode


@pytest.mark.parametrize("given, terminal, limit", [
    (None, True, None), (None, False, waiting.NO_TERMINAL_LIMIT), (0.0, False, None), (30.0, True, 30.0),
])
def test_the_wait_limit_depends_on_a_terminal_only_when_none_was_given(given, terminal, limit):
    assert waiting.limit_for(given, terminal) == limit


def test_without_a_terminal_the_wait_is_said_once_with_its_limit(tmp_path):
    import io

    out = io.StringIO()
    progress = waiting.Progress("job 5.0", stream=out, every=0.0, limit=600)
    for waited in (0, 31, 62):
        progress.update("idle", waited, "job 5.0 is idle: not matched yet")
    progress.done(63, ok=True)
    assert out.getvalue().splitlines() == [
        "condor-job-proxy: job 5.0 is idle: not matched yet; waiting for it to run (up to 10m00s)",
        "condor-job-proxy: job 5.0 is running after 1m03s; connecting"]


def test_a_job_whose_starter_is_not_ready_is_waited_for_to_be_ready_not_to_run():
    import io

    out = io.StringIO()
    progress = waiting.Progress("job 1.0", stream=out, every=0.0, limit=600)
    progress.update("starting", 0, "job 1.0 is running, but its starter does not answer yet")
    progress.done(9, ok=True)
    assert out.getvalue().splitlines() == [
        "condor-job-proxy: job 1.0 is running, but its starter does not answer yet; waiting for it to be ready "
        "(up to 10m00s)",
        "condor-job-proxy: job 1.0 is ready after 0m09s; connecting"]


class FakeClock:
    """time.monotonic and time.sleep for waiting.py: sleeping moves the clock, nothing waits."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize("status, quick, expected", [
    ("starting", True, [1.0, 1.1, 1.2, 1.3, 1.5, 1.6, 1.8, 1.9, 2.1, 2.4]),  # +a tenth of the time waited
    ("starting", False, [5.0] * 10),  # an explicit --poll is kept
    ("idle", True, [5.0] * 10),  # a queued job: the tool's own rhythm
])
def test_a_starting_job_is_tried_again_soon_and_then_less_often(monkeypatch, status, quick, expected):
    clock = FakeClock()
    monkeypatch.setattr(waiting.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(waiting.time, "sleep", clock.sleep)
    tries = []

    def attempt():
        tries.append(clock.now)
        if len(tries) <= len(expected):
            raise SessionRefused("not yet", retryable=True, status=status)
        return "session"

    out = io.StringIO()
    got = waiting.open_with_wait(attempt, what="job 1.0", interval=5.0, quick_while_starting=quick,
                                 progress=waiting.Progress("job 1.0", stream=out))
    assert got == "session"
    assert [round(b - a, 1) for a, b in zip(tries, tries[1:])] == expected
    assert waiting.pause_after("starting", 5.0, 3600.0) == 5.0  # a container image fetched for an hour


def test_not_queued_names_at_most_five_jobs_and_says_when_there_are_none():
    from proxycmd import advice
    from proxycmd.errors import SessionRefused

    exc = SessionRefused("job 9.0 is not in the queue", status="unknown")
    many = advice.not_queued(exc, [f"{i}.0" for i in range(1, 8)], "condor_q")
    assert str(many) == "job 9.0 is not in the queue; your running jobs: 1.0, 2.0, 3.0, 4.0, 5.0, ... " \
                        "(list them with: condor_q)"
    assert str(advice.not_queued(exc, ["3.0"], "condor_q")).endswith("your running job: 3.0 (list them with: condor_q)")
    assert str(advice.not_queued(exc, [], "x")) == "job 9.0 is not in the queue; you have no running jobs " \
                                                   "(list your jobs with: x)"
    assert advice.list_command(schedd="ap2", via="ap1") == "ssh ap1 condor_q -name ap2"


@pytest.mark.parametrize("args, tty, command", [
    (["h"], None, False), (["-t", "h"], True, False), (["-T", "h", "ls"], False, True), (["h", "ls"], None, True),
    (["-tt", "-F", "cfg", "h"], True, False), (["--", "h"], None, False), (["--", "h", "ls"], None, True),
    (["h", "--", "ls"], None, True),
])
def test_read_ssh_args_sees_terminal_requests_and_commands(args, tty, command):
    asked = sshparent.read_ssh_args(args)
    assert (asked["tty"], asked["command"]) == (tty, command)
