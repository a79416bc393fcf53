"""The user's ssh config as a file (issue 8, items 4 and 9), our commands in a private home: one writer of
ours at a time, a file saved meanwhile read again, odd files refused, no temporary file left by a kill (setup and
sync racing an appender on a simulated pool: tests/sim/test_configfile.py)."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

from conftest import wait_for
from proxycmd import safefs
from sshconfig.block import write
from isolated_user import User, base, one_line_error  # noqa: F401  (base is a fixture)

# (a signal the run was started with ignored reaches this child at its default: tests/conftest.py)
SLOW_REPLACE = """
import os, sys, time
real = os.replace
def slow(src, dst):
    if os.path.basename(str(dst)) == os.environ["CJP_SLOW_NAME"]:
        open(os.environ["CJP_SLOW_MARK"], "w").close()
        time.sleep(120)
    return real(src, dst)
os.replace = slow
sys.argv[0] = "condor-job-ssh"
from sshconfig.cli import main
main()
"""


def temp_files(directory: Path) -> List[str]:
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


def appended(text: str, count: int) -> List[int]:
    return [int(line.split()[-1]) for line in text.splitlines() if line.startswith("# appended line ")]


def save_as_an_editor_does(path: Path, text: str) -> None:
    """Write a new file and rename it over *path*, as vim and most editors save."""
    (path.parent / "editor.new").write_text(text)
    os.replace(path.parent / "editor.new", path)


def test_a_file_saved_between_read_and_rename_is_read_again(base):
    path = base / "config"
    path.write_text("Host a\n")
    calls = []

    def transform(text):
        calls.append(text)
        if len(calls) == 1:  # the user's editor saves while we render
            save_as_an_editor_does(path, "Host a\nHost edited\n")
        return "# ours\n" + text

    assert write.update(path, transform) == write.WRITTEN
    assert path.read_text() == "# ours\nHost a\nHost edited\n" and len(calls) == 2


def test_lines_appended_between_read_and_rename_are_carried_over(base):
    path = base / "config"
    path.write_text("Host a\n")
    calls = []

    def transform(text):
        calls.append(text)
        with open(path, "a") as handle:  # `echo >>` while we render
            handle.write(f"Host b{len(calls)}\n")
        return "# ours\n" + text

    assert write.update(path, transform) == write.WRITTEN
    assert path.read_text() == "# ours\nHost a\nHost b1\n" and len(calls) == 1


def after_the_last_check(monkeypatch, path: Path, mode: str, text: str) -> None:
    """Once, right after our last check that the file is unchanged, write *text* into it (open *mode*)."""
    check = write._require_unchanged
    late = []

    def check_then_write(target, snap, appends_ok=False):
        check(target, snap, appends_ok)
        if not late:
            late.append(1)
            with open(path, mode) as handle:
                handle.write(text)

    monkeypatch.setattr(write, "_require_unchanged", check_then_write)


def test_a_write_into_the_old_file_after_the_last_check_is_carried_over(base, monkeypatch):
    """The narrowest race: a program that opened the file before our rename writes after our check.  Its
    line lands in the old file, which we read once more through our descriptor after the rename."""
    path = base / "config"
    path.write_text("Host a\n")
    after_the_last_check(monkeypatch, path, "a", "Host late\n")
    write.update(path, lambda text: text if text.startswith("# ours\n") else "# ours\n" + text)
    assert path.read_text() == "# ours\nHost a\nHost late\n"


def test_the_rescued_copy_is_never_written_through_a_planted_symlink(base, monkeypatch):
    """A program rewrites the old file (not an append) after our last check: its version is kept beside the
    config as NAME.rescued-TIME.  The directory may be shared: a symlink planted at that name, pointing at
    another file of the user's, must be neither followed nor replaced (issue 18, item 5)."""
    path = base / "config"
    path.write_text("Host a\n")
    victim = base / "victim"
    victim.write_text("precious\n")
    now = int(time.time())
    planted = [base / f"config.rescued-{t}" for t in range(now, now + 30)]
    for name in planted:
        name.symlink_to(victim)
    after_the_last_check(monkeypatch, path, "r+", "Host B\n")  # in place, into the old inode: no append
    with pytest.raises(write.ConfigFileError, match=r"rewritten by another program .* in (\S+): merge it") as info:
        write.update(path, lambda text: text if text.startswith("# ours\n") else "# ours\n" + text)
    assert victim.read_text() == "precious\n"
    assert all(name.is_symlink() for name in planted)
    rescued = Path(re.search(r" in (\S+): merge it", str(info.value)).group(1))
    assert rescued.parent == base and not rescued.is_symlink() and rescued.read_text() == "Host B\n"
    assert stat.S_IMODE(rescued.stat().st_mode) == 0o600


def test_a_file_that_keeps_changing_is_refused_with_nothing_written(base):
    path = base / "config"
    path.write_text("Host a\n")

    def transform(text):
        save_as_an_editor_does(path, text + "# busy\n")
        return "# ours\n" + text

    with pytest.raises(write.ConfigFileError, match="kept changing .* nothing was changed"):
        write.update(path, transform)
    assert path.read_text() == "Host a\n" + "# busy\n" * write.ATTEMPTS
    assert temp_files(base) == []


def test_our_runs_wait_for_each_other(base):
    path = base / "config"
    path.write_text("")
    target = write.resolve(path)
    env_state = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(base / "state")
    try:
        with write.locked(target):
            with pytest.raises(write.ConfigFileError, match="another condor-job-ssh run"):
                with write.locked(target, wait=0.2):
                    pass
        lock = next((base / "state").rglob("*.lock"))
        assert lock.parent.name == "locks" and stat.S_IMODE(lock.parent.stat().st_mode) == 0o700
        assert base not in lock.parents or "state" in lock.parts  # not beside the config
    finally:
        if env_state is None:
            os.environ.pop("XDG_STATE_HOME")
        else:
            os.environ["XDG_STATE_HOME"] = env_state


def test_settings_that_cannot_be_saved_leave_the_config_alone(base):
    user = User(base)
    assert user.setup("--sim", str(base / "pool")).returncode == 0
    before = user.ssh_config.read_bytes()
    settings = base / "config" / "condor-job-proxy" / "config.toml"
    if settings.exists():
        settings.unlink()
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.symlink_to("/dev/null")  # reads as empty settings; saving fails, also for root
    done = user.setup("--user", "alice")
    assert "config.toml" in one_line_error(done)
    assert "Updated" not in done.stdout
    assert user.ssh_config.read_bytes() == before


# ----- item 9: odd files -------------------------------------------------------------------------------------
def _odd(base: Path, kind: str) -> Path:
    path = base / f"odd-{kind}"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        sock.close()
    elif kind == "device":
        return Path("/dev/null")
    return path


@pytest.mark.parametrize("kind", ["fifo", "directory", "socket", "device"])
def test_a_config_that_is_not_a_regular_file_is_refused_at_once(base, kind):
    user = User(base)
    odd = _odd(base, kind)
    for args in (["setup", "--yes"], ["setup", "--dry-run"], ["sync"], ["remove", "--yes"], ["remove", "--dry-run"]):
        done = user.run(*args, "--ssh-config", str(odd))  # a hang would end in TimeoutExpired
        line = one_line_error(done)
        assert "not an ssh config file" in line or "not a regular file" in line, line
    assert os.listdir(base).count(odd.name) <= 1 and temp_files(base) == []


def test_a_non_utf8_byte_survives_under_a_strict_utf8_locale(base):
    user = User(base)
    user.ssh_config.parent.mkdir(mode=0o700)
    original = b"Host caf\xe9\n    # r\xe9sum\xe9 \xff\n    User me\n"
    user.ssh_config.write_bytes(original)
    env = dict(user.env, LC_ALL="C.UTF-8", PYTHONIOENCODING="utf-8:strict")  # as en_US.UTF-8 does
    dry = user.run("setup", "--dry-run", env=env, text=False)
    assert dry.returncode == 0 and dry.stderr == b"", dry.stderr
    assert b" Host caf\xe9\n     # r\xe9sum\xe9 \xff\n" in dry.stdout  # the diff shows the bytes as they are
    done = user.run("setup", "--yes", env=env, text=False)
    # only setup's own warnings (no condor_ssh_to_job here): no encoding error, no traceback
    assert done.returncode == 0, done.stderr
    assert all(line.startswith(b"condor-job-ssh: warning: ") for line in done.stderr.splitlines()), done.stderr
    data = user.ssh_config.read_bytes()
    assert data.endswith(original)
    assert user.run("remove", "--yes", env=env, text=False).returncode == 0
    assert user.ssh_config.read_bytes() == original


def test_a_read_only_config_is_refused(base):
    user = User(base)
    user.ssh_config.parent.mkdir(mode=0o700)
    user.ssh_config.write_text("Host mine\n")
    assert user.setup().returncode == 0
    before = user.ssh_config.read_bytes()
    user.ssh_config.chmod(0o444)
    line = one_line_error(user.setup("--user", "alice"))
    assert "read-only" in line and f"chmod u+w {user.ssh_config}" in line
    assert not (base / "config" / "condor-job-proxy" / "config.toml").exists()  # nothing saved either
    assert "read-only" in one_line_error(user.run("remove", "--yes"))
    assert user.ssh_config.read_bytes() == before
    assert stat.S_IMODE(user.ssh_config.stat().st_mode) == 0o444


def test_a_hard_linked_config_is_refused_and_both_names_stay_one_file(base):
    user = User(base)
    user.ssh_config.parent.mkdir(mode=0o700)
    user.ssh_config.write_text("Host mine\n")
    other = base / "dotfiles-config"
    os.link(user.ssh_config, other)
    line = one_line_error(user.setup())
    assert "2 hard links" in line and "split" in line
    assert user.ssh_config.read_text() == "Host mine\n" and os.path.samefile(user.ssh_config, other)


def test_a_dangling_symlink_is_refused_and_nothing_is_created(base):
    user = User(base)
    user.ssh_config.parent.mkdir(mode=0o700)
    target = base / "dotfiles" / "ssh" / "config"
    user.ssh_config.symlink_to(target)
    for args in (["setup", "--yes"], ["setup", "--dry-run"], ["sync"], ["remove", "--yes"]):
        line = one_line_error(user.run(*args))
        assert "symbolic link" in line and "does not exist" in line
    assert not (base / "dotfiles").exists() and os.path.islink(user.ssh_config)


def test_a_symlinked_config_is_written_through_to_its_target(base):
    user = User(base)
    user.ssh_config.parent.mkdir(mode=0o700)
    target = base / "dotfiles-config"
    target.write_text("Host mine\n")
    user.ssh_config.symlink_to(target)
    assert user.setup().returncode == 0
    assert os.path.islink(user.ssh_config) and target.read_text().endswith("Host mine\n")


# ----- item 9: killed while writing --------------------------------------------------------------------------
def _start_slow_write(user: User, base: Path, name: str, *args: str) -> subprocess.Popen:
    mark = base / "in-rename"
    env = dict(user.env, CJP_SLOW_NAME=name, CJP_SLOW_MARK=str(mark))
    proc = subprocess.Popen([sys.executable, "-c", SLOW_REPLACE, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert wait_for(mark.exists, timeout=60), proc.communicate(timeout=5)
    return proc


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_during_the_write_removes_the_temporary_file(base, signum):
    user = User(base)
    user.ssh_config.parent.mkdir(mode=0o700)
    user.ssh_config.write_text("Host mine\n")
    proc = _start_slow_write(user, base, "config", "setup", "--yes")
    assert len(temp_files(user.ssh_config.parent)) == 1
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and b"Traceback" not in err, err
    assert temp_files(user.ssh_config.parent) == []
    assert user.ssh_config.read_text() == "Host mine\n"


def test_settings_toml_gets_the_same_care(base):
    user = User(base)
    proc = _start_slow_write(user, base, "config.toml", "setup", "--yes", "--user", "alice")
    settings_dir = base / "config" / "condor-job-proxy"
    assert len(temp_files(settings_dir)) == 1
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGTERM
    assert temp_files(settings_dir) == [] and not user.ssh_config.exists()


def test_a_temporary_file_left_by_a_kill_is_swept_by_the_next_run(base):
    user = User(base)
    user.ssh_config.parent.mkdir(mode=0o700)
    user.ssh_config.write_text("Host mine\n")
    proc = _start_slow_write(user, base, "config", "setup", "--yes")
    proc.kill()
    proc.communicate(timeout=30)
    left = temp_files(user.ssh_config.parent)
    assert len(left) == 1 and f".cjp-{proc.pid}-" in left[0]
    stranger = user.ssh_config.parent / ".config.cjp-1-0a0b0c0d.tmp"  # pid 1 lives: not ours to sweep
    stranger.write_text("x")
    unrelated = user.ssh_config.parent / ".config.swp"
    unrelated.write_text("x")
    assert user.setup().returncode == 0
    assert temp_files(user.ssh_config.parent) == [stranger.name] and unrelated.exists()
    assert user.ssh_config.read_text().endswith("Host mine\n")


def test_temp_names_carry_our_pid():
    name = safefs.temp_name(Path("/x/config"))
    assert name.startswith(f".config.cjp-{os.getpid()}-") and name.endswith(".tmp")
