"""The HTCondor backend: the job ad -> decision mapping, condor_ssh_to_job's messages, the dialer hand-off
(through tests/support/fakes/condor_ssh_to_job on a simulated pool), the htcondor2 queries, and `doctor`."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from importlib.machinery import SourceFileLoader
from pathlib import Path

import classad2
import pytest
from hypothesis import given, settings, strategies as st

from conftest import FAKES, FAKE_POOL_ENV, flat_table, tool, wait_for
from proxycmd import condorargs
from proxycmd.backends.condor import ads as condor_ads, dialer_handoff, queue as condor_queue, refusals, run
from proxycmd.backends.condor import tool as condor_tool
from proxycmd.backends.condor.backend import CondorBackend
from proxycmd.dialer import NAME as DIALER_NAME, find as find_dialer
from proxycmd.errors import ProxyError, SessionRefused
from proxycmd.hostname import JobAddress, parse_job_id
from proxycmd.sim.client import SimPool

pytestmark = pytest.mark.world(backends=["condor"], scope="module")


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


# ----- sessions through the fake ---------------------------------------------------------------------------------
@pytest.fixture
def condor_env(world, monkeypatch):
    for key in ("PATH", FAKE_POOL_ENV, "TMP"):
        monkeypatch.setenv(key, world.env[key])
    return world


def newest_session_dir(world, job: str) -> Path:
    return max(world.sandbox(job).glob(".condor_ssh_to_job_*"), key=lambda p: p.stat().st_mtime)


def test_open_session_takes_the_connection_the_key_and_the_user(condor_env):
    world = condor_env
    job = world.submit("sleep", "600")
    session = CondorBackend().open_session(parse_job_id(job), keygen_options=["-t", "ed25519"])
    try:
        assert session.sock.recv(8) == b"SSH-2.0-"  # the job's sshd, on the starter connection
        sdir = newest_session_dir(world, job)
        assert session.private_key == (sdir / "sshkey").read_bytes()
        assert session.host_key == " ".join((sdir / "sshkey.pub").read_text().split()[:2])
        assert session.host_key.startswith("ssh-ed25519 ")
        assert session.user == world.run(["id", "-un"]).stdout.strip()
    finally:
        session.close()
    assert list(Path(world.env["TMP"]).iterdir()) == [], "condor_ssh_to_job's session directory was left behind"
    assert "PRIVATE KEY" not in repr(session)


def test_refusals_come_from_condor_ssh_to_job_without_a_schedd(condor_env):
    world = condor_env
    held = world.submit("sleep", "600")
    world.sim("hold", held, "--reason", "over its disk")
    idle = world.submit("sleep", "600", idle=True)
    backend = CondorBackend()
    with pytest.raises(SessionRefused) as info:
        backend.open_session(parse_job_id(held))
    assert (str(info.value), info.value.retryable) == (f"job {held} is held: over its disk", False)
    with pytest.raises(SessionRefused) as info:
        backend.open_session(parse_job_id(idle))
    assert (str(info.value), info.value.retryable, info.value.status) == (f"job {idle} is not running yet", True,
                                                                        "not running")
    assert backend._lookup_broken  # asked the (absent) schedd once for a better line, then stopped asking


class StubQueue:
    def __init__(self, ads):
        self.ads = ads
        self.asked = 0

    def job_ad(self, cluster, proc):
        self.asked += 1
        return self.ads.get(f"{cluster}.{proc}")


def test_the_schedds_ad_words_refusals_and_spares_tool_runs_while_waiting(condor_env):
    world = condor_env
    idle = world.submit("sleep", "600", idle=True)
    ended = world.submit("true")
    assert wait_for(lambda: any(j["id"] == ended and j["status"] == "completed" for j in SimPool(world.sim_root).jobs()))
    theirs = world.run([tool("condor-job-ssh"), "sim", "submit", "--owner", "alice", "--root", str(world.sim_root),
                        "--", "sleep", "600"]).stdout.strip()
    backend = CondorBackend()
    backend._queue = queue = StubQueue({idle: ad(JobStatus=1, Owner=ME), ended: ad(JobStatus=4, ExitCode=3, Owner=ME),
                                        theirs: ad(JobStatus=2, Owner="alice")})
    expected = {ended: f"job {ended} has completed (exit code 3); there is nothing to connect to",
                theirs: f"job {theirs} belongs to alice, not to you ({ME})",
                idle: f"job {idle} is idle: it has not started running yet"}
    for job, line in expected.items():
        with pytest.raises(SessionRefused, match=re.escape(line)):
            backend.open_session(parse_job_id(job))
    assert backend._waiting  # the idle job was refused retry-ably: the next try asks the schedd first
    backend._tool = "/nonexistent/condor_ssh_to_job"  # any run of the tool would now fail loudly
    asked = queue.asked
    with pytest.raises(SessionRefused, match="is idle"):
        backend.open_session(parse_job_id(idle))
    assert queue.asked == asked + 1
    queue.ads[idle] = ad(JobStatus=2, Owner=ME)  # it runs: now the tool is run again
    with pytest.raises(condor_tool.ToolError, match="cannot run /nonexistent/condor_ssh_to_job"):
        backend.open_session(parse_job_id(idle))


def test_remove_job_falls_back_to_condor_rm_without_a_schedd(condor_env):
    world = condor_env
    job = world.submit("sleep", "600")
    CondorBackend().remove_job(parse_job_id(job), reason="interrupted")
    assert next(j["status"] for j in SimPool(world.sim_root).jobs() if j["id"] == job) == "removed"
    with pytest.raises(ProxyError, match=r"^cannot remove job 99.0: Job 99.0 not found$"):
        CondorBackend().remove_job(parse_job_id("99.0"))


def test_a_failed_hand_over_cleans_up_the_session_directory_and_the_process(condor_env, tmp_path, monkeypatch):
    # A tool that makes a session directory, runs the dialer, serves no fdpass socket and never exits.
    sdir = tmp_path / "me.condor_ssh_to_job_abc"
    broken = _script(tmp_path / "bin" / "condor_ssh_to_job", f"""#!/bin/sh
mkdir -m 700 {sdir} && printf '%s\\n' '-----BEGIN OPENSSH PRIVATE KEY-----' > {sdir}/ssh_key
echo '* ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG' > {sdir}/known_hosts
dialer=$2; shift 2
$dialer -oUser=u -oIdentityFile={sdir}/ssh_key -oUserKnownHostsFile={sdir}/known_hosts \\
  '-oProxyCommand="x" "-proxy" "{sdir}/fdpass"' condor-job.h
echo $$ > {tmp_path}/pid
exec sleep 600
""")
    monkeypatch.setattr(run, "RELEASE_TIMEOUT", 1.0)
    start = time.monotonic()
    with pytest.raises(condor_tool.ToolError, match="cannot take the session's connection"):
        run.open_session(broken, find_dialer(), JobAddress(1), timeout=30)
    assert time.monotonic() - start < 10
    assert not sdir.exists()
    pid = int((tmp_path / "pid").read_text())
    assert not os.path.exists(f"/proc/{pid}") or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


@pytest.mark.parametrize("status", [0, 3])
def test_the_tool_ends_while_the_session_is_used_and_closing_waits_for_it(condor_env, tmp_path, capfd, status):
    """open_session returns once the connection and the key are ours, without waiting for condor_ssh_to_job
    to exit (it cleans up while the proxy registers the key); session.close() waits for it, and says so
    when it failed."""
    world = condor_env
    job = world.submit("sleep", "600")
    go = tmp_path / "go"
    slow = _script(tmp_path / "bin" / "condor_ssh_to_job", f"""#!/bin/sh
"{world.env['PATH'].split(':')[0]}/condor_ssh_to_job" "$@"
echo $$ > {tmp_path}/pid
while [ ! -e {go} ]; do sleep 0.05; done
exit {status}
""")
    session = run.open_session(slow, find_dialer(), parse_job_id(job), keygen_options=["-t", "ecdsa"])
    try:
        assert session.sock.recv(8) == b"SSH-2.0-"
        assert wait_for(lambda: (tmp_path / "pid").exists())  # the tool's own part is over...
        pid = int((tmp_path / "pid").read_text())
        os.kill(pid, 0)  # ...and it has not been waited for yet
        assert session.private_key.startswith(b"-----BEGIN ")
    finally:
        go.touch()
        session.close()
    with pytest.raises(ProcessLookupError):  # reaped by close()
        os.kill(pid, 0)
    assert not list(Path(world.env["TMP"]).glob("*.condor_ssh_to_job_*"))
    err = capfd.readouterr().err
    if status:
        assert f"condor-job-proxy: warning: condor_ssh_to_job exited with status {status} after handing" in err
    else:
        assert "warning" not in err
    session.close()  # a second close does nothing more


HEAVY_MODULES = ("typing", "dataclasses", "inspect", "shutil", "subprocess", "typer", "htcondor2",
                 "classad2", "cryptography",
                 # ~9 ms of CPU a connection between them (each imports re or a chain of its own)
                 "pathlib", "shlex", "json",
                 # ~10 ms more: argparse with what it imports, for a plain ProxyCommand line (cli._plain_args)
                 "argparse", "re", "gettext", "locale",
                 # ~5 ms more: socket with enum, selectors and functools (proxycmd/unixsock.py instead)
                 "socket", "enum", "selectors", "functools")


def test_a_connection_on_the_condor_path_imports_nothing_heavy(condor_env, tmp_path):
    """The whole ProxyCommand run, option parsing to hand-over through condor_ssh_to_job, without the
    modules that cost milliseconds per connection (site is left out, as a non-editable install has it)."""
    world = condor_env
    job = world.submit("sleep", "600")
    script = f"""
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from proxycmd import cli, handoff

def hand_over(conn, relay_wanted=False, watch=None):
    with open({str(tmp_path / "modules")!r}, "w") as out:
        out.write(" ".join(sorted(sys.modules)))
    return 0

handoff.hand_over = hand_over
cli.main(sys.argv[1:])
"""
    env = dict(world.env, PYTHONDONTWRITEBYTECODE="1")
    world.ssh(f"{job}.job.condor", "true")  # the agent runs (starting it is another matter)
    ours, theirs = socket.socketpair()  # as OpenSSH runs a ProxyCommand with ProxyUseFdpass (a relay, for
    with ours, theirs:                  # a client that is not ssh, also loads ctypes, and with it re)
        done = subprocess.run([sys.executable, "-S", "-c", script, "--runtime-dir", str(world.rundir),
                               f"{job}.job.condor"], env=env, stdin=theirs, stdout=theirs, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set((tmp_path / "modules").read_text().split())
    assert "proxycmd.backends.condor.run" in loaded and "proxycmd.agent.client" in loaded
    assert not loaded.intersection({"proxycmd.backends.condor.queue", "proxycmd.backends.condor.ads",
                                    "proxycmd.backends.condor.refusals"})  # a refusal's or a listing's only
    assert not loaded.intersection(HEAVY_MODULES), sorted(loaded.intersection(HEAVY_MODULES))


def test_timings_give_the_proxys_own_cpu_as_ssh_runs_it(condor_env):
    """--timings ends with the process's own CPU since exec, which bench/bench_condor.py reports per
    connection: the whole ProxyCommand run (interpreter start included), its children left out."""
    world = condor_env
    job = world.submit("sleep", "600")
    world.ssh(f"{job}.job.condor", "true")  # the agent runs
    ours, theirs = socket.socketpair()  # as OpenSSH gives it: one socket on fd 0 and 1 (ProxyUseFdpass)
    with ours:
        proxy = subprocess.Popen([tool("condor-job-proxy"), "--timings", "--runtime-dir", str(world.rundir),
                                  f"{job}.job.condor"], env=world.env, stdin=theirs, stdout=theirs,
                                 stderr=subprocess.PIPE, text=True)
        theirs.close()
        _, fds, _, _ = socket.recv_fds(ours, 1, 1)
        err = proxy.communicate(timeout=120)[1]
    for fd in fds:
        os.close(fd)
    assert proxy.returncode == 0 and len(fds) == 1, err
    found = re.search(r"timings: ready [0-9.]+ ms, session [0-9.]+ ms, register [0-9.]+ ms, cpu ([0-9.]+) ms$",
                      err.strip())
    assert found, err
    assert 0 < float(found.group(1)) < 60_000


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


# ----- doctor ------------------------------------------------------------------------------------------------------
def doctor(world, config=None):
    return world.run([tool("condor-job-ssh"), "doctor", "--ssh-config", str(config or world.ssh_config)], check=False)


def rows(output: str) -> dict:
    table = output.split("\n\n")[0].splitlines()[1:]
    return {m.group(1).strip(): m.group(2) for m in (re.match(r"(.+?)\s{2,}(OK|WARN|FAIL)\s", line) for line in table)
            if m}


def flat(text: str) -> str:
    """The table's words with its wrapping undone."""
    return flat_table(text)


def test_doctor_passes_with_only_the_schedd_as_a_warning(world):
    done = doctor(world)
    assert done.returncode == 0, done.stdout
    assert rows(done.stdout) == {"OpenSSH client": "OK", "ssh options": "OK", "condor_ssh_to_job": "OK",
                                 "schedd": "WARN", "ssh config": "OK", "login user": "OK", "runtime dir": "OK",
                                 "key agent": "OK", "recent failures": "OK"}
    assert "HTCondor 25.14.1" in flat(done.stdout) and DIALER_NAME in done.stdout
    assert "fix: connections still work" in flat(done.stdout)


def test_doctor_fails_with_a_fix_for_what_is_broken(world, tmp_path):
    world.rundir.mkdir(mode=0o700, exist_ok=True)
    world.rundir.chmod(0o755)
    try:
        done = doctor(world)
    finally:
        world.rundir.chmod(0o700)
    assert done.returncode == 1
    assert rows(done.stdout)["runtime dir"] == "FAIL" and f"fix: make it private: chmod 700 {world.rundir}" in flat(done.stdout)
    shadowed = tmp_path / "config"
    shadowed.write_text("Host *.condor\n    ProxyCommand none\n\n" + world.ssh_config.read_text())
    done = doctor(world, shadowed)
    assert done.returncode == 1 and rows(done.stdout)["ssh config"] == "FAIL"
    assert "'Host *.condor' above the managed block" in flat(done.stdout)
    bare = dict(world.env, PATH=os.pathsep.join(p for p in world.env["PATH"].split(os.pathsep) if "fakes" not in p))
    done = world.run([tool("condor-job-ssh"), "doctor", "--ssh-config", str(world.ssh_config)], check=False, env=bare)
    assert done.returncode == 1 and rows(done.stdout)["condor_ssh_to_job"] == "FAIL"
    assert "fix: install HTCondor's tools" in flat(done.stdout)


def test_doctor_reports_the_agent_once_it_runs(world):
    job = world.submit("sleep", "600")
    world.ssh(f"{job}.job.condor", "true")
    done = doctor(world)
    assert done.returncode == 0
    assert re.search(r"key agent\s+OK\s+pid \d+ answers", done.stdout)
