"""The simulated pool as a starter leaves things (issue 8, items 7-9): session directories go with their
sshd, ending a job ends every process it or its sessions started, `sim stop` removes what it made, and a
root that is not ours and private is refused in one line, by `sim start` and by the ProxyCommand."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import tool, wait_for
from ports import free_port, listening
from proxycmd.sim.client import SimPool

pytestmark = pytest.mark.world(backends=["sim"])

HOST = "{}.job.condor"
OTHER_UID = 65534  # nobody


def _short_tmp() -> Path:
    path = Path(tempfile.mkdtemp(prefix="cjp-h-", dir="/tmp"))
    path.chmod(0o700)
    return path


@pytest.fixture
def base():
    path = _short_tmp()
    yield path
    for pidfile in path.rglob("pool.pid"):  # a pool a failed test left running
        try:
            os.kill(int(pidfile.read_text()), 9)
        except (ValueError, OSError):
            pass
    shutil.rmtree(path, ignore_errors=True)


def run(argv, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=env, **kw)


def sim(*args: str) -> subprocess.CompletedProcess:
    return run([tool("condor-job-ssh"), "sim", *args])


def assert_one_line_failure(done: subprocess.CompletedProcess, *words: str) -> None:
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0, done
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for word in words:
        assert word in lines[0], lines[0]


def tree(path: Path) -> list:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return False
    return raw[raw.rfind(b")") + 2:][:1] not in (b"Z", b"X")




# ----- item 7: what a starter removes and kills --------------------------------------------------------------
def test_a_session_directory_goes_when_its_sshd_exits(base):
    pool = SimPool(base / "pool")
    pool.start()
    try:
        job = pool.submit(["sleep", "600"])
        reply, sock = pool.open_session(job["cluster"], 0)
        directory = Path(reply["directory"])
        assert (directory / "sshkey").exists()
        with sock:
            assert sock.recv(8) == b"SSH-2.0-"
        assert wait_for(lambda: not os.path.lexists(directory)), sorted(os.listdir(directory))
        # numbering stays race-free and a freed number is taken again, as a starter's mkdir loop does
        reply, sock = pool.open_session(job["cluster"], 0)
        sock.close()
        assert Path(reply["directory"]).name == ".condor_ssh_to_job_1"
    finally:
        pool.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="tracking by environment needs /proc")
@pytest.mark.parametrize("ending", ["rm", "hold", "stop", "completion"])
def test_ending_a_job_ends_what_its_sessions_started(world, ending):
    job = world.submit("sh", "-c", "while [ ! -e finish ]; do sleep 0.2; done")
    port = free_port()
    started = world.ssh(HOST.format(job), f"setsid nohup {sys.executable} -m http.server {port} --bind 127.0.0.1 "
                                          ">/dev/null 2>&1 < /dev/null & echo $!")
    pid = int(started.stdout.split()[-1])
    assert wait_for(lambda: listening(port), timeout=20), "the background server never listened"
    assert alive(pid)
    if ending == "completion":
        world.ssh(HOST.format(job), "touch finish")
        assert wait_for(lambda: any(j["id"] == job and j["status"] == "completed"
                                    for j in SimPool(world.sim_root).jobs()), timeout=20)
    elif ending == "hold":
        world.sim("hold", job)
    else:
        world.sim(ending, *([job] if ending == "rm" else []))
    assert wait_for(lambda: not alive(pid), timeout=10), f"{pid} outlived the job's {ending}"
    assert not listening(port)
    assert wait_for(lambda: not list(world.sandbox(job).glob(".condor_ssh_to_job_*")))


def test_stop_removes_the_root_it_created(base):
    root = base / "pool"
    assert sim("start", "--root", str(root)).returncode == 0
    pool = SimPool(root)
    job = pool.submit(["sleep", "600"])
    _reply, sock = pool.open_session(job["cluster"], 0)  # a session still open at stop
    with sock:
        assert sim("stop", "--root", str(root)).returncode == 0
    assert wait_for(lambda: not os.path.lexists(root)), tree(root)


def test_stop_in_an_existing_root_removes_only_what_it_made(base):
    root = base / "pool"
    root.mkdir(mode=0o700)
    (root / "mine.txt").write_text("the user's own\n")
    assert sim("start", "--root", str(root)).returncode == 0
    pool = SimPool(root)
    job = pool.submit(["sleep", "600"])
    _reply, sock = pool.open_session(job["cluster"], 0)
    with sock:
        assert sim("stop", "--root", str(root)).returncode == 0
    # the log stays for diagnosis, the id counter so that ids are never reused in this root
    assert wait_for(lambda: tree(root) == ["mine.txt", "next-cluster", "pool.log"]), tree(root)
    assert (root / "mine.txt").read_text() == "the user's own\n"
    pool.start()
    try:
        assert pool.submit(["true"])["id"] == "2.0"
    finally:
        pool.stop()


# ----- item 8: a root that is not ours and private -------------------------------------------------------------
def _refused_everywhere(root: Path, *words: str) -> None:
    """`sim start` and the ProxyCommand both refuse *root* in one line."""
    assert_one_line_failure(sim("start", "--root", str(root)), *words)
    assert_one_line_failure(run([tool("condor-job-proxy"), "--sim", str(root), "--no-wait", "1.0.job.condor"]),
                            *words)


@pytest.mark.skipif(os.getuid() != 0, reason="handing a directory to another user needs root")
def test_a_root_of_another_user_is_refused_even_with_a_pool_listening(base):
    root = base / "theirs"
    root.mkdir(mode=0o700)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # their pool.sock, serving fake sessions
    listener.bind(str(root / "pool.sock"))
    listener.listen(8)
    os.chown(root, OTHER_UID, OTHER_UID)
    try:
        before = tree(root)
        _refused_everywhere(root, str(root), f"uid {OTHER_UID}")
        assert tree(root) == before
        listener.settimeout(0.1)
        with pytest.raises(socket.timeout):
            listener.accept()  # nobody trusted it enough to connect
    finally:
        listener.close()


@pytest.mark.skipif(os.getuid() != 0, reason="handing a directory to another user needs root")
def test_a_root_in_a_directory_of_another_user_is_refused(base):
    theirs = base / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, OTHER_UID, OTHER_UID)
    assert_one_line_failure(sim("start", "--root", str(theirs / "pool")), f"uid {OTHER_UID}")
    assert not os.path.lexists(theirs / "pool")


def test_a_symlinked_root_is_refused(base):
    target = base / "target"
    target.mkdir(mode=0o700)
    (base / "link").symlink_to(target)
    _refused_everywhere(base / "link", "symbolic link")
    assert tree(target) == []


def test_a_root_others_can_write_is_refused(base):
    root = base / "pool"
    root.mkdir()
    root.chmod(0o770)
    _refused_everywhere(root, "lets others write")
    assert tree(root) == []


def test_a_root_in_a_world_writable_directory_without_the_sticky_bit_is_refused(base):
    shared = base / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    assert_one_line_failure(sim("start", "--root", str(shared / "pool")), "lets others replace it")
    assert tree(shared) == []


@pytest.mark.parametrize("planted", ["libexec", "libexec/condor_ssh_to_job_shell_setup", "pool.log"])
def test_a_symlink_planted_where_the_daemon_writes_is_refused(base, planted):
    root = base / "pool"
    root.mkdir(mode=0o700)
    victim = base / "victim"
    victim.mkdir(mode=0o700)
    profile = victim / ".profile"
    profile.write_text("# the user's own profile\n")
    if planted.startswith("libexec/"):
        (root / "libexec").mkdir(mode=0o700)
    (root / planted).symlink_to(victim if planted == "libexec" else profile)
    done = sim("start", "--root", str(root))
    assert_one_line_failure(done)
    assert tree(victim) == [".profile"] and profile.read_text() == "# the user's own profile\n"
    assert not (root / "pool.sock").exists()


# ----- item 9: bad roots give one line ------------------------------------------------------------------------
def test_a_root_whose_parent_does_not_exist(base):
    done = sim("start", "--root", str(base / "missing" / "pool"))
    assert_one_line_failure(done, "does not exist")
    assert tree(base) == []


def test_a_root_that_is_a_regular_file(base):
    (base / "file").write_text("x")
    assert_one_line_failure(sim("start", "--root", str(base / "file")), "not a directory")
    assert_one_line_failure(sim("start", "--root", str(base / "file" / "pool")), "not a directory")


def test_a_root_that_cannot_be_written(base):
    if os.getuid() == 0:  # root writes anywhere a mode allows: take a directory no one may create in
        if not os.path.isdir("/sys/kernel"):
            pytest.skip("no /sys to try")
        root = Path("/sys/kernel/cjp-sim-root")
    else:
        locked = base / "locked"
        locked.mkdir(mode=0o500)
        root = locked / "pool"
    assert_one_line_failure(sim("start", "--root", str(root)), str(root))
    assert not os.path.lexists(root)
