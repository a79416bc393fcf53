"""tests/support/fakes/condor_ssh_to_job keeps HTCondor's condor_ssh_to_job contract (ssh_to_job.cpp, 25.x).

The condor backend is tested through this fake, so its options, messages, exit statuses, session
directory and the argument list it hands the ssh program are pinned here, as docs/design-facts.md: "How condor_ssh_to_job opens a session, step by step" and "Measured: the hand-over against the classic tool (real HTCondor 25.14 pool)"
describe the real tool.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import make_world, tool, wait_for
from proxycmd.sim.client import SimPool

pytestmark = pytest.mark.world(backends=["condor"], scope="module")

HINT = "(Use -auto-retry to keep trying periodically.)"
RECORDER = f"""#!{sys.executable}
# Records what condor_ssh_to_job handed its ssh program, and how the session directory looked.
import json, os, stat, sys, time
args = sys.argv[1:]
key = next(a.split("=", 1)[1] for a in args if a.startswith("-oIdentityFile="))
d = os.path.dirname(key)
mode = lambda p: stat.S_IMODE(os.lstat(p).st_mode)
rec = {{"argv0": sys.argv[0], "args": args, "dir": d, "dir_mode": mode(d), "key_mode": mode(key),
        "known_hosts_mode": mode(os.path.join(d, "known_hosts")),
        "known_hosts": open(os.path.join(d, "known_hosts")).read(),
        "fdpass_is_socket": stat.S_ISSOCK(os.lstat(os.path.join(d, "fdpass")).st_mode),
        "shell": os.environ.get("SHELL")}}
with open(os.environ["RECORD_OUT"], "w") as f:
    json.dump(rec, f)
time.sleep(float(os.environ.get("RECORD_SLEEP", "0")))
sys.exit(int(os.environ.get("RECORD_EXIT", "0")))
"""


@pytest.fixture
def job(world):
    """One running job for the module's tests (its world is the module's too)."""
    if not hasattr(world, "contract_job"):
        world.contract_job = world.submit("sleep", "3600")
    return world.contract_job


def fake(world, *args, env=None, check=False, **kw):
    return world.run(["condor_ssh_to_job", *args], env=dict(world.env, **(env or {})), check=check, **kw)


def recorder(directory: Path, name: str) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(RECORDER)
    path.chmod(0o755)
    return str(path)


def faults(world, **values):
    path = world.sim_root / "fake-faults.json"
    if values:
        path.write_text(json.dumps(values))
    elif path.exists():
        path.unlink()


def test_help_and_bad_command_lines(world):
    for opt in ("-help", "-h"):
        done = fake(world, opt)
        assert done.returncode == 0
        # argv[0] as the tool got it: for a script, the kernel hands its interpreter the path it found
        assert done.stderr.startswith(f"Usage: {tool_path(world)} [OPTIONS] {{ cluster | cluster.proc }} [command]\n")
        assert " -keygen-options <keygen options>\n" in done.stderr
    cases = {("-bogus", "1"): "Unrecognized argument: -bogus\n", ("-name",): "-name requires an argument",
             (): "ERROR: You must specify a job!\n\n", ("1.x",): "Invalid job id: 1.x\n",
             ("-proxy", "/nonexistent/fdpass"): "failed to connect to /nonexistent/fdpass: No such file or directory\n"}
    for args, said in cases.items():
        done = fake(world, *args)
        assert (done.returncode, done.stderr) == (2, said), args


@pytest.mark.parametrize("program, extra, x11", [("record", [], False), ("ssh", ["-v", "-oFoo=bar"], True),
                                                  ("scp", ["-q"], False)])
def test_the_ssh_program_gets_the_documented_arguments(world, job, tmp_path, program, extra, x11):
    prog = recorder(tmp_path / "bin", program)
    out = tmp_path / "record.json"
    ssh = " ".join([prog, *extra])
    args = ["-ssh", ssh] + (["-X"] if x11 else []) + [job, "echo", "two words"]
    done = fake(world, *args, env={"RECORD_OUT": str(out), "RECORD_EXIT": "5", "SHELL": "/bin/bash"})
    assert done.returncode == 5, done.stderr  # the program's exit status
    rec = json.loads(out.read_text())
    d = rec["dir"]
    user = world.run(["id", "-un"]).stdout.strip()
    # the directory is named for the user as `id -un` spells it (any valid name: newA, a.b, x-1)
    assert re.fullmatch(re.escape(world.env["TMP"] + "/" + user) + r"\.condor_ssh_to_job_[0-9a-f]+", d), d
    assert (rec["dir_mode"], rec["key_mode"], rec["known_hosts_mode"]) == (0o700, 0o400, 0o600)
    assert rec["fdpass_is_socket"] and rec["shell"] is None  # SHELL is unset for the program
    assert re.fullmatch(r"\* ssh-rsa [A-Za-z0-9+/=]+\n", rec["known_hosts"])
    host = socket.gethostname()
    expected = [*extra] + (["-X"] if x11 else []) + (["-S", "none"] if program == "ssh" else []) + [
        f"-oUser={user}", f"-oIdentityFile={d}/ssh_key", "-oStrictHostKeyChecking=yes",
        f"-oUserKnownHostsFile={d}/known_hosts", f"-oGlobalKnownHostsFile={d}/known_hosts",
        f'-oProxyCommand="{tool_path(world)}" "-proxy" "{d}/fdpass"',
    ] + ([] if program == "scp" else [f"condor-job.{host}"]) + ["echo", "two words"]
    assert rec["args"] == expected
    assert not os.path.exists(d), "the session directory outlived the program"


def tool_path(world) -> str:
    return str(world.base / "fakes" / "condor_ssh_to_job")


def test_session_directory_follows_tmp(world, job, tmp_path):
    prog = recorder(tmp_path / "bin", "record")
    out = tmp_path / "record.json"
    fake(world, "-ssh", prog, job, env={"RECORD_OUT": str(out), "TMP": "/tmp/" + "x" * 50}, check=True)
    assert os.path.dirname(json.loads(out.read_text())["dir"]) == "/tmp"  # TMP over 50 characters: /tmp


def test_real_ssh_through_the_proxy_mode(world, job):
    done = fake(world, job, "echo", "$PWD;", "exit", "7")
    assert done.returncode == 7, done.stderr
    assert done.stdout.strip() == str(world.sandbox(job))
    assert list(Path(world.env["TMP"]).iterdir()) == []


def test_refusals_say_what_the_real_tool_says(world, job):
    user = world.run(["id", "-un"]).stdout.strip()
    held = world.submit("sleep", "3600")
    world.sim("hold", held, "--reason", "over its memory")
    idle = world.submit("sleep", "3600", idle=True)
    ended = world.submit("true")
    assert wait_for(lambda: any(j["id"] == ended and j["status"] == "completed" for j in SimPool(world.sim_root).jobs()))
    theirs = world.run([tool("condor-job-ssh"), "sim", "submit", "--owner", "alice", "--root", str(world.sim_root),
                         "--", "sleep", "600"]).stdout.strip()
    cases = {
        (held,): 'The job is on hold: "over its memory".\n',
        ("99",): "Unable to fetch job ad; is it still in the queue?\n",
        (ended,): "Unable to fetch job ad; is it still in the queue?\n",
        (idle,): HINT + "\n",
        (theirs,): f"{user}@{socket.getfqdn()} is not authorized for access to the starter for job {theirs}\n",
        ("-name", "elsewhere", job): "No such schedd named elsewhere in local pool\n",
        ("-name", "elsewhere", "-pool", "cm.example", job): "No such schedd named elsewhere in pool cm.example\n",
    }
    for args, said in cases.items():
        done = fake(world, *args)
        assert (done.returncode, done.stderr) == (1, said), args
    done = fake(world, job, env={"CONDOR_JOB_PROXY_FAKE_POOL": ""})
    assert (done.returncode, done.stderr) == (1, "ERROR: Can't find address of local schedd\n")


def test_admin_switches_and_starter_retries(world, job):
    slot = f"slot1@{socket.gethostname()}"
    try:
        faults(world, schedd_disabled=True)
        done = fake(world, job, "true")
        assert (done.returncode, done.stderr) == (1, f"Job {job} is denied by SCHEDD_ENABLE_SSH_TO_JOB.\n")
        faults(world, starter_disabled=True)
        done = fake(world, job, "true")
        assert (done.returncode, done.stderr) == (1, f"{slot}: Rejecting request, because ENABLE_SSH_TO_JOB=false\n")
        faults(world, not_ready=1)
        done = fake(world, job, "true")
        assert (done.returncode, done.stderr) == (1, f"{slot}: Retrying request, because the job execution "
                                                     f"environment is not yet ready.\n{HINT}\n")
        faults(world, not_ready=2, retry_delay=0.2)
        done = fake(world, "-auto-retry", job, "echo", "in")
        assert (done.returncode, done.stdout) == (0, "in\n"), done.stderr
        # the retry-able reason is kept quiet with -auto-retry
        assert done.stderr == "Waiting for job to start...\n"
    finally:
        faults(world)


def test_admin_command_template_applies_only_to_names_htcondor_can_spell(world, job, tmp_path):
    out = tmp_path / "record.json"
    for name, applies in (("record", True), ("re-cord", False)):
        prog = recorder(tmp_path / "bin", name)
        env = {"RECORD_OUT": str(out), f"_CONDOR_SSH_TO_JOB_{name}_CMD": f'"{prog} -oIdentityFile=%i OVERRIDDEN"'}
        fake(world, "-ssh", prog, job, env=env, check=True)
        args = json.loads(out.read_text())["args"]
        assert (args[-1] == "OVERRIDDEN") is applies, args


def test_percent_escapes_in_ssh_words(world, job, tmp_path):
    prog = recorder(tmp_path / "bin", "record")
    out = tmp_path / "record.json"
    fake(world, "-ssh", f"{prog} 100%%", job, env={"RECORD_OUT": str(out)}, check=True)
    assert json.loads(out.read_text())["args"][0] == "100%"
    done = fake(world, "-ssh", f"{prog} %z", job, env={"RECORD_OUT": str(out)})
    assert done.returncode == 1 and done.stderr.startswith("Unexpected %z in ssh command: ")


def test_remove_on_interrupt(world, tmp_path):
    victim = world.submit("sleep", "3600")
    prog = recorder(tmp_path / "bin", "record")
    out = tmp_path / "record.json"
    proc = subprocess.Popen(["condor_ssh_to_job", "-remove-on-interrupt", "-ssh", prog, victim],
                            env=dict(world.env, RECORD_OUT=str(out), RECORD_SLEEP="30"), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert wait_for(out.exists, timeout=20)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    finally:
        _kill_group(proc.pid)  # the recorder, still asleep in the group we started, holds the pipes
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert err == f"Interrupted by signal 2 (SIGINT), removing job {victim}...\n"
    assert next(j for j in SimPool(world.sim_root).jobs() if j["id"] == victim)["status"] == "removed"


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_proxy_mode_takes_a_descriptor_number(world):
    a, b = socket.socketpair()
    with a, b:
        proc = subprocess.Popen(["condor_ssh_to_job", "-proxy", str(b.fileno())], env=world.env, pass_fds=[b.fileno()],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        b.close()
        a.sendall(b"from the job\n")
        a.shutdown(socket.SHUT_WR)
        out, _ = proc.communicate(b"to the job\n", timeout=20)
        assert out == b"from the job\n"
        assert a.recv(100) == b"to the job\n"
        assert proc.returncode == 0


def test_name_picks_a_schedd_and_pool_alone_means_the_local_one():
    """-name reaches one of the pool's schedds; -pool without -name is the LOCAL schedd, as the real tools do
    (HTCondor 25.14: `condor_ssh_to_job -pool P 1.0` and `condor_q -pool P` ask the local schedd)."""
    gen = make_world(backend="condor", schedds=("ap2",))
    w = next(gen)
    try:
        local, other = w.submit("sleep", "600"), w.submit("sleep", "600", schedd="ap2")
        assert local == other == "1.0"
        here = fake(w, "1.0", "echo", "$PWD")
        there = fake(w, "-name", "ap2", "1.0", "echo", "$PWD")
        pool_only = fake(w, "-pool", "cm.example", "1.0", "echo", "$PWD")
        assert here.stdout.strip() == str(w.sandbox("1.0")) == pool_only.stdout.strip()
        assert there.stdout.strip() == str(w.sim_root / "execute" / "dir_1.0.ap2"), there.stderr
        queue = w.run(["condor_q", "-name", "ap2", "-json"]).stdout
        assert [(ad["ClusterId"], ad["GlobalJobId"].split("#")[0]) for ad in json.loads(queue)] == [(1, "ap2")]
        assert "ap2" not in w.run(["condor_q", "-pool", "cm.example", "-json"]).stdout
        assert w.run(["condor_status", "-schedd", "-af", "Name"]).stdout.split()[1:] == ["ap2"]
        assert w.run(["condor_rm", "-name", "ap2", "1.0"]).stdout == "Job 1.0 marked for removal\n"
        states = {(j["schedd"] == "ap2", j["id"]): j["status"] for j in SimPool(w.sim_root).jobs()}
        assert states == {(False, "1.0"): "running", (True, "1.0"): "removed"}
    finally:
        for _ in gen:
            pass


# ----- condor_submit and condor_q -constraint (jobs on demand through the hop) --------------------------------
# Pinned against a real 25.14 personal pool (/work/shared/htcondor/personal-pool.sh): the same inputs gave
# these outputs, streams and exit statuses there.
def tool_run(world, *argv, input=None):
    return world.run(list(argv), check=False, input=input, stdin=None if input is not None else subprocess.DEVNULL)


def test_condor_submit_output_and_errors_as_the_real_tool(world, tmp_path):
    done = tool_run(world, "condor_submit", "-terse", "-",
                    input='executable = /bin/sleep\narguments = 300\nMY.Foo = "Bar"\nqueue 1\n')
    assert done.returncode == 0 and re.fullmatch(r"(\d+)\.0 - \1\.0\n", done.stdout), done
    cluster = int(done.stdout.split(".")[0])
    assert next(j for j in SimPool(world.sim_root).jobs() if j["cluster"] == cluster)["ad"]["Foo"] == '"Bar"'
    sub = tmp_path / "t.sub"
    sub.write_text("executable = /bin/true\ntransfer_executable = false\nqueue\n")
    done = tool_run(world, "condor_submit", str(sub))
    c = int(re.search(r"cluster (\d+)\.", done.stdout).group(1))
    assert done.returncode == 0 and done.stdout == f"Submitting job(s).\n1 job(s) submitted to cluster {c}.\n"
    assert done.stderr == f"To monitor your job(s), run: condor_watch_q -clusters {c}\n"
    bad = tool_run(world, "condor_submit", "-terse", "-", input="executable = /bin/true\nbad line\nqueue\n")
    assert (bad.returncode, bad.stdout) == (1, "")
    assert bad.stderr == "\nERROR: on Line 2 of <stdin>: \n\nERROR: Failed to parse command file (line 2).\n"
    missing = tool_run(world, "condor_submit", "-terse", "-", input="executable = /nonexistent\nqueue 1\n")
    assert missing.returncode == 1
    assert missing.stderr == "\nERROR: Can't access executable file /nonexistent: No such file or directory\n"
    unknown = tool_run(world, "condor_submit", "-name", "nosuch", "-terse", "-", input="executable = /bin/true\nqueue\n")
    assert (unknown.returncode, unknown.stderr) == (1, "condor_submit: unknown host nosuch\n")
    usage = tool_run(world, "condor_submit", "-bogus")
    assert usage.returncode == 1 and usage.stderr.startswith("Usage: condor_submit [options] [<attrib>=<value>]")
    tool_run(world, "condor_rm", f"{cluster}.0")


def test_condor_q_constraint_as_the_real_tool(world):
    submitted = []
    for value in ('"Bar"', '"bar"'):
        out = tool_run(world, "condor_submit", "-terse", "-",
                       input=f"executable = /bin/sleep\narguments = 300\nMY.Quux = {value}\nqueue\n").stdout
        submitted.append(int(out.split(".")[0]))

    def clusters(expr):
        done = tool_run(world, "condor_q", "-json", "-attributes", "ClusterId,Quux", "-constraint", expr)
        assert done.returncode == 0, done.stderr
        return sorted(ad["ClusterId"] for ad in json.loads(done.stdout)) if done.stdout else []

    assert clusters('Quux == "BAR" && (JobStatus == 1 || JobStatus == 2)') == submitted  # == ignores case
    assert clusters('Quux =?= "bar"') == submitted[1:]  # =?= does not
    assert clusters("Quux =!= undefined") == submitted
    assert clusters("Quux == undefined") == [] and clusters("!(Quux == \"bar\")") == []  # undefined is not true
    assert clusters("Nope =?= undefined && JobStatus == 99") == []
    out = tool_run(world, "condor_q", "-json", "-attributes", "ClusterId,Quux", "-constraint", "Quux =!= undefined").stdout
    assert out.startswith("[\n{\n  \"ClusterId\": ") and "\n}\n,\n{\n" in out and out.endswith("}\n]\n")
    assert tool_run(world, "condor_q", "-json", "-constraint", "JobStatus == 99").stdout == ""
    bad = tool_run(world, "condor_q", "-constraint", "foo ==")
    assert (bad.returncode, bad.stdout) == (1, "") and bad.stderr.startswith("\n-- Failed to fetch ads from: ")
    lone = tool_run(world, "condor_q", "-constraint")
    assert (lone.returncode, lone.stderr) == (1, "Error: -constraint requires another parameter\n")
    for cluster in submitted:
        tool_run(world, "condor_rm", f"{cluster}.0")
