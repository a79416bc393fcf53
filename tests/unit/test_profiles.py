"""Profiles and the watchdog, without ssh: the submit-description parser, HTCondor's argument syntax,
the job description we submit, the watchdog script run for real, sync's Host entries and doctor's check."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from proxycmd import condorargs, ondemand, submitfile, watchdog
from proxycmd.submitfile import ProfileError, parse
from sshconfig.profiles import template
from sshconfig.block.render import render_profile_hosts
from sshconfig.block.settings import Settings

from conftest import private_tmp, wait_for


# ----- the parser ----------------------------------------------------------------------------------------------
def test_parses_commands_attributes_comments_and_continuations():
    text = ("# comment\n\nrequest_cpus = 4\n+ProjectName = \"x\"\nmy.Foo=1\n"
            "requirements = (Arch == \"X86_64\") \\\n   && (OpSys == \"LINUX\")\n")
    entries = parse(text, "p.sub")
    assert [(e.line, e.key, e.value) for e in entries] == [
        (3, "request_cpus", "4"), (4, "MY.ProjectName", '"x"'), (5, "MY.Foo", "1"),
        (6, "requirements", '(Arch == "X86_64") && (OpSys == "LINUX")')]


@pytest.mark.parametrize("line, why", [
    ("executable = /bin/evil", "must not set executable"),
    ("Executable=/bin/evil", "must not set executable"),
    ("arguments = \"-c x\"", "must not set arguments"),
    ("args = x", "must not set args"),
    ("transfer_executable = true", "must not set transfer_executable"),
    ("+Cmd = \"/bin/evil\"", "must not set MY.Cmd"),
    ("MY.CondorJobProxyProfile = \"other\"", "must not set MY.CondorJobProxyProfile"),
    ("queue", "must not have a queue statement"),
    ("queue 10", "must not have a queue statement"),
    ("include : other.sub", "must not use 'include'"),
    ("INCLUDE command : touch /tmp/x |", "must not use 'include'"),
    ("  include ifexist : other.sub", "must not use 'include'"),
    ("request_cpus 4", "expected NAME = VALUE"),
    ("= 4", "expected NAME = VALUE"),
    ("request-cpus = 4", "expected NAME = VALUE"),
    ("MY.CondorJobProxyIdleTimeout = 10m", "whole number of seconds"),
    ("MY.CondorJobProxyLifetime = 0", "whole number of seconds"),
    ("request_cpus = 4\x07", "control character"),
    # issue 18: what replaces our program or queues several jobs (HTCondor's submit_utils.cpp)
    ("shell = /bin/evil", "must not set shell"),
    ("arguments2 = evil", "must not set arguments2"),
    ("allow_arguments_v1 = true", "must not set allow_arguments_v1"),
    ("Cmd = /bin/evil", "must not set cmd"),
    ("+PreCmd = \"/bin/evil\"", "must not set MY.PreCmd"),
    ("MY.PostCmd = \"/bin/evil\"", "must not set MY.PostCmd"),
    ("my.PreArguments = \"x\"", "must not set MY.PreArguments"),
    ("+PostEnvironment = \"A=1\"", "must not set MY.PostEnvironment"),
    ("interactive_executable = /bin/evil", "must not set interactive_executable"),
    ("queue 5", "must not have a queue statement"),
    ("iterate 5", "must not have a queue statement"),
    ("iterate = 5", "must not set iterate"),
    ("max_materialize = 5", "must not set max_materialize"),
])
def test_refuses_with_one_line_naming_file_and_line(line, why):
    with pytest.raises(ProfileError) as info:
        parse(f"request_memory = 1GB\n# x\n{line}\n", "/p/gpu.sub")
    message = str(info.value)
    assert message.startswith("/p/gpu.sub:3: ") and why in message and "\n" not in message, message


def test_htcondor_decides_what_the_profile_says():
    """Conditionals, macros and repeated commands are read by HTCondor's parser, not a second one of ours: a
    command hidden in a branch HTCondor takes is refused, one in a branch it skips is not there at all."""
    text = "if true\n  shell = /bin/evil\nendif\n"
    with pytest.raises(ProfileError, match=r"^p:2: a profile must not set shell"):
        parse(text, "p")
    entries = parse("if false\n  shell = /bin/evil\nelse\n  request_cpus = 2\nendif\nrequest_cpus = 3\n", "p")
    assert [(e.key, e.value) for e in entries] == [("request_cpus", "3")]
    with pytest.raises(ProfileError, match="must not have a queue statement"):
        parse("request_cpus = 1\nqueue\nshell = /bin/evil\n", "p")  # HTCondor stops reading at the queue line
    with pytest.raises(ProfileError, match="must not have a queue statement"):
        parse(f"{submitfile._END} = 1\nqueue\nshell = /bin/evil\n", "p")  # our end mark cannot be faked
    with pytest.raises(ProfileError, match=r"^p: a profile must not set shell"):
        parse("x = shell\n$(x) = /bin/evil\n", "p")  # HTCondor expands macros in command names too
    with pytest.raises(ProfileError, match=r"^p:2: a profile must not use 'include'"):
        parse("# a comment \\\ninclude command : touch /tmp/x |\n", "p")  # a comment line does not continue
    with pytest.raises(ProfileError, match=r"^p:3: a profile must not set shell"):
        parse("# a comment \\\nrequest_cpus = 1\nshell = x\n", "p")
    assert [(e.key, e.value.strip()) for e in parse("request_cpus = 1 \\\n", "p")] == [("request_cpus", "1")]


def test_the_template_parses_here_and_with_htcondor():
    text = template.render("gpu")
    entries = parse(text, "gpu.sub")
    assert submitfile.attribute(entries, "CondorJobProxyIdleTimeout") == "600"


def test_htcondor_refuses_what_it_cannot_parse():
    with pytest.raises(ProfileError, match=r"^bad.sub:1: HTCondor's submit parser refuses the profile"):
        parse("request_cpus 4\n", "bad.sub")
    with pytest.raises(ProfileError, match=r"^bad.sub: HTCondor's submit parser refuses the profile"):
        parse("if defined X\nrequest_cpus = 4\n", "bad.sub")  # no endif


def test_htcondors_own_words_on_a_refused_line_are_in_the_one_line_and_not_on_stderr(capfd):
    with pytest.raises(ProfileError) as refused:
        parse("request_cpus = 1\nif garbage\n", "bad.sub")
    said = str(refused.value)
    assert said.startswith("bad.sub:2: HTCondor's submit parser refuses the profile: ") and "garbage" in said, said
    assert "\n" not in said and not re.search(r"\d\d:\d\d:\d\d", said), said
    assert capfd.readouterr().err == ""  # HTCondor's timestamped log line went into ours


# ----- HTCondor's argument syntax -------------------------------------------------------------------------------
words = st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"), max_size=12),
                 max_size=6)


@settings(max_examples=300)
@given(words)
def test_arguments_round_trip(argv):
    assert condorargs.split(condorargs.quote(argv)) == argv


def test_arguments_examples():
    assert condorargs.split("\"-c 'a b' ''\"") == ["-c", "a b", ""]
    assert condorargs.split("\"'it''s' \"\"q\"\"\"") == ["it's", '"q"']
    for bad in ["-c x", "\"'open\"", "\"a \" b\""]:
        with pytest.raises(condorargs.ArgumentsError):
            condorargs.split(bad)


# ----- the job description --------------------------------------------------------------------------------------
def test_description_puts_the_profile_over_our_defaults_and_our_program_last():
    entries = parse("request_gpus = 1\nMY.CondorJobProxyIdleTimeout = 60\nperiodic_remove = NumJobStarts > 3\n", "p")
    d = ondemand.job_description("gpu", entries)
    assert d["request_gpus"] == "1" and d["MY.CondorJobProxyIdleTimeout"] == "60"
    assert d["MY.CondorJobProxyLifetime"] == str(watchdog.DEFAULT_LIFETIME)
    assert d["MY.CondorJobProxyProfile"] == '"gpu"' and d["MY.InteractiveJob"] == "True"
    assert d["periodic_remove"] == f"({ondemand.PERIODIC_REMOVE}) || (NumJobStarts > 3)"
    assert d["executable"] == "/bin/sh" and d["transfer_executable"] == "false"
    assert condorargs.split(d["arguments"]) == watchdog.argv()[1:]
    assert "$(" not in d["arguments"]  # condor_submit would expand it as a macro
    assert list(d)[-7:] == ["executable", "transfer_executable", "arguments", "kill_sig", "remove_kill_sig",
                            "hold_kill_sig", "MY.CondorJobProxyProfile"]


def test_removal_signal_is_ours_and_the_vacate_time_a_default():
    """The watchdog survives SIGTERM (every first session sends it) and exits on kill_sig: a profile cannot
    change that signal; it may give itself a longer vacate time."""
    d = ondemand.job_description("gpu", parse("Kill_Sig = SIGTERM\nhold_kill_sig = 9\njob_max_vacate_time = 60\n", "p"))
    assert [k for k in d if k.lower().endswith("kill_sig")] == ["kill_sig", "remove_kill_sig", "hold_kill_sig"]
    assert {d[k] for k in ("kill_sig", "remove_kill_sig", "hold_kill_sig")} == {watchdog.KILL_SIGNAL}
    assert d["job_max_vacate_time"] == "60"
    assert ondemand.job_description("gpu", [])["job_max_vacate_time"] == str(watchdog.VACATE_TIME)
    assert f"trap 'kill $! 2>/dev/null; exit 0' {watchdog.KILL_SIGNAL[3:]};" in watchdog.SCRIPT


def test_docker_universe_jobs_are_not_marked_interactive():
    d = ondemand.job_description("dk", parse("universe = docker\ndocker_image = debian\n", "p"))
    assert d["MY.InteractiveJob"] == "False"


def test_htcondor_accepts_the_description():
    htcondor2 = pytest.importorskip("htcondor2")
    d = ondemand.job_description("gpu", parse(template.render("gpu"), "p"))
    sub = htcondor2.Submit(d)
    assert sub["MY.CondorJobProxyProfile"] == '"gpu"' and sub["executable"] == "/bin/sh"


def test_profile_constraint_quotes_the_name():
    pytest.importorskip("classad2")
    from proxycmd.backends.condor.backend import profile_constraint

    assert profile_constraint("alice", "gpu") == ('Owner == "alice" && CondorJobProxyProfile == "gpu" && '
                                                  "(JobStatus == 1 || JobStatus == 2)")
    assert "CondorJobProxyProfile =!= undefined" in profile_constraint("alice")


def test_pick_prefers_running_then_oldest():
    from proxycmd.session import JobInfo

    jobs = [JobInfo(5, 0, "idle", ""), JobInfo(7, 0, "running", ""), JobInfo(3, 0, "held", ""), JobInfo(9, 0, "running", "")]
    assert ondemand.pick(jobs).cluster == 7
    assert ondemand.pick(jobs[:1] + jobs[2:3]).cluster == 5
    assert ondemand.pick([jobs[2]]) is None


# ----- the watchdog, run for real ---------------------------------------------------------------------------------
@pytest.fixture
def scratch(tmp_path):
    path = tmp_path / "scratch"
    path.mkdir()
    return path


def start_watchdog(scratch: Path, ad: str, grace: int = None) -> subprocess.Popen:
    script = watchdog.SCRIPT if grace is None else watchdog.SCRIPT.replace(f"grace={watchdog.GRACE};", f"grace={grace};")
    (scratch / ".job.ad").write_text(ad)
    env = {"PATH": os.environ["PATH"], "_CONDOR_SCRATCH_DIR": str(scratch), "_CONDOR_JOB_AD": str(scratch / ".job.ad")}
    return subprocess.Popen(["/bin/sh", "-c", script, watchdog.NAME], env=env, cwd=scratch)


def test_watchdog_is_one_line_of_posix_sh_without_submit_macros():
    assert "\n" not in watchdog.SCRIPT and "$(" not in watchdog.SCRIPT
    for shell in ("sh", "dash", "bash", "busybox"):
        found = shutil.which(shell)
        if found:
            argv = [found, "sh", "-n", "-c", watchdog.SCRIPT] if shell == "busybox" else [found, "-n", "-c", watchdog.SCRIPT]
            assert subprocess.run(argv).returncode == 0, shell


def test_watchdog_stays_while_a_session_directory_exists_and_ends_after_the_idle_timeout(scratch):
    session = scratch / ".condor_ssh_to_job_1"
    session.mkdir()
    dog = start_watchdog(scratch, "ClusterId = 1\nCondorJobProxyIdleTimeout = 2\n", grace=0)
    try:
        time.sleep(4)
        assert dog.poll() is None  # the session keeps it
        session.rmdir()
        (scratch / ".condor_ssh_to_job_2").mkdir()  # a new session, a new directory
        time.sleep(3)
        assert dog.poll() is None
        (scratch / ".condor_ssh_to_job_2").rmdir()
        assert wait_for(lambda: dog.poll() is not None, timeout=15)
        assert dog.returncode == 0
    finally:
        dog.kill()
        dog.wait()


def test_watchdog_waits_the_grace_period_for_the_first_session(scratch):
    dog = start_watchdog(scratch, "CondorJobProxyIdleTimeout = 1\n", grace=4)
    try:
        time.sleep(2.5)
        assert dog.poll() is None  # a 1 s timeout, but nobody has connected yet
        assert wait_for(lambda: dog.poll() is not None, timeout=15)
    finally:
        dog.kill()
        dog.wait()


def test_watchdog_ends_at_the_lifetime_even_with_a_session(scratch):
    (scratch / ".condor_ssh_to_job_1").mkdir()
    dog = start_watchdog(scratch, "CondorJobProxyIdleTimeout = 600\nCondorJobProxyLifetime = 2\n", grace=0)
    try:
        assert wait_for(lambda: dog.poll() is not None, timeout=15)
    finally:
        dog.kill()
        dog.wait()


def test_watchdog_ignores_a_bad_value_and_uses_the_default(scratch):
    dog = start_watchdog(scratch, "CondorJobProxyIdleTimeout = 1+1\nCondorJobProxyLifetime = x\n", grace=0)
    try:
        time.sleep(3)
        assert dog.poll() is None  # the default (600 s), not 2 s or 0
    finally:
        dog.kill()
        dog.wait()


# ----- sync and doctor -----------------------------------------------------------------------------------------
def test_sync_entries_for_profiles():
    text = render_profile_hosts(["gpu", "cpu", "Bad_name", "gpu"], Settings(suffix="x.condor"))
    assert text == ("Host cpu.x.condor\n    # profile: cpu | a job on demand from profiles/cpu.sub\n"
                    "Host gpu.x.condor\n    # profile: gpu | a job on demand from profiles/gpu.sub\n")


@pytest.fixture
def safe_tmp():
    """A private directory the settings directory may live in (not under /tmp: the product refuses a settings
    directory in a directory others can write, paths.check_config_dir)."""
    path = private_tmp("pf-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_doctor_check(monkeypatch, safe_tmp):
    tmp_path = safe_tmp
    from sshconfig.checks.profiles import check_profiles

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert check_profiles() == []
    profiles = tmp_path / "condor-job-proxy" / "profiles"
    profiles.mkdir(parents=True)
    (profiles / "gpu.sub").write_text(template.render("gpu"))
    [check] = check_profiles()
    assert check.state == "ok" and check.detail.startswith("gpu: valid")
    (profiles / "evil.sub").write_text("request_cpus = 1\nexecutable = /bin/evil\n")
    [check] = check_profiles()
    assert check.state == "fail" and check.detail == f"{profiles / 'evil.sub'}:2: a profile must not set executable: " \
        "condor-job-proxy runs its own program in the job (a watchdog that ends it when idle); remove that line"


# ----- find or submit, with a pool of our own --------------------------------------------------------------------
class FakeJobs:
    """A backend's profile jobs over a list: what a pool answers, and what was submitted."""

    def __init__(self, jobs=()):
        from proxycmd.session import JobInfo

        self.JobInfo = JobInfo
        self.jobs = list(jobs)
        self.submitted = []

    def submit_profile(self, profile, description):
        job = self.JobInfo(100 + len(self.submitted), 0, "idle", "")
        self.submitted.append(description)
        self.jobs.append((profile, job))
        return job

    def live_profile_jobs(self, profile=None):
        return [(name, job) for name, job in self.jobs if profile in (None, name)]

    def remove_job(self, job, reason=""):
        self.jobs = [(n, j) for n, j in self.jobs if j != job]


@pytest.fixture
def profile_home(monkeypatch, safe_tmp):
    tmp_path = safe_tmp
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    profiles = tmp_path / "config" / "condor-job-proxy" / "profiles"
    profiles.mkdir(parents=True)
    (profiles / "gpu.sub").write_text("request_gpus = 1\n")
    rundir = tmp_path / "run"
    rundir.mkdir(mode=0o700)
    return rundir


def test_a_job_that_ended_just_before_connecting_is_replaced_once(profile_home, capsys):
    from proxycmd.errors import SessionRefused
    from proxycmd.hostname import parse
    from proxycmd.session import JobInfo

    jobs = FakeJobs([("gpu", JobInfo(7, 0, "running", ""))])
    tried = []

    def open_session(addr):
        tried.append(addr.cluster)
        if addr.cluster == 7:
            jobs.jobs = []  # its watchdog ended it a moment ago
            raise SessionRefused("job 7.0 has completed (exit code 0)", status="completed")
        return f"session to {addr.job_id}"

    addr, attempt = ondemand.profile_opener(parse("gpu.job.condor"), jobs, profile_home, open_session)
    assert addr.cluster == 7 and addr.profile == "gpu"
    assert attempt() == "session to 100.0"
    assert tried == [7, 100] and len(jobs.submitted) == 1
    assert "submitted job 100.0 from profile gpu" in capsys.readouterr().err


def test_other_refusals_are_not_retried(profile_home):
    from proxycmd.errors import SessionRefused
    from proxycmd.hostname import parse
    from proxycmd.session import JobInfo

    jobs = FakeJobs([("gpu", JobInfo(7, 0, "running", ""))])

    def open_session(addr):
        raise SessionRefused("job 7.0 is held: out of memory", status="held")

    _, attempt = ondemand.profile_opener(parse("gpu.job.condor"), jobs, profile_home, open_session)
    with pytest.raises(SessionRefused, match="held"):
        attempt()
    assert jobs.submitted == []


def test_the_submitted_description_comes_from_the_profile(profile_home):
    from proxycmd.hostname import parse

    jobs = FakeJobs()
    addr = ondemand.find_or_submit(parse("gpu.ap1.job.condor"), jobs, profile_home, stream=open(os.devnull, "w"))
    assert (addr.cluster, addr.schedd, addr.profile) == (100, "ap1", "gpu")
    [description] = jobs.submitted
    assert description["request_gpus"] == "1" and description["MY.CondorJobProxyProfile"] == '"gpu"'
    assert (profile_home / "profile-gpu.lock").stat().st_mode & 0o777 == 0o600
    again = ondemand.find_or_submit(parse("gpu.job.condor"), jobs, profile_home)
    assert again.cluster == 100 and len(jobs.submitted) == 1


# ----- through an access point (setup --via): condor_q / condor_submit / condor_rm over ssh ----------------------
class FakeHop:
    """Stands in for proxycmd.backends.hop.run: records each command and answers from a script of replies."""

    def __init__(self, *replies):
        self.replies = list(replies)
        self.calls = []

    def __call__(self, dest, argv, *, config=None, input=None):
        self.calls.append((dest, argv, config, input))
        code, out, err = self.replies.pop(0)
        return subprocess.CompletedProcess(argv, code, out, err)


def test_hop_finds_submits_and_removes_with_the_condor_tools():
    import json

    from proxycmd.backends.hop.backend import HopBackend

    ad = {"ClusterId": 41, "ProcId": 0, "JobStatus": 2, "CondorJobProxyProfile": "gpu", "Owner": "alice"}
    hop = FakeHop((0, "", ""), (0, "42.0 - 42.0\n", ""), (0, json.dumps([ad]), ""), (0, json.dumps([ad]), ""),
                  (0, "", ""))
    jobs = HopBackend("ap1", config="/c", schedd="s1", run=hop)
    assert ondemand.find_profile_job(jobs, "gpu") is None
    description = ondemand.job_description("gpu", parse("request_gpus = 1\n", "p"))
    assert jobs.submit_profile("gpu", description).job_id == "42.0"
    assert ondemand.find_profile_job(jobs, "gpu").job_id == "41.0"
    [(name, info)] = jobs.live_profile_jobs()
    assert name == "gpu" and info.status == "running"
    jobs.remove_job(info, "")
    argvs = [call[1] for call in hop.calls]
    assert argvs[0][:5] == ["condor_q", "-name", "s1", "-json", "-attributes"]
    assert argvs[0][-2:] == ["-constraint", 'CondorJobProxyProfile == "gpu" && (JobStatus == 1 || JobStatus == 2)']
    assert argvs[1] == ["condor_submit", "-name", "s1", "-terse", "-"]
    assert argvs[4] == ["condor_rm", "-name", "s1", "41.0"]
    text = hop.calls[1][3]
    assert text.endswith("queue 1\n") and "request_gpus = 1\n" in text and 'MY.CondorJobProxyProfile = "gpu"\n' in text
    assert all(call[0] == "ap1" and call[2] == "/c" for call in hop.calls)
    htcondor2 = pytest.importorskip("htcondor2")
    sub = htcondor2.Submit(text)
    assert condorargs.split(sub["arguments"]) == watchdog.argv()[1:]


@pytest.mark.parametrize("reply, message", [
    ((255, "", "ssh: connect to host ap1 port 22: Connection refused\n"), "cannot reach the access point ap1"),
    ((127, "", "sh: condor_q: not found\n"), "has no condor_q on PATH"),
    ((1, "", "Error: can't find schedd\n  s1\n"), "condor_q on ap1 failed: Error: can't find schedd s1"),
    ((0, "<html>", ""), "printed something else than JSON"),
])
def test_hop_failures_are_one_line(reply, message):
    from proxycmd.backends.hop.backend import HopBackend
    from proxycmd.errors import ProxyError

    with pytest.raises(ProxyError) as info:
        ondemand.find_profile_job(HopBackend("ap1", run=FakeHop(reply)), "gpu")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_condor_submit_output_forms():
    from proxycmd.backends.hop.jobs import submitted_cluster

    assert submitted_cluster("42.0 - 42.0\n") == 42
    assert submitted_cluster("Submitting job(s).\n1 job(s) submitted to cluster 7.\n") == 7
    assert submitted_cluster("nothing\n") is None


def test_profile_commands_have_help_with_examples():
    from typer.testing import CliRunner

    from sshconfig.cli import build_app

    runner = CliRunner()
    for command in ("new", "list", "show", "stop"):
        done = runner.invoke(build_app(), ["profile", command, "--help"])
        assert done.exit_code == 0 and "Examples:" in done.output and f"condor-job-ssh profile {command}" in done.output


def test_profile_new_refuses_a_bad_name_and_an_existing_file(monkeypatch, safe_tmp):
    tmp_path = safe_tmp
    from typer.testing import CliRunner

    from sshconfig.cli import build_app

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    runner = CliRunner()
    assert runner.invoke(build_app(), ["profile", "new", "GPU"]).exit_code == 0
    path = tmp_path / "condor-job-proxy" / "profiles" / "gpu.sub"
    assert path.read_text() == template.render("gpu") and path.stat().st_mode & 0o777 == 0o600
    again = runner.invoke(build_app(), ["profile", "new", "gpu"])
    assert again.exit_code == 1 and "exists already" in again.output
    bad = runner.invoke(build_app(), ["profile", "new", "1gpu"])
    assert bad.exit_code == 2 and "is not a profile name" in bad.output
    show = runner.invoke(build_app(), ["profile", "show", "gpu"])
    assert show.exit_code == 0 and show.output.endswith("queue\n") and 'MY.CondorJobProxyProfile = "gpu"' in show.output
    missing = runner.invoke(build_app(), ["profile", "show", "cpu"])
    assert missing.exit_code == 2 and "no profile 'cpu'" in missing.output


def test_condor_profile_jobs_query_and_submit_through_the_bindings(monkeypatch):
    htcondor2 = pytest.importorskip("htcondor2")
    from proxycmd.backends.condor import queue as condor_jobs
    from proxycmd.backends.condor.backend import CondorBackend

    class Result:
        def cluster(self):
            return 58

    class FakeSchedd:
        def __init__(self):
            self.queries, self.submitted = [], []

        def query(self, constraint, projection):
            self.queries.append((constraint, projection))
            return [{"ClusterId": 57, "ProcId": 0, "JobStatus": 1, "CondorJobProxyProfile": "gpu"}]

        def submit(self, description, count):
            assert isinstance(description, htcondor2.Submit) and count == 1
            self.submitted.append(dict(description))
            return Result()

    schedd = FakeSchedd()
    monkeypatch.setattr(condor_jobs.Queue, "schedd", lambda self: schedd)
    monkeypatch.setattr(condor_jobs, "current_user", lambda: "alice")
    jobs = CondorBackend(schedd="ap1")
    found = ondemand.find_profile_job(jobs, "gpu")
    assert (found.job_id, found.status, found.schedd) == ("57.0", "idle", "ap1")
    constraint, projection = schedd.queries[0]
    assert constraint.startswith('Owner == "alice" && CondorJobProxyProfile == "gpu"') and "CondorJobProxyProfile" in projection
    made = jobs.submit_profile("gpu", ondemand.job_description("gpu", parse("request_gpus = 1\n", "p")))
    assert made.job_id == "58.0"
    [sent] = schedd.submitted
    assert sent["request_gpus"] == "1" and sent["MY.CondorJobProxyProfile"] == '"gpu"'
    assert jobs.live_profile_jobs()[0][0] == "gpu"
