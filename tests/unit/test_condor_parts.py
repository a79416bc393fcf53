"""The HTCondor backend's parts on their own: the job ad -> decision mapping, condor_ssh_to_job's messages,
quoting and the dialer's words, finding and running the tool (no pool: tests/sim/test_condor_backend.py runs
sessions through tests/support/fakes/condor_ssh_to_job on a simulated pool, and `doctor`)."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from importlib.machinery import SourceFileLoader
from pathlib import Path

import classad2
import pytest
from hypothesis import given, settings, strategies as st

from conftest import FAKES, tool
from proxycmd import condorargs
from proxycmd.backends.condor import ads as condor_ads, dialer_handoff, queue as condor_queue, refusals, run
from proxycmd.backends.condor import tool as condor_tool
from proxycmd.dialer import NAME as DIALER_NAME, find as find_dialer
from proxycmd.hostname import JobAddress, parse_job_id


def _load_fake():
    loader = SourceFileLoader("fake_condor_ssh_to_job", str(FAKES / "condor_ssh_to_job"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


FAKE = _load_fake()
ME = condor_queue.current_user()


def ad(**attrs) -> classad2.ClassAd:
    return classad2.ClassAd(attrs)


# ----- the job ad -> decision ----------------------------------------------------------------------------------
@pytest.mark.parametrize("attrs, message, retryable, status", [
    (dict(JobStatus=1), "job 7.0 is idle: it has not started running yet", True, "idle"),
    (dict(JobStatus=2, TransferringInput=True), "job 7.0 is starting: its input files are still being transferred",
     True, "transferring input"),
    (dict(JobStatus=7), "job 7.0 is suspended", True, "suspended"),
    (dict(JobStatus=5, HoldReason="Job exceeded its memory request"),
     "job 7.0 is held: Job exceeded its memory request", False, "held"),
    (dict(JobStatus=5), "job 7.0 is held (no reason given)", False, "held"),
    (dict(JobStatus=4, ExitCode=3), "job 7.0 has completed (exit code 3); there is nothing to connect to", False,
     "completed"),
    (dict(JobStatus=4, ExitBySignal=True, ExitSignal=9),
     "job 7.0 has completed (killed by signal 9); there is nothing to connect to", False, "completed"),
    (dict(JobStatus=6, ExitCode=0), "job 7.0 has finished running (exit code 0) and is transferring its output; "
     "there is nothing to connect to", False, "completed"),
    (dict(JobStatus=3), "job 7.0 was removed", False, "removed"),
    (dict(JobStatus=2, Owner="alice"), f"job 7.0 belongs to alice, not to you ({ME})", False, "not-yours"),
    (None, "job 7.0 is not in the queue (it may have finished or been removed)", False, "unknown"),
])
def test_decide_refuses_with_the_jobs_state(attrs, message, retryable, status):
    refusal = condor_ads.decide(None if attrs is None else ad(**{"Owner": ME, **attrs}), "7.0", ME)
    assert (str(refusal), refusal.retryable, refusal.status) == (message, retryable, status)


def test_decide_connects_to_running_jobs_and_skips_the_owner_when_asked():
    assert condor_ads.decide(ad(JobStatus=2, Owner=ME, TransferringInput=False), "7.0", ME) is None
    assert condor_ads.decide(ad(JobStatus=2, Owner="alice"), "7.0", None) is None  # a queue super user's case
    undefined = classad2.ClassAd("[JobStatus = 2; Owner = undefined; HoldReason = error]")
    assert condor_ads.decide(undefined, "7.0", ME) is None


def test_job_info_from_an_ad():
    info = condor_ads.job_info(ad(ClusterId=12, ProcId=3, JobStatus=2, Cmd="/home/u/bin/train.py",
                                   Arguments="--epochs 10", RemoteHost="slot1_2@node7.example.org",
                                   JobCurrentStartDate=1700000000, QDate=1690000000, JobBatchName="sweep"), "ap1")
    assert (info.job_id, info.status, info.cmd, info.remote_host, info.since, info.batch_name, info.schedd) == (
        "12.3", "running", "train.py --epochs 10", "slot1_2@node7.example.org", 1700000000.0, "sweep", "ap1")
    idle = condor_ads.job_info(ad(ClusterId=1, ProcId=0, JobStatus=1, QDate=1690000000, Args="a b"))
    assert (idle.status, idle.since, idle.cmd) == ("idle", 1690000000.0, "a b")
    assert condor_ads.job_info(ad(JobStatus=2)) is None


def test_owner_constraint_quotes_the_name():
    text = condor_queue.owner_constraint('o"k', include_idle=True)
    assert classad2.ExprTree(text).eval(ad(Owner='o"k', JobStatus=1)) is True
    assert classad2.ExprTree(text).eval(ad(Owner="ok", JobStatus=1)) is False
    assert classad2.ExprTree(condor_queue.owner_constraint("u", False)).eval(ad(Owner="u", JobStatus=1)) is False


class StubSchedd:
    """What Queue uses of htcondor2.Schedd: query and act."""

    def __init__(self, ads):
        self.ads = ads
        self.queries, self.actions = [], []

    def query(self, constraint, projection, limit=-1):
        self.queries.append((constraint, projection, limit))
        hits = [a for a in self.ads if classad2.ExprTree(constraint).eval(a) is True]
        return hits[:limit] if limit >= 0 else hits

    def act(self, action, job_spec, reason=None):
        self.actions.append((action, job_spec, reason))


def test_queue_asks_one_projected_query_per_question():
    import htcondor2

    ads = [ad(ClusterId=c, ProcId=0, JobStatus=s, Owner=o, Cmd="/bin/sleep") for c, s, o in
           [(1, 2, ME), (2, 1, ME), (3, 2, "alice"), (4, 5, ME)]]
    queue = condor_queue.Queue("ap1")
    queue._schedd = stub = StubSchedd(ads)
    assert [j.job_id for j in queue.jobs(ME)] == ["1.0"]
    assert [j.job_id for j in queue.jobs(ME, include_idle=True)] == ["1.0", "2.0"]
    assert all(q[1] == condor_ads.PROJECTION for q in stub.queries) and len(stub.queries) == 2
    assert queue.job_ad(4, 0)["JobStatus"] == 5 and queue.job_ad(9, 0) is None
    assert queue.count(ME) == (3, 1)
    queue.remove(2, 0, "interrupted")
    assert stub.actions == [(htcondor2.JobAction.Remove, "2.0", "interrupted")]


def test_without_a_schedd_the_lookup_is_unavailable_not_an_error():
    with pytest.raises(condor_queue.LookupUnavailable, match="cannot locate the local schedd"):
        condor_queue.Queue().job_ad(1, 0)


# ----- condor_ssh_to_job's messages ------------------------------------------------------------------------------
SLOT = "slot1_1@node7.example.org"
ADDR = parse_job_id("7.0")


@pytest.mark.parametrize("code, stderr, message, retryable, status", [
    (1, 'The job is on hold: "Job exceeded its memory request".\n', "job 7.0 is held: Job exceeded its memory "
     "request", False, "held"),
    (1, 'Job is held: "via condor_hold".\n', "job 7.0 is held: via condor_hold", False, "held"),
    (1, "The job is on hold for an unknown reason.\n", "job 7.0 is held (no reason given)", False, "held"),
    (1, "Unable to fetch job ad; is it still in the queue?\n", "job 7.0 is not in the queue (it may have finished "
     "or been removed)", False, "unknown"),
    (1, "No such job: 7.0\n", "job 7.0 is not in the queue (it may have finished or been removed)", False, "unknown"),
    (1, "bob@example.org is not authorized for access to the starter for job 7.0\n",
     "job 7.0 belongs to another user, not to you (bob@example.org may not reach it)", False, "not-yours"),
    (1, "(Use -auto-retry to keep trying periodically.)\n", "job 7.0 is not running yet", True, "not running"),
    (1, "Job 7.0 is denied by SCHEDD_ENABLE_SSH_TO_JOB.\n", "job 7.0 may not be reached with ssh: its schedd refuses "
     "it (SCHEDD_ENABLE_SSH_TO_JOB is false for it); ask the pool's admins", False, "disabled"),
    (1, f"{SLOT}: Rejecting request, because ENABLE_SSH_TO_JOB=false\n", "job 7.0 may not be reached with ssh: its "
     "execute node node7.example.org refuses it (ENABLE_SSH_TO_JOB = false); ask the pool's admins", False, "disabled"),
    (1, f"{SLOT}: Retrying request, because the job execution environment is not yet ready.\n"
        "(Use -auto-retry to keep trying periodically.)\n", "job 7.0 is starting on node7.example.org: its execution "
     "environment is not ready yet (input files may still be transferring)", True, "starting"),
    (1, f"{SLOT}: Retrying request, because job not yet initialized.\n(Use -auto-retry to keep trying "
        "periodically.)\n", "job 7.0 is starting on node7.example.org: the starter has not set it up yet", True,
     "starting"),
    (1, f"{SLOT}: This slot is currently suspended.\n(Use -auto-retry to keep trying periodically.)\n",
     "job 7.0 is suspended on node7.example.org", True, "suspended"),
    (1, f"{SLOT}: Rejecting request, because the job is finished.\n", "job 7.0 has finished running on "
     "node7.example.org; there is nothing to connect to", False, "completed"),
    (1, "Job 7.0 does not support remote access.\n", "job 7.0 cannot be reached with ssh: it runs in a universe "
     "without a starter (grid or scheduler universe)", False, "error"),
    (1, "This is a parallel job.  Please specify job 7.0.X where X is an integer from 0 to 3.\n",
     "job 7.0 is a parallel job: name one of its nodes (0 to 3) in the host name, e.g. 7.0.0.job.condor", False,
     "error"),
    (1, "ERROR: Can't find address of local schedd\n", "cannot find the local schedd: HTCondor is not set up on this "
     "machine or its schedd is down (name one: condor-job-ssh setup --schedd NAME --pool HOST)", False, "error"),
    (1, "No such schedd named ap9 in pool cm.example.org\n", "there is no schedd named ap9 in pool cm.example.org",
     False, "error"),
    (1, "Can't connect to schedd\n", "cannot talk to the schedd about job 7.0: Can't connect to schedd", False,
     "error"),
    (1, "Failed to connect to starter\n", "cannot reach the starter of job 7.0: Failed to connect to starter", False,
     "error"),
    (1, "Error executing /opt/cjp/condor-job-proxy-dialer: Permission denied\n", "condor_ssh_to_job could not run "
     "/opt/cjp/condor-job-proxy-dialer: Permission denied", False, "error"),
    (2, "Unrecognized argument: -shells\n", "condor_ssh_to_job did not accept the arguments condor-job-proxy gave it: "
     "Unrecognized argument: -shells", False, "error"),
    (-9, "", "condor_ssh_to_job was killed by signal 9 while opening a session to job 7.0", False, "error"),
    (1, "Something new\nand more\n", "condor_ssh_to_job failed for job 7.0 (exit status 1):\x1eSomething new\x1eand "
     "more", False, "error"),  # its lines kept (proxycmd/said.py; issue 28, item 3)
    (1, "", "condor_ssh_to_job ended (exit status 1) without opening a session to job 7.0 and without saying why",
     False, "error"),
])
def test_explain_condor_ssh_to_job(code, stderr, message, retryable, status):
    refusal = refusals.explain(code, stderr, ADDR)
    assert (str(refusal), refusal.retryable, refusal.status) == (message, retryable, status)
    assert "\n" not in str(refusal)


# ----- quoting and the dialer's message --------------------------------------------------------------------------
words = st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=12),
                 min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(words)
def test_our_quoting_matches_htcondors_parsers(ws):
    # -keygen-options words go through HTCondor's V2 raw parser; the ProxyCommand comes back in
    # GetArgsStringSystem quoting (both as the fake implements them from condor_arglist.cpp)
    assert FAKE.split_args(" ".join(condorargs.quote_word(w) for w in ws)) == ws
    assert dialer_handoff.split_system_args(FAKE.args_string_system(ws)) == ws


def test_dialer_words_as_htcondor_25_passes_them():
    d = "/tmp/u.condor_ssh_to_job_1a2b3c"
    words = ["-oUser=condor-user", f"-oIdentityFile={d}/ssh_key", "-oStrictHostKeyChecking=yes",
             f"-oUserKnownHostsFile={d}/known_hosts", f"-oGlobalKnownHostsFile={d}/known_hosts",
             f'-oProxyCommand="/usr/bin/condor_ssh_to_job" "-debug" "-proxy" "{d}/fdpass"', "condor-job.node7"]
    args = dialer_handoff.parse_dialer_words(words)
    assert (args.user, args.identity_file, args.known_hosts, args.fdpass, args.host, args.directory) == (
        "condor-user", f"{d}/ssh_key", f"{d}/known_hosts", f"{d}/fdpass", "node7", d)
    odd = "/tmp/a $b`c\".condor_ssh_to_job_1"
    proxy = FAKE.args_string_system(["condor_ssh_to_job", "-proxy", f"{odd}/fdpass"])
    args = dialer_handoff.parse_dialer_words(["-X", "-oUser=u", f"-oIdentityFile={odd}/ssh_key",
                                           f"-oUserKnownHostsFile={odd}/known_hosts", f"-oProxyCommand={proxy}"])
    assert args.fdpass == f"{odd}/fdpass"


@pytest.mark.parametrize("drop, why", [("-oUser=", "-oUser="), ("-oProxyCommand=", "-oProxyCommand="),
                                       ("-oIdentityFile=", "-oIdentityFile=")])
def test_dialer_words_missing_an_option_fail_clearly(drop, why):
    d = "/tmp/u.condor_ssh_to_job_1"
    words = ["-oUser=u", f"-oIdentityFile={d}/ssh_key", f"-oUserKnownHostsFile={d}/known_hosts",
             f'-oProxyCommand="c" "-proxy" "{d}/fdpass"']
    with pytest.raises(condor_tool.ToolError, match=f"gave the dialer no {re.escape(why)}"):
        dialer_handoff.parse_dialer_words([w for w in words if not w.startswith(drop)])
    with pytest.raises(condor_tool.ToolError, match="not in one directory"):
        dialer_handoff.parse_dialer_words(words[:2] + ["-oUserKnownHostsFile=/elsewhere/known_hosts"] + words[3:])


def test_parse_message_waits_for_every_word_and_skips_stray_output():
    body = b"condor-job-proxy-dialer 1 3\n-oUser=u\0two\nlines\0\0"
    assert dialer_handoff.parse_message(b"noise\n" + body) == ["-oUser=u", "two\nlines", ""]
    assert dialer_handoff.parse_message(b"noise\n" + body[:-1]) is None
    assert dialer_handoff.parse_message(b"xcondor-job-proxy-dialer 1 0\n") is None


def run_dialer(*args, answer=b"done\n"):
    return subprocess.run([find_dialer(), *args], input=answer, capture_output=True, timeout=10)


def test_the_dialer_hands_over_its_words_and_waits_for_done():
    assert os.path.basename(find_dialer()) == DIALER_NAME and "-" in DIALER_NAME  # no SSH_TO_JOB_<NAME>_CMD
    args = ["-oUser=u", "-oIdentityFile=/d/ssh_key", '-oProxyCommand="c" "-proxy" "/d/fdpass"', "a b\nc", ""]
    done = run_dialer(*args)
    assert done.returncode == 0 and done.stderr == b""
    assert dialer_handoff.parse_message(done.stdout) == args
    gone = run_dialer(*args, answer=b"")
    assert gone.returncode == 1 and b"went away before it took the session" in gone.stderr
    bad = run_dialer("-oUser=u", "host")
    assert bad.returncode == 2 and bad.stdout == b""
    assert bad.stderr.decode().startswith("condor-job-proxy-dialer: the arguments lack -oUser=, -oIdentityFile= or")


# ----- finding condor_ssh_to_job ---------------------------------------------------------------------------------
def _script(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def test_find_tool_prefers_the_environment_then_path_and_never_our_shim(tmp_path):
    real = _script(tmp_path / "condor" / "condor_ssh_to_job", "#!/bin/sh\nexit 0\n")
    _script(tmp_path / "shim" / "condor_ssh_to_job",
                   "#!/usr/bin/python3\nimport sys\nfrom sshconfig.classic import main\nsys.exit(main())\n")
    _script(tmp_path / "newer" / "condor_ssh_to_job",  # the shim's entry since it moved among the commands
            "#!/usr/bin/python3\nimport sys\nfrom sshconfig.commands.classic import main\nsys.exit(main())\n")
    assert condor_tool.find_tool({"CONDOR_SSH_TO_JOB": real, "PATH": str(tmp_path / "shim")}) == real
    assert condor_tool.find_tool({"PATH": f"{tmp_path / 'condor'}:{tmp_path / 'shim'}"}) == real
    with pytest.raises(condor_tool.ToolError, match="own classic shim"):
        condor_tool.find_tool({"PATH": str(tmp_path / "shim")})
    with pytest.raises(condor_tool.ToolError, match="own classic shim"):
        condor_tool.find_tool({"PATH": str(tmp_path / "newer")})
    (tmp_path / "linked").mkdir()
    os.symlink(tool("condor-ssh-to-job"), tmp_path / "linked" / "condor_ssh_to_job")
    with pytest.raises(condor_tool.ToolError, match="own classic shim"):
        condor_tool.find_tool({"PATH": str(tmp_path / "linked")})
    with pytest.raises(condor_tool.ToolError, match="not an executable file"):
        condor_tool.find_tool({"CONDOR_SSH_TO_JOB": "relative/condor_ssh_to_job"})


def test_find_tool_never_takes_one_from_the_working_directory(tmp_path, monkeypatch):
    """An empty or relative PATH entry is the directory ssh runs in: another user's condor_ssh_to_job there
    must not run as ours."""
    planted = _script(tmp_path / "shared" / "condor_ssh_to_job", "#!/bin/sh\nexit 0\n")
    real = _script(tmp_path / "condor" / "condor_ssh_to_job", "#!/bin/sh\nexit 0\n")
    monkeypatch.chdir(tmp_path / "shared")
    for path in (f":{tmp_path / 'condor'}", f".:{tmp_path / 'condor'}", f"{tmp_path / 'condor'}::"):
        assert condor_tool.find_tool({"PATH": path}) == real, path
    assert os.path.exists(planted)
    monkeypatch.setattr(condor_tool, "_from_config", lambda: None)
    with pytest.raises(condor_tool.ToolError, match="cannot find"):
        condor_tool.find_tool({"PATH": ":."})


@settings(max_examples=1500)
@given(st.text(alphabet=" \t\r\n\x0b\x0c\xa0-_.=/@%#'\"\\$*aZ09é", max_size=40)
       | st.lists(st.sampled_from(["-t", "ecdsa", "-b", "256", "ed25519", "-N", "''", '"a b"', "\\ "]), max_size=6)
       .map(" ".join))
def test_keygen_options_split_as_shlex_does(text):
    """The ProxyCommand splits --keygen-options without shlex where no quote or escape is in it (shlex
    costs its import of re): the words must be shlex's own, and bad quoting still one usage error."""
    import shlex

    from proxycmd.connect import split_words
    from proxycmd.errors import UsageError

    try:
        expected = shlex.split(text)
    except ValueError:
        with pytest.raises(UsageError, match="bad --keygen-options"):
            split_words(text, "--keygen-options")
    else:
        assert split_words(text, "--keygen-options") == expected


def test_the_tool_gets_its_own_session_default_sigpipe_and_no_descriptor_of_ours(tmp_path):
    """What Popen(start_new_session=True, close_fds=True) gave the tool, os.posix_spawn must give too."""
    keep_r, keep_w = os.pipe()
    os.set_inheritable(keep_w, True)
    try:
        probe = _script(tmp_path / "condor_ssh_to_job", f"""#!/bin/sh
echo "session $(cut -d' ' -f6 /proc/$$/stat) pid $$" >&2
grep SigIgn /proc/$$/status >&2
[ -e /proc/$$/fd/{keep_w} ] && echo "inherited {keep_w}" >&2
exit 1
""")
        with pytest.raises(run.ToolFailed) as failed:
            run.open_session(probe, find_dialer(), JobAddress(1), timeout=30)
    finally:
        os.close(keep_r)
        os.close(keep_w)
    err = failed.value.stderr
    assert failed.value.returncode == 1
    session, pid = re.search(r"session (\d+) pid (\d+)", err).groups()
    assert session == pid
    ignored = int(re.search(r"SigIgn:\s*([0-9a-f]+)", err).group(1), 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1))
    assert "inherited" not in err


def test_a_tool_that_cannot_be_run_is_one_line(tmp_path):
    bad = _script(tmp_path / "condor_ssh_to_job", "#!/nonexistent/interpreter\n")
    with pytest.raises(condor_tool.ToolError, match=r"cannot run .*condor_ssh_to_job: No such file"):
        run.open_session(bad, find_dialer(), JobAddress(1), timeout=30)


def test_a_tool_that_hangs_is_given_up_on(tmp_path):
    hung = _script(tmp_path / "condor_ssh_to_job", "#!/bin/sh\nexec sleep 600\n")
    start = time.monotonic()
    with pytest.raises(condor_tool.ToolError, match="did not open a session within 1 s"):
        run.open_session(hung, find_dialer(), JobAddress(1), timeout=1.0)
    assert time.monotonic() - start < 10


def test_the_tool_is_stopped_when_we_are_interrupted(tmp_path):
    hung = _script(tmp_path / "condor_ssh_to_job", f"#!/bin/sh\necho $$ > {tmp_path}/pid\nexec sleep 600\n")
    previous = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(KeyboardInterrupt):
            run.open_session(hung, find_dialer(), JobAddress(1), timeout=60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
