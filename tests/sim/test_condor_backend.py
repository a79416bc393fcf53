"""The HTCondor backend on a simulated pool: the dialer hand-off through tests/support/fakes/condor_ssh_to_job,
the htcondor2 queries, and `doctor` (its parts on their own are tests/unit/test_condor_parts.py)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import classad2
import pytest

from conftest import FAKE_POOL_ENV, flat_table, tool, wait_for
from proxycmd.backends.condor import early, refusals, run
from proxycmd.backends.condor import tool as condor_tool
from proxycmd.backends.condor.backend import CondorBackend
from proxycmd.dialer import NAME as DIALER_NAME, find as find_dialer
from proxycmd.errors import ProxyError, SessionRefused
from proxycmd.hostname import JobAddress, parse_job_id
from proxycmd.sim.client import SimPool
from test_condor_parts import ME, _script, ad

pytestmark = pytest.mark.world(backends=["condor"], scope="module")


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


def test_a_running_job_whose_starter_does_not_answer_yet_is_starting_not_idle(condor_env, tmp_path):
    """What condor_ssh_to_job 25.14 prints while a docker job's starter runs `docker start`: the retry hint
    alone, as for an idle job; the schedd's ad, which says Running, makes it "starting"."""
    world = condor_env
    job = world.submit("sleep", "600")
    busy = _script(tmp_path / "bin" / "condor_ssh_to_job",
                   f"#!/bin/sh\necho '{refusals.RETRY_HINT}' >&2\nexit 1\n")
    backend = CondorBackend()
    backend._queue = StubQueue({job: ad(JobStatus=2, Owner=ME)})
    backend._tool, backend._dialer = str(busy), find_dialer()
    with pytest.raises(SessionRefused) as info:
        backend.open_session(parse_job_id(job))
    assert (str(info.value), info.value.retryable, info.value.status) == (
        f"job {job} is running, but its starter does not answer yet (a container job's starter is busy until "
        "Docker has started the container)", True, "starting")
    backend._queue.ads[job] = ad(JobStatus=1, Owner=ME)  # idle after all: the ad's word wins
    with pytest.raises(SessionRefused, match="is idle"):
        backend.open_session(parse_job_id(job))


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


def _session_through_a_tool_that_waits(world, tmp_path: Path, go: Path, status: int):
    """A session through a condor_ssh_to_job that, once its own part is over, writes its pid to
    tmp_path/pid and waits for *go* to exist before it exits with *status*."""
    job = world.submit("sleep", "600")
    slow = _script(tmp_path / "bin" / "condor_ssh_to_job", f"""#!/bin/sh
"{world.env['PATH'].split(':')[0]}/condor_ssh_to_job" "$@"
echo $$ > {tmp_path}/pid
while [ ! -e {go} ]; do sleep 0.05; done
exit {status}
""")
    return run.open_session(slow, find_dialer(), parse_job_id(job), keygen_options=["-t", "ecdsa"])


@pytest.mark.parametrize("status", [0, 3])
def test_the_tool_ends_while_the_session_is_used_and_closing_waits_for_it(condor_env, tmp_path, capfd, status):
    """open_session returns once the connection and the key are ours, without waiting for condor_ssh_to_job
    to exit (it cleans up while the proxy registers the key); session.close() waits for it, and says so
    when it failed."""
    world = condor_env
    go = tmp_path / "go"
    session = _session_through_a_tool_that_waits(world, tmp_path, go, status)
    try:
        assert session.sock.recv(8) == b"SSH-2.0-"
        # the key's directory went as soon as the key was read, before the tool was let go
        assert not list(Path(world.env["TMP"]).glob("*.condor_ssh_to_job_*"))
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


def test_closing_without_waiting_leaves_a_tool_that_has_not_ended_to_end_on_its_own(condor_env, tmp_path, capfd):
    """After the hand-over ssh waits for the proxy to exit, not for condor_ssh_to_job: close(wait=False)
    returns while the tool still runs (nothing is left for it to do but exit), and says nothing."""
    world = condor_env
    go = tmp_path / "go"
    session = _session_through_a_tool_that_waits(world, tmp_path, go, 3)
    assert wait_for(lambda: (tmp_path / "pid").exists())
    pid = int((tmp_path / "pid").read_text())
    session.close(wait=False)
    os.kill(pid, 0)  # still running: not waited for
    go.touch()
    assert wait_for(lambda: Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z")  # it ended on its own
    session.close()  # a later close (connect's finally) neither waits nor warns
    assert "warning" not in capfd.readouterr().err
    os.waitpid(pid, 0)  # as whoever inherits it would
    assert not list(Path(world.env["TMP"]).glob("*.condor_ssh_to_job_*"))


def test_the_first_try_is_started_early_and_taken_not_run_twice(condor_env, tmp_path):
    """The ProxyCommand starts condor_ssh_to_job before the rest of it has loaded (early.py); the connection
    uses that run: one tool run per connection, whether the early try was taken or never made (quotes in
    --keygen-options, which only connect.py's shlex reads)."""
    world = condor_env
    job = world.submit("sleep", "600")
    runs = tmp_path / "runs"
    counting = _script(tmp_path / "bin" / "condor_ssh_to_job", f"""#!/bin/sh
echo "$*" >> {runs}
exec "{world.env['PATH'].split(':')[0]}/condor_ssh_to_job" "$@"
""")
    env = dict(world.env, CONDOR_SSH_TO_JOB=counting)
    for extra, expected in (([], "-keygen-options -t ecdsa -b 256"), (["--keygen-options", "-t 'ed25519'"],
                                                                     "-keygen-options -t ed25519")):
        runs.unlink(missing_ok=True)
        ours, theirs = socket.socketpair()  # as OpenSSH runs a ProxyCommand with ProxyUseFdpass
        with ours:
            proxy = subprocess.Popen([tool("condor-job-proxy"), "--runtime-dir", str(world.rundir), *extra,
                                      f"{job}.job.condor"], env=env, stdin=theirs, stdout=theirs,
                                     stderr=subprocess.PIPE, text=True)
            theirs.close()
            _, fds, _, _ = socket.recv_fds(ours, 1, 1)
            err = proxy.communicate(timeout=120)[1]
        assert proxy.returncode == 0 and len(fds) == 1, err
        with socket.socket(fileno=fds[0]) as conn:
            assert conn.recv(8) == b"SSH-2.0-"
        lines = runs.read_text().splitlines()
        assert len(lines) == 1 and expected in lines[0], lines


def test_an_early_try_for_another_command_line_is_let_go_and_leaves_nothing(condor_env, tmp_path, monkeypatch):
    """When run.py is about to start another command line than the early try's, the early one is let go: it
    ends on its own (its dialer finds nobody to tell), removing its session directory."""
    world = condor_env
    job = world.submit("sleep", "600")
    monkeypatch.setattr(early, "_started", None)

    class Args:
        host, keygen_options, shells = f"{job}.job.condor", "-t ecdsa", ""

    early.start(Args())
    started = early._started
    assert started is not None and started[0][-1] == job
    pid = started[1][0]
    assert early.take(started[0][:-1] + ["1.0"]) is None and early._started is None
    assert wait_for(lambda: os.waitpid(pid, os.WNOHANG)[0] == pid, timeout=60)
    assert not list(Path(world.env["TMP"]).glob("*.condor_ssh_to_job_*"))


HEAVY_MODULES = ("typing", "dataclasses", "inspect", "shutil", "subprocess", "typer", "htcondor2",
                 "classad2", "cryptography",
                 # ~9 ms of CPU a connection between them (each imports re or a chain of its own)
                 "pathlib", "shlex", "json",
                 # ~10 ms more: argparse with what it imports, for a plain ProxyCommand line (cli._plain_args)
                 "argparse", "re", "gettext", "locale",
                 # ~5 ms more: socket with enum, selectors and functools (proxycmd/unixsock.py instead)
                 "socket", "enum", "selectors", "functools",
                 # ~2 to 3 ms more: collections, and namedtuple's compiling of each record (proxycmd/record.py)
                 "collections")


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
