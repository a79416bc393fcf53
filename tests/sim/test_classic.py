"""End to end: `condor-ssh-to-job`, the classic command line, drives the real ssh, scp, sftp and rsync
against jobs of the pool `condor-job-ssh setup` recorded, with the command lines of issue 5."""

from __future__ import annotations

import errno
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Tuple

import pytest

from conftest import tool, wait_for
from proxycmd.session import Session
from sshconfig.classic import dirs as classic_dirs
from sshconfig.classic.shim import AGAIN_AFTER, _HandOver
from test_e2e import assert_no_private_key_on_disk, job_pid, sha256

pytestmark = pytest.mark.e2e

OPTIONS = ["-help", "-version", "-debug", "-name", "-pool", "-auto-retry", "-remove-on-interrupt", "-shells", "-ssh",
           "-keygen-options", "-X", "-x", "-l", "--"]


# ----- helpers -----------------------------------------------------------------------------------------------
def classic_argv(*args: str) -> List[str]:
    return [tool("condor-ssh-to-job"), *args]


def session_dirs(world) -> List[Path]:
    parent = world.rundir / "classic"
    return sorted(parent.iterdir()) if parent.exists() else []


def assert_clean(world) -> None:
    """The run left no session directory (key, known_hosts, socket) and no private key outside the pool."""
    assert session_dirs(world) == []
    assert_no_private_key_on_disk(world)


def classic(world, *args: str, **kw) -> subprocess.CompletedProcess:
    done = world.run(classic_argv(*args), check=False, **kw)
    assert_clean(world)
    return done


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("condor-ssh-to-job: "), text
    return lines[0]


def job_status(world, job_id: str) -> str:
    return world.job_status(job_id)


def job_with_output(world, size: int = 3 << 20) -> str:
    """A running job that has written outputfile.dat in its sandbox."""
    job = world.submit("sh", "-c", f"head -c {size} /dev/urandom > out.tmp && mv out.tmp outputfile.dat; "
                                   "exec sleep 600")
    assert wait_for(lambda: (world.sandbox(job) / "outputfile.dat").exists(), timeout=20)
    return job


def assert_removed(world, job: str, err: str) -> None:
    """-remove-on-interrupt said so and took the job out of the queue."""
    assert f"removing job {job}" in err
    assert wait_for(lambda: job_status(world, job) in ("removed", "gone"), timeout=30)


def wait_for_stderr_line(proc: subprocess.Popen, needle: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.2)
        if ready:
            line = proc.stderr.readline()
            seen += line
            if needle in line:
                return seen
            if not line:
                break
    raise AssertionError(f"{needle!r} not seen on stderr: {seen!r}")


class Pty:
    """A program on a pseudo terminal, driven like a person at a keyboard."""

    def __init__(self, world, argv: List[str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, env=world.env, stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True)
        os.close(slave)
        self.output = bytearray()
        world.extra_cleanup.append(self.proc.kill)  # should a test fail half-way

    def read_until(self, predicate, timeout: float = 20.0) -> bool:
        """Read output until predicate(output) holds or the terminal closes; True when it held."""
        deadline = time.monotonic() + timeout
        while not predicate(self.output):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError as exc:  # EIO: every writer of the terminal has gone
                if exc.errno != errno.EIO:
                    raise
                chunk = b""
            if not chunk:
                return predicate(self.output)
            self.output += chunk
        return True

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def finish(self, timeout: float = 30.0) -> Tuple[int, str]:
        self.read_until(lambda out: False, timeout=timeout)
        code = self.proc.wait(timeout=timeout)
        os.close(self.master)
        return code, self.output.decode(errors="replace").replace("\r", "")


# ----- interactive ---------------------------------------------------------------------------------------------
def test_interactive_shell_on_a_terminal(world):
    job = world.submit("sleep", "600")
    term = Pty(world, classic_argv(job))
    assert term.read_until(lambda out: len(out.strip()) > 0), "no prompt"
    term.type("echo MARK-$_CONDOR_JOB_PIDS-$PWD; exit 5\n")
    code, out = term.finish()
    assert f"MARK-{job_pid(world, job)}-{world.sandbox(job)}" in out, out
    assert code == 5, out
    assert_clean(world)


def test_sigint_ends_an_interactive_session_and_cleans_up(world):
    job = world.submit("sleep", "600")
    term = Pty(world, classic_argv(job))
    assert term.read_until(lambda out: len(out.strip()) > 0), "no prompt"
    term.type("echo READY-$((6*7))\n")
    assert term.read_until(lambda out: b"READY-42" in out), bytes(term.output)
    assert len(session_dirs(world)) == 1  # the key directory exists while the session runs
    os.kill(term.proc.pid, signal.SIGINT)
    code, out = term.finish()
    assert code == 128 + signal.SIGINT, out
    assert job_status(world, job) == "running"  # no -remove-on-interrupt: the job stays
    assert_clean(world)


# ----- commands and exit status --------------------------------------------------------------------------------
@pytest.mark.also_real
def test_remote_command_prints_the_jobs_pid(world):
    job = world.submit("sleep", "600")
    cluster = job.split(".")[0]
    done = classic(world, cluster, "echo $_CONDOR_JOB_PIDS")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(job_pid(world, job))


@pytest.mark.also_real
def test_exit_status_of_the_remote_command_passes_through(world):
    job = world.submit("sleep", "600")
    assert classic(world, job, "exit 7").returncode == 7
    assert classic(world, job, "exit", "0").returncode == 0


@pytest.mark.also_real
def test_several_runs_at_once_each_have_their_own_key(world):
    job = world.submit("sleep", "600")
    procs = [subprocess.Popen(classic_argv(job, f"echo run-{i}"), env=world.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True) for i in range(6)]
    for i, proc in enumerate(procs):
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.strip() == f"run-{i}"
    assert_clean(world)


@pytest.mark.also_real
def test_debug_shows_the_argv_and_never_the_key(world):
    job = world.submit("sleep", "600")
    done = classic(world, "-debug", job, "true")
    assert done.returncode == 0, done.stderr
    assert "session directory " in done.stderr
    assert "-oIdentityFile=" in done.stderr and "-S none" in done.stderr
    assert f"condor-job.{job} true" in done.stderr
    assert "PRIVATE KEY" not in done.stderr


def test_ssh_with_extra_words_and_keygen_options(world):
    job = world.submit("sleep", "600")
    done = classic(world, "-ssh", "ssh -v -o 'ConnectTimeout 30'", "-keygen-options", "-t ed25519", job, "true")
    assert done.returncode == 0, done.stderr
    assert "Server host key: ssh-ed25519" in done.stderr


@pytest.mark.also_real
def test_session_key_is_ecdsa_unless_keygen_options_say_otherwise(world):
    job = world.submit("sleep", "600")
    done = classic(world, "-ssh", "ssh -v", job, "true")
    assert done.returncode == 0, done.stderr
    assert "Server host key: ecdsa-sha2-nistp256 " in done.stderr
    assert "Server accepts key: " in done.stderr and " ECDSA SHA256:" in done.stderr
    done = classic(world, "-ssh", "ssh -v", "-keygen-options", "", job, "true")
    assert done.returncode == 0, done.stderr
    assert "Server host key: ssh-rsa " in done.stderr  # '' leaves the starter's own default


# ----- sftp, scp, rsync --------------------------------------------------------------------------------------------
@pytest.mark.also_real
def test_sftp_batch_on_stdin(world, tmp_path):
    job = world.submit("sleep", "600")
    local = tmp_path / "put.bin"
    local.write_bytes(os.urandom(2 << 20))
    batch = f"put {local} put.bin\nget put.bin {tmp_path / 'got.bin'}\nls -l\n"
    done = classic(world, "-ssh", "sftp", job, input=batch, stdin=None)
    assert done.returncode == 0, done.stderr
    assert "put.bin" in done.stdout
    assert sha256(world.sandbox(job) / "put.bin") == sha256(local)
    assert sha256(tmp_path / "got.bin") == sha256(local)


@pytest.mark.also_real
def test_scp_both_ways(world, tmp_path):
    job = job_with_output(world)
    cluster = job.split(".")[0]
    done = classic(world, "-ssh", "scp", cluster, "remote:outputfile.dat", ".", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sha256(tmp_path / "outputfile.dat") == sha256(world.sandbox(job) / "outputfile.dat")
    done = classic(world, "-ssh", "scp", cluster, "anything:outputfile.dat", "again.dat", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sha256(tmp_path / "again.dat") == sha256(world.sandbox(job) / "outputfile.dat")
    (tmp_path / "local.dat").write_bytes(os.urandom(5 << 20))
    done = classic(world, "-ssh", "scp", cluster, "local.dat", "remote:uploaded.dat", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sha256(world.sandbox(job) / "uploaded.dat") == sha256(tmp_path / "local.dat")


@pytest.mark.also_real
def test_rsync_with_condor_ssh_to_job_as_remote_shell(world, tmp_path):
    job = job_with_output(world)
    rsync = ["rsync", "-v", "-e", "condor-ssh-to-job"]
    done = world.run(rsync + [f"{job}:outputfile.dat", "."], cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert "outputfile.dat" in done.stdout
    assert sha256(tmp_path / "outputfile.dat") == sha256(world.sandbox(job) / "outputfile.dat")
    (tmp_path / "local.dat").write_bytes(os.urandom(4 << 20))
    done = world.run(rsync + ["local.dat", f"{job}:back.dat"], cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert sha256(world.sandbox(job) / "back.dat") == sha256(tmp_path / "local.dat")
    # user@host makes rsync pass `-l user` before the job id
    done = world.run(rsync + [f"anybody@{job}:back.dat", "again.dat"], cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert sha256(tmp_path / "again.dat") == sha256(tmp_path / "local.dat")
    assert_clean(world)


# ----- jobs that are not running -------------------------------------------------------------------------------
@pytest.mark.also_real
def test_auto_retry_waits_for_the_job_to_run(world):
    job = world.submit("sleep", "600", idle=True)
    proc = subprocess.Popen(classic_argv("-auto-retry", job, "true"), env=world.env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2)
        assert proc.poll() is None, "it did not wait"
        world.release(job)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "waiting for it to run" in err
    assert_clean(world)


@pytest.mark.also_real
def test_idle_job_without_auto_retry_fails_at_once(world):
    job = world.submit("sleep", "600", idle=True)
    start = time.monotonic()
    done = classic(world, job, "true")
    assert time.monotonic() - start < 10
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert ("idle" in line or "not running" in line) and "-auto-retry" in line


@pytest.mark.also_real
def test_remove_on_interrupt_while_waiting(world):
    job = world.submit("sleep", "600", idle=True)
    proc = subprocess.Popen(classic_argv("-auto-retry", "-remove-on-interrupt", job, "true"), env=world.env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_stderr_line(proc, "waiting")
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert_removed(world, job, err)
    assert_clean(world)


@pytest.mark.also_real
def test_remove_on_interrupt_during_the_session(world):
    job = world.submit("sleep", "600")
    proc = subprocess.Popen(classic_argv("-remove-on-interrupt", job, "echo started; sleep 120"), env=world.env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGINT, err
    assert_removed(world, job, err)
    assert_clean(world)


@pytest.mark.also_real
def test_sigterm_during_the_session_keeps_the_job(world):
    job = world.submit("sleep", "600")
    proc = subprocess.Popen(classic_argv(job, "echo started; sleep 120"), env=world.env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
        os.kill(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    assert job_status(world, job) == "running"
    assert_clean(world)


# ssh before 9.6 (Debian 12's 9.2, EL8/EL9's 8.x) can miss one SIGTERM (bz3531, tests/support/sshstop.py);
# this program misses the first on purpose, and says so for each one it gets
MISSES_ONE = """#!/bin/sh
seen=0
trap 'seen=$((seen + 1)); echo "got TERM $seen" >&2; [ "$seen" -ge 2 ] && exit 0' TERM
echo started
while :; do sleep 0.1; done
"""


def start_program(world, path: Path, text: str) -> subprocess.Popen:
    """condor-ssh-to-job -ssh PATH (a shell script *text* that ignores its arguments) on a running job,
    once the script said "started"."""
    path.write_text(text)
    path.chmod(0o755)
    proc = subprocess.Popen(classic_argv("-ssh", str(path), world.submit("sleep", "600")), env=world.env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
    except BaseException:
        proc.kill()
        raise
    return proc


def test_a_program_that_misses_a_sigterm_gets_it_again(world, tmp_path):
    proc = start_program(world, tmp_path / "misses-one", MISSES_ONE)
    try:
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=30)  # one SIGTERM only: the program would run on for ever
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "got TERM 1" in err and "got TERM 2" in err, err
    assert_clean(world)


@pytest.mark.also_real
@pytest.mark.skipif(os.getuid() == 0 or not sys.platform.startswith("linux"),
                    reason="the kernel gives a not-dumpable process's /proc files to root: seen as another user")
def test_the_shim_holding_the_key_is_not_dumpable(world, tmp_path):
    proc = start_program(world, tmp_path / "waits", "#!/bin/sh\ntrap 'exit 0' TERM\necho started\n"
                         "while :; do sleep 0.1; done\n")
    try:
        assert os.stat(f"/proc/{proc.pid}/mem").st_uid == 0
        proc.terminate()
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert_clean(world)


def test_sigint_is_passed_on_once(world, tmp_path):
    """Interactive sftp and a remote shell take SIGINT as "stop this": it is not repeated."""
    seen = tmp_path / "seen"
    proc = start_program(world, tmp_path / "counts-int", f"#!/bin/sh\ntrap 'echo INT >> {seen}' INT\n"
                         "trap 'exit 0' TERM\necho started\nwhile :; do sleep 0.1; done\n")
    try:
        os.kill(proc.pid, signal.SIGINT)
        assert wait_for(seen.exists, timeout=20)
        time.sleep(3 * AGAIN_AFTER)  # a repeat would have come by now
        assert seen.read_text() == "INT\n"
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err  # the last signal passed on
    assert_clean(world)


@pytest.mark.also_real
def test_held_and_unknown_jobs_fail_with_one_line(world):
    job = world.submit("sleep", "600")
    world.hold(job, "held by the test")
    done = classic(world, job, "true")
    assert done.returncode == 1
    assert "held" in one_line(done.stderr)
    release = (f"condor-job-ssh sim release {job} --root {world.sim_root}" if world.backend == "sim"
               else f"condor_release {job}")
    assert one_line(done.stderr).endswith(f"release it with: {release}"), done.stderr  # as ssh's sentence does
    done = classic(world, "-auto-retry", job, "true")  # not retry-able: no waiting either
    assert done.returncode == 1
    assert "held" in one_line(done.stderr)
    done = classic(world, "999.0", "true")
    assert done.returncode == 1
    assert "999.0" in one_line(done.stderr)


# ----- usage ---------------------------------------------------------------------------------------------------------
BAD_USAGE = [
    (["abc"], "Invalid job id"),
    (["32.0.1.5"], "Invalid job id"),
    (["-bogus", "32.0"], "Unrecognized argument: -bogus"),
    (["-ssh"], "-ssh requires an argument"),
    (["-debug"], "You must specify a job"),
    (["-ssh", "'sftp", "32.0"], "Unbalanced quote"),
]


def test_bad_usage_is_one_line_and_exit_2(world):
    for args, wanted in BAD_USAGE:
        done = classic(world, *args)
        assert done.returncode == 2, args
        assert wanted.lower() in one_line(done.stderr).lower(), args


def test_missing_program_is_one_line(world):
    job = world.submit("sleep", "600")
    done = classic(world, "-ssh", "no-such-ssh-program", job)
    assert done.returncode == 1
    assert "no-such-ssh-program" in one_line(done.stderr)


def test_help_lists_every_option(world):
    done = classic(world, "-help")
    assert done.returncode == 0
    assert done.stdout.startswith("Usage: condor-ssh-to-job [OPTIONS]")
    listed = [line.split()[0] for line in done.stdout.splitlines() if line.startswith(" -")]
    assert listed == OPTIONS
    assert "condor-job-proxy" in done.stdout


# ----- the hand-over socket --------------------------------------------------------------------------------
def test_the_connection_is_served_once():
    ours, theirs = socket.socketpair()
    session = Session(sock=ours, private_key=b"", host_key="ssh-ed25519 AAAA", user="condor-user")
    path = Path(tempfile.mkdtemp(prefix="cjp-h-", dir="/tmp")) / "fdpass"  # short: a unix socket path
    handover = _HandOver(path, session, debug=False)
    try:
        assert path.stat().st_mode & 0o777 == 0o600
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as taker:
            taker.connect(str(path))
            payload, fds, _, _ = socket.recv_fds(taker, 1, 1)
        assert payload == b"\0" and len(fds) == 1
        with socket.socket(fileno=fds[0]) as received:
            received.sendall(b"hello")
            assert theirs.recv(5) == b"hello"
        assert wait_for(lambda: ours.fileno() == -1)  # our copy is closed once handed over
        with pytest.raises(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as second:
            second.settimeout(5)
            second.connect(str(path))
            assert socket.recv_fds(second, 1, 1)[1], "a second taker got nothing"
    finally:
        handover.close()
        theirs.close()
        shutil.rmtree(path.parent, ignore_errors=True)



@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the threads' signal masks in /proc")
def test_the_hand_over_thread_leaves_signals_to_the_main_thread():
    """The main thread waits for the program and passes signals on: the kernel must give them to it, so the
    thread that serves the connection blocks them."""
    ours, theirs = socket.socketpair()
    session = Session(sock=ours, private_key=b"", host_key="ssh-ed25519 AAAA", user="condor-user")
    path = Path(tempfile.mkdtemp(prefix="cjp-h-", dir="/tmp")) / "fdpass"
    handover = _HandOver(path, session, debug=False)
    try:
        status = Path(f"/proc/self/task/{handover.thread.native_id}/status").read_text()
        blocked = int(next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            assert blocked & (1 << (signum - 1)), (signum, hex(blocked))
        assert not signal.pthread_sigmask(signal.SIG_BLOCK, []), "the main thread's mask must be left as it was"
    finally:
        handover.close()
        ours.close()
        theirs.close()
        shutil.rmtree(path.parent, ignore_errors=True)


# ----- leftovers of a killed run (issue 8, item 7) -------------------------------------------------------------
def test_a_sigkilled_run_leaves_its_key_directory_to_the_next_run_to_remove(world):
    job = world.submit("sleep", "600")
    proc = subprocess.Popen(classic_argv(job, "echo started; sleep 120"), env=world.env, start_new_session=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"  # real ssh is running through it
        [left] = session_dirs(world)
        assert (left / "ssh_key").exists()
        os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up
        proc.wait(10)
        assert (left / "ssh_key").exists()
        done = world.run(classic_argv(job, "echo soon"), check=False)
        assert done.returncode == 0 and done.stdout.strip() == "soon", done.stderr
        assert (left / "ssh_key").exists()  # young: it may be a live run's on another login node
        past = time.time() - classic_dirs.GRACE - 1
        os.utime(left, (past, past))
        done = world.run(classic_argv(job, "echo again"), check=False)
        assert done.returncode == 0 and done.stdout.strip() == "again", done.stderr
        assert not os.path.lexists(left)
        assert_clean(world)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the orphaned ssh
        except ProcessLookupError:
            pass


def test_the_sweep_removes_only_real_directories_of_gone_processes(tmp_path):
    from proxycmd.agent.peer import start_token

    parent = tmp_path / "classic"
    parent.mkdir(mode=0o700)
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = parent / classic_dirs.dir_name(gone.pid, "12345")  # a token no live process has
    stale.mkdir()
    (stale / "ssh_key").write_text("secret")
    (stale / "inner").symlink_to(tmp_path / "keep")  # never followed while removing
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "precious").write_text("x")
    live = parent / classic_dirs.dir_name(os.getppid(), start_token(os.getppid()))  # its owner runs
    live.mkdir()
    planted = parent / classic_dirs.dir_name(gone.pid + 1 if gone.pid < 4000000 else 2, "1")
    planted.symlink_to(keep)  # a symlink named like a gone owner: left alone, its target untouched
    other = parent / "not-ours-by-name"
    other.mkdir()
    gone_too = subprocess.Popen(["true"])
    gone_too.wait()
    young = parent / classic_dirs.dir_name(gone_too.pid, "12346")  # gone here, but young: another node's?
    young.mkdir()
    past = time.time() - classic_dirs.GRACE - 1
    for path in (stale, live, other):
        os.utime(path, (past, past))
    assert classic_dirs.sweep(parent) == 1
    assert sorted(p.name for p in parent.iterdir()) == sorted([live.name, planted.name, other.name, young.name])
    assert (keep / "precious").read_text() == "x"
    assert classic_dirs.owner_of(classic_dirs.own_name())[0] == os.getpid()
