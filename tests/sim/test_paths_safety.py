"""The runtime directory: no other user can create or replace any path ssh uses before our ProxyCommand runs
(issue 8, item 1).  Real `condor-job-ssh setup`, real `condor-job-proxy`, real `ssh`."""

from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import make_world, private_tmp, tool
from isolated_user import User, base, one_line_error  # noqa: F401  (base is a fixture)
from proxycmd import paths

needs_ssh = pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client")
OLD_BLOCK_PATHS = ("/run/user/", "/tmp/condor-job-proxy", "cm-%C")


# ----- the default ----------------------------------------------------------------------------------------
def test_setup_puts_every_path_under_home_ssh_cjp(base):
    user = User(base)
    done = user.setup("--sim", str(base / "pool"))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(user.rundir.stat().st_mode) == 0o700
    assert stat.S_IMODE(user.rundir.parent.stat().st_mode) == 0o700  # we made ~/.ssh
    text = user.ssh_config.read_text()
    assert f"--runtime-dir '{user.rundir}'" in text and f"ControlPath {user.rundir}/%C\n" in text
    assert not any(old in text for old in OLD_BLOCK_PATHS)


@needs_ssh
def test_a_listener_where_the_old_default_was_never_gets_the_session(base):
    """The attack: after a reboot another user re-creates /tmp/condor-job-proxy-<uid> (where the old code put
    the runtime dir when XDG_RUNTIME_DIR was unusable) and listens on the ControlPath.  ssh connects to a
    ControlPath before it runs the ProxyCommand, so under the old block the listener got the session."""
    user = User(base)
    old_dir = Path(f"/tmp/condor-job-proxy-{os.getuid()}")
    made = not os.path.lexists(old_dir)
    if made:
        old_dir.mkdir(mode=0o700)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    control = None
    try:
        done = user.setup("--sim", str(base / "no-pool"))
        assert done.returncode == 0, done.stderr
        text = user.ssh_config.read_text()
        assert str(old_dir) not in text and "--runtime-dir '/tmp/" not in text
        for line in text.splitlines():  # (the proxy's own path may be under /tmp: a clone there, say)
            if line.split()[:1] in (["ControlPath"], ["IdentityAgent"], ["UserKnownHostsFile"]):
                assert "/tmp/" not in line, line
        options = user.ssh_g()
        control = Path(options["controlpath"][0])
        assert control.parent == user.rundir and re.fullmatch("[0-9a-f]{40}", control.name)
        for key in ("identityagent", "userknownhostsfile"):
            assert all(value.startswith(str(user.rundir) + "/") for value in options[key]), options[key]
        if made:  # the hijacker's socket, under the name the old block used for the same %C
            listener.bind(str(old_dir / f"cm-{control.name}"))
            listener.listen(4)
            listener.settimeout(0.5)
        ssh = subprocess.run(["ssh", "-F", str(user.ssh_config), "-o", "BatchMode=yes", "1.0.job.condor", "true"],
                             env=user.env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert ssh.returncode == 255  # our proxy ran (and found no pool): ssh did not talk to the listener
        if made:
            with pytest.raises(socket.timeout):
                listener.accept()
    finally:
        listener.close()
        if made:
            shutil.rmtree(old_dir, ignore_errors=True)
        if control is not None and control.exists():
            control.unlink()


def test_home_with_a_group_writable_ancestor_is_refused(base):
    shared = base / "shared"
    shared.mkdir()
    shared.chmod(0o775)
    user = User(base, shared / "home")
    done = user.setup()
    line = one_line_error(done)
    assert f"{shared} is writable by its group" in line
    assert not (user.home / ".ssh").exists()  # nothing made below an unsafe directory


def test_home_under_a_symlink_to_an_unsafe_directory_is_refused(base):
    unsafe = base / "export"
    unsafe.mkdir()
    unsafe.chmod(0o777 | stat.S_ISVTX)  # sticky and world-writable, like /tmp
    (unsafe / "home").mkdir(mode=0o755)
    (base / "link").symlink_to(unsafe)
    user = User(base, base / "link" / "home")
    line = one_line_error(user.setup())
    assert f"{unsafe} is writable by other users" in line and "after a reboot" in line
    safe = base / "safe"
    (safe / "home").mkdir(parents=True, mode=0o755)
    (base / "link").unlink()
    (base / "link").symlink_to(safe)  # /home -> /export/home done right: accepted
    assert user.setup().returncode == 0


@pytest.mark.skipif(os.getuid() != 0, reason="making a directory of another user's needs root")
def test_an_ancestor_owned_by_another_user_is_refused(base):
    theirs = base / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, 54321, 54321)
    user = User(base, theirs / "home")
    assert "belongs to uid 54321" in one_line_error(user.setup())


def test_home_is_used_only_when_it_is_ours():
    assert paths.home_dir({"HOME": "relative/home"}) == paths.home_dir({})
    assert paths.home_dir({"HOME": "/nonexistent/x"}) == paths.home_dir({})


# ----- --runtime-dir --------------------------------------------------------------------------------------------
def test_runtime_dir_under_a_sticky_world_writable_directory_is_refused(base):
    user = User(base)
    for parent in (Path("/tmp"), base / "sticky"):
        if parent != Path("/tmp"):
            parent.mkdir()
            parent.chmod(0o1777)
        elif not (os.stat("/tmp").st_mode & 0o002):
            continue
        wanted = parent / f"cjp-rt-{os.getpid()}"
        line = one_line_error(user.setup("--runtime-dir", str(wanted)))
        assert f"{parent} is writable by other users" in line and "--runtime-dir ''" in line
        assert not wanted.exists() and not user.ssh_config.exists()
        proxy = subprocess.run([tool("condor-job-proxy"), "--runtime-dir", str(wanted), "1.0.job.condor"],
                               env=user.env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert f"{parent} is writable by other users" in one_line_error(proxy, "condor-job-proxy")
        assert not wanted.exists()


def test_runtime_dir_that_is_a_symlink_or_not_private_is_refused(base):
    user = User(base)
    real = base / "real"
    real.mkdir(mode=0o700)
    (base / "rt").symlink_to(real)
    assert "symbolic link" in one_line_error(user.setup("--runtime-dir", str(base / "rt")))
    (base / "open").mkdir(mode=0o755)
    (base / "open").chmod(0o755)
    assert "want 700" in one_line_error(user.setup("--runtime-dir", str(base / "open")))
    assert user.setup("--runtime-dir", str(real)).returncode == 0


def test_a_runtime_dir_too_long_for_socket_paths_is_refused(base):
    user = User(base)
    deep = base / ("d" * (paths.SOCKET_PATH_MAX - len(str(base)) - 40))
    line = one_line_error(user.setup("--runtime-dir", str(deep)))
    assert "too long for unix socket paths" in line and "--runtime-dir DIR" in line
    long_home = User(base, base / ("h" * 60))  # the default, ~/.ssh/cjp, would be too long too
    line = one_line_error(long_home.setup())
    assert "too long for unix socket paths" in line and "--runtime-dir DIR" in line


def test_a_saved_unsafe_runtime_dir_is_refused_with_the_way_back(base):
    user = User(base)
    settings = base / "config" / "condor-job-proxy" / "config.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text('runtime_dir = "/tmp/old-runtime-dir"\n')
    line = one_line_error(user.setup())
    assert "/tmp is writable by other users" in line and "`condor-job-ssh setup --runtime-dir ''`" in line
    assert not user.ssh_config.exists()
    assert user.setup("--runtime-dir", "").returncode == 0
    assert f"IdentityAgent {user.rundir}/local/agent.sock" in user.ssh_config.read_text()
    assert "runtime_dir" not in settings.read_text()


# ----- upgrading an old block ------------------------------------------------------------------------------
OLD_BLOCK = """\
# >>> condor-job-ssh managed block: generated, do not edit; change with `condor-job-ssh setup`, refresh jobs with `condor-job-ssh sync`, take out with `condor-job-ssh remove` >>>
Host 7.0.job.condor
    # cmd: sleep 600 | running
Match host "*.job.condor" user "*'*"
    ProxyCommand none
Host *.job.condor !"*'*"
    ProxyCommand '/usr/bin/condor-job-proxy' --runtime-dir '{old}' --login '%r' '%h'
    ProxyUseFdpass yes
    IdentityAgent {old}/agent.sock
    IdentityFile none
    IdentitiesOnly no
    UserKnownHostsFile {old}/known_hosts
    StrictHostKeyChecking yes
    UpdateHostKeys no
    CheckHostIP no
    ControlMaster auto
    ControlPath {old}/cm-%C
    ControlPersist 10m
    ServerAliveInterval 30
    ServerAliveCountMax 4
    ConnectTimeout 60
    LogLevel ERROR
Match all
# <<< condor-job-ssh managed block <<<
"""


@pytest.mark.parametrize("old", ["/tmp/condor-job-proxy-1000", "/run/user/1000/condor-job-proxy",
                                 "/home/me/.xdg-run/condor-job-proxy"])
def test_one_bare_setup_moves_an_old_block_to_the_new_paths(base, old):
    user = User(base)
    user.ssh_config.parent.mkdir(mode=0o700)
    mine_above = "# my own notes\n"
    mine_below = "Host build\n    HostName build.example.org\n    User me\n"
    user.ssh_config.write_text(mine_above + OLD_BLOCK.format(old=old) + mine_below)
    done = user.setup()
    assert done.returncode == 0, done.stderr
    text = user.ssh_config.read_text()
    assert old not in text and "cm-%C" not in text
    assert f"ControlPath {user.rundir}/%C\n" in text and f"IdentityAgent {user.rundir}/local/agent.sock\n" in text
    assert text.startswith(mine_above) and text.endswith(mine_below)
    assert "Host 7.0.job.condor\n    # cmd: sleep 600 | running\n" in text  # the synced job is kept
    assert "no changes" in user.setup().stdout


# ----- file systems without unix sockets (AFS) ---------------------------------------------------------------
def test_a_home_that_cannot_hold_sockets_falls_back_to_run_user(base, monkeypatch):
    user = User(base)
    for key, value in user.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(paths, "can_hold_sockets", lambda directory: False)
    fallback_parent = private_tmp("r-")  # stands in for /run/user/<uid>, which only root creates
    try:
        monkeypatch.setattr(paths, "fallback_runtime_dir", lambda: fallback_parent / "condor-job-proxy")
        chosen, warning = paths.pick_runtime_dir()
        assert chosen == fallback_parent / "condor-job-proxy" and chosen.is_dir()
        assert "disappears when you log out" in warning
        monkeypatch.setattr(paths, "fallback_runtime_dir", lambda: base / "no-such" / "condor-job-proxy")
        with pytest.raises(paths.PathError, match="cannot hold unix sockets.*--runtime-dir DIR"):
            paths.pick_runtime_dir()
    finally:
        shutil.rmtree(fallback_parent)


def test_the_socket_probe_tells_a_directory_that_can_hold_sockets(base):
    assert paths.can_hold_sockets(base)
    assert not paths.can_hold_sockets(base / "missing")
    assert os.listdir(base) == []


# ----- shared connections, end to end ----------------------------------------------------------------------
@needs_ssh
@pytest.mark.e2e
def test_shared_connections_live_in_the_private_runtime_dir():
    """With multiplexing on (the default), ssh's master socket is <HOME>/.ssh/cjp/<%C> and later sessions
    reuse it: the real ssh, the real proxy and the simulated pool."""
    worlds = make_world(multiplex=True)
    world = next(worlds)
    try:
        job = world.submit("sleep", "600")
        host = f"{job}.job.condor"
        first = world.ssh(host, "echo", "one")
        assert first.stdout.strip() == "one", first.stderr
        options = subprocess.run(world.ssh_argv("-G", host), env=world.env, capture_output=True, text=True,
                                 timeout=20).stdout
        control = Path(next(line.split(" ", 1)[1] for line in options.splitlines() if line.startswith("controlpath ")))
        assert control.parent == world.rundir == Path(world.env["HOME"]) / ".ssh" / "cjp"
        assert stat.S_ISSOCK(os.lstat(control).st_mode) and len(os.fsencode(str(control))) <= paths.SOCKET_PATH_MAX
        assert world.run(world.ssh_argv("-O", "check", host), check=False).returncode == 0  # a master serves
        second = world.ssh(host, "echo", "two")
        assert second.stdout.strip() == "two", second.stderr
        world.run(world.ssh_argv("-O", "exit", host), check=False)
    finally:
        worlds.close()
