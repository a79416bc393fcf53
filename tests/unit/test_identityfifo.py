"""The one-time key hand-over through a FIFO (proxycmd/identityfifo.py), with real processes.

Each test starts a child that plays the proxy (it serves the key to its parent, this test process, as
`condor-job-proxy --identity-fifo` serves it to the editor that spawned it) and real readers: this process,
a sibling of the same user that is not the proxy's parent, another user.  What is checked is what each of
them read, and what is left on disk.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO, private_tmp, wait_for
from proxycmd import identityfifo

KEY = b"-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key-but-what-the-starter-gave\n-----END OPENSSH PRIVATE KEY-----\n"

# The proxy's part: serve KEY at PATH to our parent once we are told to go.
CHILD = r"""
import json, os, sys
from proxycmd.identityfifo import Handover
path, wait, lock_wait, key, watch = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4].encode(), sys.argv[5]
handover = Handover(path, os.getppid(), wait=wait, lock_wait=lock_wait, watch=watch)
try:
    handover.prepare(key)
except Exception as exc:
    print(json.dumps({"prepare": str(exc)}), flush=True)
    sys.exit(0)
print("ready", flush=True)
sys.stdin.readline()
problem = handover.serve()
handover.close()
print(json.dumps({"problem": problem}), flush=True)
"""


class Proxy:
    """*watch*: "proc" watches /proc/<parent>/fd (Linux); "open" is the way without /proc (macOS)."""

    def __init__(self, path: Path, wait: float = 10.0, lock_wait: float = 10.0, watch: str = "proc"):
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(wait), str(lock_wait), KEY.decode(),
                                      watch],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def ready(self) -> str:
        return self.proc.stdout.readline().strip()

    def go(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def result(self) -> dict:
        line = self.proc.stdout.readline()
        self.proc.wait(timeout=30)
        return json.loads(line)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def place():
    """A key path in a private directory (as the proxy's is), and every child gone afterwards."""
    base = private_tmp("fifo-")
    directory = base / "editor"
    directory.mkdir(mode=0o700)
    children = []
    yield directory / "32.0.job.condor", children
    for child in children:
        child.kill()
    import shutil

    shutil.rmtree(base, ignore_errors=True)


def read_in_thread(path: Path):
    """Open *path* for reading and read to EOF in a thread of this process: the proxy's parent reading.
    Returns a dict that gets "data" or "error"."""
    got: dict = {}

    def run():
        try:
            fd = os.open(path, os.O_RDONLY)
            got["data"] = b"".join(iter(lambda: os.read(fd, 65536), b""))
            os.close(fd)
        except OSError as exc:
            got["error"] = exc.strerror

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    got["thread"] = thread
    return got


SIBLING = r"""
import os, sys
try:
    fd = os.open(sys.argv[1], os.O_RDONLY)
except OSError as exc:
    print("error", exc.strerror, flush=True)
    sys.exit(0)
print("read", b"".join(iter(lambda: os.read(fd, 65536), b"")).hex(), flush=True)
"""


def sibling(path: Path, **kw) -> subprocess.Popen:
    """Another process of this user (not the proxy's parent) opening the FIFO for reading and reading it."""
    return subprocess.Popen([sys.executable, "-c", SIBLING, str(path)], stdout=subprocess.PIPE, text=True, **kw)


def started(place, **options) -> Proxy:
    """A proxy child serving at the place's path, its FIFO made (it waits to be told to go)."""
    path, children = place
    proxy = Proxy(path, **options)
    children.append(proxy)
    assert proxy.ready() == "ready"
    return proxy


def wait_holding(pid: int, path: Path) -> None:
    """Until process *pid* has the FIFO at *path* open (the proxy's FIFO, held open for writing from its
    start, lets every open return at once)."""
    st = path.stat()
    assert wait_for(lambda: identityfifo._holds("/proc", pid, (st.st_dev, st.st_ino)), timeout=20)


def left_in(directory: Path):
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("watch", ["proc", "open"])
def test_the_process_that_started_the_proxy_gets_the_key_once_then_the_fifo_is_gone(place, watch):
    path, _ = place
    proxy = started(place, watch=watch)
    st = path.lstat()
    assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.getuid()
    reader = read_in_thread(path)
    proxy.go()
    assert proxy.result() == {"problem": None}
    reader["thread"].join(10)
    assert reader.get("data") == KEY
    assert left_in(path.parent) == [path.name + ".lock"]  # the FIFO is gone: nobody can open it again


def test_a_same_user_process_that_is_not_the_parent_does_not_get_the_key(place):
    path, _ = place
    proxy = started(place, wait=1.0)
    other = sibling(path)
    wait_holding(other.pid, path)  # it has the FIFO open and waits in read()
    proxy.go()
    result = proxy.result()
    assert "nothing read the session key" in (result["problem"] or ""), result  # the parent never came
    out, _ = other.communicate(timeout=20)
    assert out.split() == ["read"], out  # EOF: nothing was written
    assert left_in(path.parent) == [path.name + ".lock"]


def test_nobody_gets_the_key_when_another_process_opens_it_together_with_the_parent(place):
    path, _ = place
    proxy = started(place)
    mine = read_in_thread(path)
    other = sibling(path)
    wait_holding(os.getpid(), path)
    wait_holding(other.pid, path)  # both have it open and wait in read()
    proxy.go()
    result = proxy.result()
    assert f"process {other.pid} also opened" in (result["problem"] or ""), result
    out, _ = other.communicate(timeout=20)
    assert out.split() == ["read"], out
    mine["thread"].join(10)
    assert mine.get("data") == b""
    assert left_in(path.parent) == [path.name + ".lock"]


def test_another_user_cannot_open_it(place):
    _, children = place
    if os.geteuid() != 0:
        pytest.skip("acting as another user needs root")
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="cjp-fifo-"))  # every directory above the key dir lets others through
    try:
        base.chmod(0o711)
        directory = base / "editor"
        directory.mkdir(mode=0o700)
        path = directory / "32.0.job.condor"
        proxy = Proxy(path)
        children.append(proxy)
        assert proxy.ready() == "ready"
        other = subprocess.Popen(["/usr/bin/python3", "-c", SIBLING, str(path)], stdout=subprocess.PIPE, text=True,
                                 user=65534, group=65534, extra_groups=[], cwd="/")
        out, _ = other.communicate(timeout=20)
        assert out.split()[:1] == ["error"] and "Permission denied" in out, out
        directory.chmod(0o711)  # even where the directory lets others through, the FIFO (0600) does not
        other = subprocess.Popen(["/usr/bin/python3", "-c", SIBLING, str(path)], stdout=subprocess.PIPE, text=True,
                                 user=65534, group=65534, extra_groups=[], cwd="/")
        out, _ = other.communicate(timeout=20)
        assert out.split()[:1] == ["error"] and "Permission denied" in out, out
        reader = read_in_thread(path)  # and the parent still gets it
        proxy.go()
        assert proxy.result() == {"problem": None}
        reader["thread"].join(10)
        assert reader.get("data") == KEY
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("watch", ["proc", "open"])
def test_nothing_read_in_time_leaves_nothing_and_frees_the_host(place, watch):
    path, _ = place
    proxy = started(place, wait=0.3, watch=watch)
    proxy.go()
    result = proxy.result()
    assert "nothing read the session key" in result["problem"] and "within 0.3 seconds" in result["problem"]
    assert left_in(path.parent) == [path.name + ".lock"]
    started(place, wait=0.1, lock_wait=0)  # the lock is free at once


def test_a_second_proxy_for_the_host_waits_for_the_first_ones_hand_over(place):
    path, children = place
    first = started(place)
    impatient = Proxy(path, lock_wait=0.2)
    children.append(impatient)
    assert "still handing over its key" in json.loads(impatient.ready())["prepare"]
    second = Proxy(path, lock_wait=20)
    children.append(second)
    lines = []
    waiting = threading.Thread(target=lambda: lines.append(second.ready()), daemon=True)
    waiting.start()
    waiting.join(0.5)
    assert lines == []  # still waiting for the lock
    reader = read_in_thread(path)
    first.go()
    assert first.result() == {"problem": None}
    reader["thread"].join(10)
    assert reader.get("data") == KEY
    waiting.join(10)
    assert lines == ["ready"]
    reader = read_in_thread(path)
    second.go()
    assert second.result() == {"problem": None}
    reader["thread"].join(10)
    assert reader.get("data") == KEY


@pytest.mark.parametrize("watch", ["proc", "open"])
def test_a_replaced_fifo_gets_nothing(place, watch):
    path, _ = place
    proxy = started(place, wait=1.0 if watch == "proc" else 5.0, watch=watch)  # "open": until the reader comes
    planted = path.with_name("planted")
    os.mkfifo(planted, 0o600)
    os.rename(planted, path)  # a same-user process swaps in a FIFO of its own, and reads it
    other = sibling(path)
    time.sleep(0.3)
    proxy.go()
    result = proxy.result()
    expected = "nothing read the session key" if watch == "proc" else "was replaced"  # "proc" holds its own
    assert expected in (result["problem"] or ""), result
    try:  # let the planted FIFO's reader see EOF, unless the proxy's look at it ("open") did already
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass
    out, _ = other.communicate(timeout=20)
    assert out.split() == ["read"], out
    assert path.exists()  # not ours: left alone


@pytest.mark.parametrize("watch", ["proc", "open"])
def test_a_hard_link_is_refused(place, watch):
    path, _ = place
    proxy = started(place, watch=watch)
    os.link(path, path.with_name("second-name"))
    reader = read_in_thread(path)
    time.sleep(0.2)
    proxy.go()
    result = proxy.result()
    assert "hard link" in (result["problem"] or ""), result
    reader["thread"].join(10)
    assert reader.get("data") == b""


def test_a_killed_proxys_fifo_is_replaced_and_anything_else_refused(place):
    path, children = place
    os.mkfifo(path, 0o600)
    held = os.open(path, os.O_RDWR | os.O_NONBLOCK)  # keeps the stale inode from being reused for the new FIFO
    try:
        proxy = Proxy(path)
        children.append(proxy)
        assert proxy.ready() == "ready"
        assert stat.S_ISFIFO(path.lstat().st_mode) and path.lstat().st_ino != os.fstat(held).st_ino
    finally:
        os.close(held)
    proxy.kill()
    path.unlink()
    path.symlink_to("/etc/passwd")
    refused = Proxy(path)
    children.append(refused)
    assert "not a FIFO of ours" in json.loads(refused.ready())["prepare"]
    assert path.is_symlink()


def test_sigterm_leaves_no_fifo(place):
    """open-remote-ssh ends the ProxyCommand with SIGTERM when a window closes."""
    path, children = place
    rundir = path.parent.parent / "rundir"
    rundir.mkdir(mode=0o700)
    code = ("import os, sys, time\nfrom pathlib import Path\nfrom proxycmd import identityfifo\n"
            "identityfifo.serve_key(Path(sys.argv[1]), '7.0.job.condor', os.getppid(), b'key', print)\n"
            "print('serving', flush=True)\ntime.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", code, str(rundir)], stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        assert child.stdout.readline().strip() == "serving"
        fifo = identityfifo.key_path(rundir, "7.0.job.condor")
        assert stat.S_ISFIFO(fifo.lstat().st_mode)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=10) == 128 + signal.SIGTERM
        assert not os.path.lexists(fifo)
        assert left_in(fifo.parent) == ["7.0.job.condor.lock", "7.0.job.condor.pub"]
    finally:
        child.kill()
        child.wait()


# ----- names and the .pub files ------------------------------------------------------------------------------
def test_pub_files_parse_as_openssh_public_keys_and_are_refreshed_and_pruned(place):
    path, _ = place
    rundir = path.parent.parent / "rundir"
    rundir.mkdir(mode=0o700)
    hosts = ["1.0.job.condor", "GPU.job.condor"]
    written = identityfifo.write_pub_files(rundir, hosts)
    assert [p.name for p in written] == ["1.0.job.condor.pub", "gpu.job.condor.pub"]
    for pub in written:
        assert stat.S_IMODE(pub.stat().st_mode) == 0o600
        shown = subprocess.run(["ssh-keygen", "-l", "-f", str(pub)], capture_output=True, text=True)
        assert shown.returncode == 0 and "ED25519" in shown.stdout, shown.stderr
        assert pub.with_suffix("") == identityfifo.key_path(rundir, pub.name[:-4])
    assert identityfifo.write_pub_files(rundir, hosts) == []  # nothing to change
    written[0].write_text("garbage\n")
    assert identityfifo.write_pub_files(rundir, hosts) == [written[0]]
    removed = identityfifo.write_pub_files(rundir, ["gpu.job.condor"], prune=True)
    assert removed == [written[0]] and not written[0].exists()


def test_key_names_fit_a_file_name_and_refuse_what_is_not_a_host_name():
    long = ".".join(["a" * 63] * 3) + ".job.condor"
    assert len(identityfifo.key_name(long)) < 64 and identityfifo.key_name(long) == identityfifo.key_name(long.upper())
    for bad in ["", "../x", "a/b", ".hidden", "-x", "a b", "x\n"]:
        with pytest.raises(identityfifo.HandoverError):
            identityfifo.key_name(bad)


def test_a_finished_hand_over_never_removes_the_next_ones_fifo(place):
    """A freed inode number is often the next FIFO's (ext4 reuses it at once): the first proxy's late
    clean-up (its SIGTERM, the end of its relay) must not take the second proxy's FIFO for its own."""
    path, _ = place
    first = identityfifo.Handover(path, os.getppid(), watch="open")
    first.prepare(KEY)
    first.close()  # its hand-over is over: the path is free, so is the lock
    second = identityfifo.Handover(path, os.getppid(), watch="open", lock_wait=0)
    second.prepare(KEY)
    try:
        first.close()  # again, later
        assert stat.S_ISFIFO(path.lstat().st_mode)
    finally:
        second.close()
    assert not os.path.lexists(path)
