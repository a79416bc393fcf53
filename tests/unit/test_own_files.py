"""Files and directories another local user could plant or change (issue 18, items 1 and 4): a profile or
config.toml is read only when it is the user's own, as ssh reads ~/.ssh/config; the state directory (the
config lock, the failure records) must pass the runtime directory's safe-chain rule.

"Another user" is a real second owner: a file chown'ed to nobody (as root, which owns everything else, so
the check still means something), else the test is skipped."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import private_tmp, tool
from proxycmd import ondemand, paths
from proxycmd.errors import ProxyError

OTHER_UID = 65534  # nobody
as_root = pytest.mark.skipif(os.getuid() != 0, reason="needs root to give a file to another user")


@pytest.fixture
def home(monkeypatch):
    base = private_tmp("cjp-own-")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(base / "state"))
    monkeypatch.setenv("HOME", str(base))
    (base / "config" / "condor-job-proxy" / "profiles").mkdir(parents=True, mode=0o700)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _env(base: Path) -> dict:
    env = dict(os.environ, HOME=str(base), XDG_CONFIG_HOME=str(base / "config"), XDG_STATE_HOME=str(base / "state"))
    env.pop("XDG_RUNTIME_DIR", None)
    return env


def _mallorys_file(base: Path, text: str) -> Path:
    """A world-readable file of another user's, in a directory of theirs."""
    theirs = base / "mallory"
    theirs.mkdir(mode=0o755)
    path = theirs / "evil.sub"
    path.write_text(text)
    path.chmod(0o644)
    os.chown(path, OTHER_UID, OTHER_UID)
    os.chown(theirs, OTHER_UID, OTHER_UID)
    return path


EVIL = 'request_cpus = 1\ncontainer_image = docker://mallory/evil\n+ProjectName = "x"\n'


@as_root
def test_a_profile_owned_by_another_user_is_refused(home):
    profile = paths.profile_file("mal")
    profile.write_text(EVIL)
    os.chown(profile, OTHER_UID, OTHER_UID)
    with pytest.raises(ProxyError, match=r"refusing to read profile .*mal\.sub: it belongs to user nobody \(uid 6"):
        ondemand.read_profile("mal")


@as_root
def test_a_profile_linking_to_another_users_file_is_refused_and_nothing_is_submitted(home):
    from proxycmd.hostname import parse
    from test_profiles import FakeJobs

    target = _mallorys_file(home, EVIL)
    paths.profile_file("mal").symlink_to(target)
    jobs = FakeJobs()
    rundir = home / "run"
    rundir.mkdir(mode=0o700)
    with pytest.raises(ProxyError) as info:
        ondemand.find_or_submit(parse("mal.job.condor"), jobs, rundir)
    message = str(info.value)
    assert f"(a link to {target})" in message and "belongs to user nobody" in message and "\n" not in message
    assert jobs.submitted == []
    # the ProxyCommand itself says so in one line, exit status 1 (before any pool is asked)
    done = subprocess.run([tool("condor-job-proxy"), "--sim", str(home / "nopool"), "mal.job.condor"],
                          env=_env(home), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1 and "belongs to user nobody" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@as_root
def test_a_link_owned_by_another_user_is_refused(home):
    mine = home / "mine.sub"
    mine.write_text("request_cpus = 1\n")
    mine.chmod(0o600)
    link = paths.profile_file("mal")
    link.symlink_to(mine)
    os.lchown(link, OTHER_UID, OTHER_UID)
    with pytest.raises(ProxyError, match="the symbolic link .* belongs to user nobody"):
        ondemand.read_profile("mal")


def test_a_profile_others_may_write_is_refused_and_ones_own_link_is_fine(home):
    profile = paths.profile_file("gpu")
    profile.write_text("request_cpus = 1\n")
    profile.chmod(0o664)
    with pytest.raises(ProxyError, match=r"mode 664 lets its group change it; run `chmod go-w "):
        ondemand.load_profile("gpu")
    profile.chmod(0o646)
    with pytest.raises(ProxyError, match="lets others change it"):
        ondemand.load_profile("gpu")
    profile.unlink()
    mine = home / "dotfiles.sub"
    mine.write_text("request_cpus = 2\n")
    mine.chmod(0o644)
    profile.symlink_to(mine)
    _, entries = ondemand.load_profile("gpu")
    assert [(e.key, e.value) for e in entries] == [("request_cpus", "2")]


@as_root
def test_config_toml_of_another_user_is_refused(home):
    from sshconfig.block import settings

    config = paths.config_file()
    config.write_text('sim_root = "/home/mallory/pool"\n')
    os.chown(config, OTHER_UID, OTHER_UID)
    with pytest.raises(settings.SettingsError, match="refusing to read settings file .*belongs to user nobody"):
        settings.load()
    done = subprocess.run([tool("condor-job-ssh"), "setup", "--dry-run", "--ssh-config", str(home / "ssh_config")],
                          env=_env(home), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1 and "belongs to user nobody" in done.stderr and "mallory" not in done.stdout
    os.chown(config, 0, 0)
    config.chmod(0o666)
    with pytest.raises(settings.SettingsError, match="lets others change it"):
        settings.load()


# ----- item 4: the state directory -----------------------------------------------------------------------------
def _shared_dir(base: Path) -> Path:
    shared = base / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: sticky, and anyone may create names in it
    return shared


def test_state_dir_in_a_directory_others_can_write_is_refused_and_nothing_is_made(home, monkeypatch):
    shared = _shared_dir(home)
    monkeypatch.setenv("XDG_STATE_HOME", str(shared))
    with pytest.raises(paths.PathError, match=r"is writable by other users"):
        paths.config_lock(home / "ssh_config")
    assert list(shared.iterdir()) == []
    from proxycmd import failures

    with pytest.raises(paths.PathError):
        failures.record("1.0.job.condor", "condor-job-proxy: x")
    assert list(shared.iterdir()) == []
    assert failures.recent() == []


def test_setup_refuses_a_shared_state_dir_with_one_line_and_writes_nothing_there(home):
    shared = _shared_dir(home)
    env = dict(_env(home), XDG_STATE_HOME=str(shared))
    config = home / "ssh_config"
    done = subprocess.run([tool("condor-job-ssh"), "setup", "--yes", "--user", "bob", "--ssh-config", str(config)],
                          env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1, done
    [line] = done.stderr.strip().splitlines()
    assert str(shared) in line and "writable by other users" in line and "XDG_STATE_HOME" in line, line
    assert list(shared.iterdir()) == [] and not config.exists()
    assert not paths.config_file().exists()  # refused before anything was saved


def _theirs(home: Path) -> Path:
    """A directory of another user's (nobody's), that only they may write."""
    theirs = home / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, OTHER_UID, OTHER_UID)
    return theirs


@as_root
def test_state_dir_owned_by_another_user_is_refused(home, monkeypatch):
    theirs = _theirs(home)
    monkeypatch.setenv("XDG_STATE_HOME", str(theirs))
    with pytest.raises(paths.PathError, match="belongs to uid 65534"):
        paths.config_lock(home / "ssh_config")
    assert list(theirs.iterdir()) == []


def test_a_premade_locks_directory_of_ours_with_loose_mode_is_refused(home):
    locks = paths.state_dir() / "locks"
    locks.mkdir(parents=True, mode=0o755)
    locks.chmod(0o777)
    with pytest.raises(paths.PathError, match="lets others in"):
        paths.config_lock(home / "ssh_config")


# ----- issue 24, item 4: the settings directory and ~/.ssh follow XDG_CONFIG_HOME and HOME -------------------
def _setup(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([tool("condor-job-ssh"), "setup", "--yes", "--user", "bob", *args], env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("mode", [0o1777, 0o777, 0o775], ids=["sticky", "world", "group"])
def test_setup_refuses_a_settings_dir_others_can_write_and_writes_nothing_there(home, mode):
    """With XDG_CONFIG_HOME in a directory another user can write, a link swapped in while setup wrote
    config.toml made it overwrite a file of the attacker's choosing: refused, with one line."""
    shared = _shared_dir(home)
    shared.chmod(mode)
    env = dict(_env(home), XDG_CONFIG_HOME=str(shared / "config"))
    config = home / "ssh_config"
    done = _setup(env, "--ssh-config", str(config))
    assert done.returncode == 1, done
    [line] = done.stderr.strip().splitlines()
    assert str(shared) in line and "writable by" in line and "XDG_CONFIG_HOME" in line, line
    assert list(shared.iterdir()) == [] and not config.exists()


@as_root
def test_a_settings_dir_in_a_directory_of_another_user_is_refused_everywhere(home, monkeypatch):
    theirs = _theirs(home)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(theirs))
    from sshconfig.block import settings

    for action in (settings.load, lambda: settings.save(settings.Settings()), lambda: ondemand.read_profile("gpu")):
        with pytest.raises((ProxyError, settings.SettingsError), match="belongs to uid 65534"):
            action()
    done = subprocess.run([tool("condor-job-ssh"), "profile", "new", "gpu"], capture_output=True, text=True,
                          env=dict(_env(home), XDG_CONFIG_HOME=str(theirs)), timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1 and "belongs to uid" in done.stderr
    assert list(theirs.iterdir()) == []


def test_setup_refuses_an_ssh_dir_others_can_write_under_home(home):
    """~/.ssh/config follows $HOME: a home in a shared directory is refused before anything is written."""
    shared = _shared_dir(home)
    shared.chmod(0o777)
    user_home = shared / "me"
    user_home.mkdir(mode=0o755)
    env = dict(_env(home), HOME=str(user_home))
    rundir = home / "run"
    done = _setup(env, "--runtime-dir", str(rundir))
    assert done.returncode == 1, done
    [line] = done.stderr.strip().splitlines()
    assert str(shared) in line and "writable by other users" in line and "--ssh-config" in line, line
    assert list(user_home.iterdir()) == []
    # the same home made safe: setup writes ~/.ssh/config there
    shared.chmod(0o755)
    done = _setup(env, "--runtime-dir", str(rundir))
    assert done.returncode == 0, done.stderr
    assert "Match host \"*.job.condor,*.job.condor.\"" in (user_home / ".ssh" / "config").read_text()


def test_a_via_config_others_may_change_is_refused_in_one_line(tmp_path):
    """ssh checks the ownership of its own ~/.ssh/config only, not of an `ssh -F` file: the hop backend does,
    since what that file says (a ProxyCommand) runs as the user."""
    from proxycmd.backends.hop.backend import HopBackend
    from proxycmd.ownfile import NotOwnFile

    config = tmp_path / "ssh_config"
    config.write_text("Host ap1\n    HostName ap1.example.org\n")
    config.chmod(0o666)
    with pytest.raises(NotOwnFile) as refused:
        HopBackend("ap1", config=str(config))
    assert "others" in str(refused.value) and "chmod go-w" in str(refused.value) and "\n" not in str(refused.value)
    config.chmod(0o644)
    assert HopBackend("ap1", config=str(config)).config == str(config)
    assert HopBackend("ap1", config=str(tmp_path / "missing")).config  # ssh says that one
    if os.getuid() == 0:  # root can hand the file to another user
        config.chmod(0o600)
        os.chown(config, 65534, 65534)
        with pytest.raises(NotOwnFile, match="belongs to"):
            HopBackend("ap1", config=str(config))
