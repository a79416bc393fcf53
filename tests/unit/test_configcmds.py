"""`condor-job-ssh setup`, `sync` and `remove`, and the settings file, in an isolated HOME."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import pytest
import typer
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from typer.testing import CliRunner

from conftest import private_tmp
from proxycmd.session import JobInfo
from sshconfig import ui
from sshconfig.commands import remove as remove_cmd, setup as setup_cmd, sync as sync_cmd
from sshconfig.block import settings
from sshconfig.block.splice import BEGIN, END
from sshconfig.block.settings import Route, Settings, SettingsError

SCRIPT = Path(sys.executable).parent / "condor-job-ssh"


@dataclass
class Home:
    base: Path
    env: Dict[str, str]

    @property
    def ssh_config(self) -> Path:
        return Path(self.env["HOME"]) / ".ssh" / "config"

    @property
    def rundir(self) -> Path:
        return Path(self.env["HOME"]) / ".ssh" / "cjp"

    @property
    def settings_file(self) -> Path:
        return Path(self.env["XDG_CONFIG_HOME"]) / "condor-job-proxy" / "config.toml"


def make_home() -> Home:
    base = private_tmp("c-")  # short (the runtime dir holds sockets) and not under /tmp (see conftest)
    env = {"HOME": str(base / "home"), "XDG_CONFIG_HOME": str(base / "config"),
           "XDG_STATE_HOME": str(base / "state")}
    os.mkdir(base / "home", 0o755)
    return Home(base, env)


@pytest.fixture
def home(monkeypatch):
    made = make_home()
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    for key, value in made.env.items():
        monkeypatch.setenv(key, value)
    yield made
    shutil.rmtree(made.base, ignore_errors=True)


def app() -> typer.Typer:
    built = typer.Typer()
    for command in (setup_cmd, sync_cmd, remove_cmd):
        command.register(built)
    return built


def runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # click < 8.2; later ones keep stderr apart anyway
    except TypeError:
        return CliRunner()


def run(*args: str, input: str = None, code: int = 0):
    result = runner().invoke(app(), list(args), input=input)
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


def one_line_error(result) -> str:
    lines = result.stderr.strip().split("\n")
    assert len(lines) == 1 and lines[0].startswith("condor-job-ssh: error: "), result.stderr
    return lines[0]


# ----- setup ---------------------------------------------------------------------------------------------------
def test_setup_creates_ssh_dir_and_file(home):
    result = run("setup", "--yes")
    assert "+Match host \"*.job.condor,*.job.condor.,!*'*,!*!*\"" in result.stdout
    config = home.ssh_config
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    text = config.read_text()
    assert text.startswith(BEGIN + "\n") and text.endswith(END + "\n")
    assert f"--runtime-dir '{home.rundir}'" in text
    assert not home.settings_file.exists()  # nothing but defaults: nothing to save


def test_second_setup_says_no_changes_and_leaves_the_file_alone(home):
    run("setup", "--yes", "--user", "alice")
    os.utime(home.ssh_config, ns=(1_000_000_000, 1_000_000_000))
    result = run("setup")
    assert "no changes" in result.stdout
    assert home.ssh_config.stat().st_mtime_ns == 1_000_000_000


def test_dry_run_writes_nothing(home):
    result = run("setup", "--dry-run", "--sim", "/tmp/somewhere")
    assert "--sim '/tmp/somewhere'" in result.stdout and "nothing was written" in result.stdout
    assert not home.ssh_config.exists() and not home.settings_file.exists()
    assert not home.rundir.exists()


def test_without_a_terminal_setup_wants_yes(home):
    result = run("setup", code=1)
    assert "--yes" in one_line_error(result)
    assert "+Match all" in result.stdout  # the diff was shown
    assert not home.ssh_config.exists()


def test_a_terminal_is_asked(home, monkeypatch):
    monkeypatch.setattr(ui, "stdin_is_terminal", lambda: True)
    run("setup", input="n\n", code=1)
    assert not home.ssh_config.exists()
    run("setup", input="y\n")
    assert home.ssh_config.exists()


def test_options_are_saved_and_reused(home):
    run("setup", "--yes", "--sim", "/tmp/sim pool", "--user", "alice", "--no-multiplex",
        "--route", "ap2.condor=s2@ap2.example.org@cm.example.org", "--route", "osg=@cm.osg.org")
    saved = settings.load()
    assert saved.sim_root == "/tmp/sim pool" and saved.user == "alice" and not saved.multiplex
    assert saved.routes == [Route("ap2.condor", "s2@ap2.example.org", "cm.example.org"),
                            Route("osg", None, "cm.osg.org")]
    assert "no changes" in run("setup").stdout  # the saved options, applied again
    run("setup", "--yes", "--condor", "--user", "", "--no-routes")
    text = home.ssh_config.read_text()
    assert "--sim" not in text and "User " not in text and "osg" not in text
    assert "ControlMaster no" in text  # still saved


def test_bad_options_are_one_line(home):
    for args, words in [(["--suffix", "a b"], "'suffix'"), (["--user", "a'b"], "'user'"),
                        (["--control-persist", "soon"], "'control_persist'"), (["--route", "nope"], "SUFFIX="),
                        (["--sim", "/x", "--condor"], "contradict"), (["--schedd", "a b"], "'schedd'"),
                        (["--route", "job.condor=x"], "only once")]:
        assert words in one_line_error(run("setup", "--yes", *args, code=1))
    assert not home.ssh_config.exists()


def test_setup_keeps_synced_hosts_of_current_suffixes(home, monkeypatch):
    run("setup", "--yes")
    fake_pool(monkeypatch, [JobInfo(4, 0, "running")])
    run("sync")
    run("setup", "--yes", "--user", "bob")
    assert "Host 4.0.job.condor\n" in home.ssh_config.read_text()
    run("setup", "--yes", "--suffix", "jobs.example")
    assert "Host 4.0." not in home.ssh_config.read_text()


def test_setup_warns_about_options_above_the_block(home):
    home.ssh_config.parent.mkdir(mode=0o700)
    home.ssh_config.write_text("Host a\n    User x\n")
    run("setup", "--yes")
    text = home.ssh_config.read_text()
    home.ssh_config.write_text("User me\n" + text)
    result = run("setup", "--yes", "--user", "bob")
    assert "'User me' above the managed block" in result.stderr


# ----- remove, and byte identity ---------------------------------------------------------------------------
def test_remove_deletes_the_file_setup_created(home):
    run("setup", "--yes")
    assert "will be deleted" in run("remove", "--dry-run").stdout and home.ssh_config.exists()
    run("remove", "--yes")
    assert not home.ssh_config.exists() and home.ssh_config.parent.is_dir()
    assert "nothing to remove" in run("remove", "--yes").stdout


def test_remove_keeps_a_created_file_that_got_other_content(home):
    run("setup", "--yes")
    with open(home.ssh_config, "a") as handle:
        handle.write("Host mine\n")
    run("remove", "--yes")
    assert home.ssh_config.read_text() == "Host mine\n"


def test_remove_keeps_an_empty_file_that_was_there(home):
    home.ssh_config.parent.mkdir(mode=0o700)
    home.ssh_config.write_bytes(b"")
    run("setup", "--yes")
    run("remove", "--yes")
    assert home.ssh_config.read_bytes() == b""


SAMPLE_LINES = ["Host *", "    IdentityFile ~/.ssh/id_ed25519", "Match host *.example.org exec \"true\"",
                "Include ~/.ssh/config.d/*", "# café ☕ 日本語", "User me", "", "\tPort 2222", "Host build\t# box",
                "    ProxyJump bastion", "Match all", "  # indented comment"]


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(SAMPLE_LINES), max_size=12), st.sampled_from([b"\n", b"\r\n"]), st.booleans())
def test_setup_then_remove_is_byte_identical(home, lines, newline, final):
    raw = newline.join(line.encode() for line in lines) + (newline if final and lines else b"")
    home.ssh_config.parent.mkdir(mode=0o700, exist_ok=True)
    home.ssh_config.write_bytes(raw)
    run("setup", "--yes", "--user", "alice")
    once = home.ssh_config.read_bytes()
    run("setup", "--yes")
    assert home.ssh_config.read_bytes() == once
    run("remove", "--yes")
    assert home.ssh_config.read_bytes() == raw


def test_a_symlinked_config_stays_a_link(home):
    target = Path(home.env["HOME"]) / "dotfiles" / "ssh_config"
    target.parent.mkdir(parents=True)
    target.write_text("Host a\n")
    home.ssh_config.parent.mkdir(mode=0o700)
    home.ssh_config.symlink_to(target)
    run("setup", "--yes")
    assert home.ssh_config.is_symlink() and target.read_text().startswith(BEGIN)
    run("remove", "--yes")
    assert home.ssh_config.is_symlink() and target.read_text() == "Host a\n"


def test_the_mode_is_kept(home):
    home.ssh_config.parent.mkdir(mode=0o700)
    home.ssh_config.write_text("Host a\n")
    home.ssh_config.chmod(0o644)
    run("setup", "--yes")
    assert stat.S_IMODE(home.ssh_config.stat().st_mode) == 0o644


@pytest.mark.parametrize("text", [f"{BEGIN}\n{BEGIN}\n{END}\n", f"{END}\n{BEGIN}\n", f"Host a\n{BEGIN}\n"])
@pytest.mark.parametrize("command", ["setup", "remove", "sync"])
def test_broken_markers_stop_every_command(home, text, command):
    home.ssh_config.parent.mkdir(mode=0o700)
    home.ssh_config.write_text(text)
    assert "marker" in one_line_error(run(command, "--yes" if command != "sync" else "-q", code=1))
    assert home.ssh_config.read_text() == text


def test_a_file_that_is_not_text_is_refused(home):
    config = Path(home.env["HOME"]) / "cfg"
    config.write_bytes(b"\x00\x01binary")
    assert "not a text file" in one_line_error(run("setup", "--yes", "--ssh-config", str(config), code=1))
    assert config.read_bytes() == b"\x00\x01binary"


def run_script(home: Home, *args: str, as_unprivileged_root: bool = False) -> subprocess.CompletedProcess:
    command = [str(SCRIPT), *args]
    if as_unprivileged_root:  # root ignores file modes unless it gives up CAP_DAC_OVERRIDE
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    return subprocess.run(command, env=dict(os.environ, **home.env), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)


@pytest.mark.skipif(not SCRIPT.exists(), reason="needs the installed condor-job-ssh script")
def test_an_unwritable_directory_is_one_line_and_no_write(home):
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("as root, needs setpriv to drop CAP_DAC_OVERRIDE")
    locked = home.base / "locked"
    locked.mkdir()
    config = locked / "config"
    config.write_text("Host a\n")
    locked.chmod(0o555)
    settings = Path(home.env["XDG_CONFIG_HOME"]) / "condor-job-proxy" / "config.toml"
    try:
        out = run_script(home, "setup", "--yes", "--user", "dave", "--ssh-config", str(config),
                         as_unprivileged_root=os.geteuid() == 0)
    finally:
        locked.chmod(0o755)
    assert out.returncode == 1, out.stderr
    assert out.stderr.count("\n") == 1 and "Permission denied" in out.stderr and "nothing was changed" in out.stderr
    assert config.read_text() == "Host a\n" and os.listdir(locked) == ["config"]
    assert not settings.exists() or "dave" not in settings.read_text()  # not saved for a later bare setup


# ----- the real client, through the real script ------------------------------------------------------------
@pytest.mark.skipif(not SCRIPT.exists() or not shutil.which("ssh"), reason="needs condor-job-ssh and ssh")
def installed_proxy_start() -> str:
    """The ProxyCommand's first words as the installed condor-job-ssh writes them: the quick start
    (`python -I -S .../proxycmd/condor-job-proxy`, proxycmd/ourcommands.py) where the install allows, else
    the console script."""
    probe = "import json; from proxycmd import ourcommands; print(json.dumps(ourcommands.quick_start()))"
    done = subprocess.run([sys.executable, "-I", "-c", probe], cwd="/", capture_output=True, text=True, timeout=60)
    words = json.loads(done.stdout)
    if words is None:
        return f"'{setup_cmd.find_proxy()}'"
    return f"'{words[0]}' -I -S '{words[3]}'"


def test_real_setup_beats_a_users_host_star(home):
    config = home.base / "ssh_config"
    config.write_text("Compression yes\n\nHost *\n    IdentityFile ~/.ssh/id_mine\n    IdentityAgent /tmp/agent\n"
                      "    User bob\n    ControlMaster no\n    IdentitiesOnly yes\n")
    out = run_script(home, "setup", "--yes", "--user", "alice", "--ssh-config", str(config))
    assert out.returncode == 0, out.stderr

    def ssh_g(host: str) -> List[str]:
        got = subprocess.run(["ssh", "-G", "-F", str(config), host], capture_output=True, text=True, timeout=20)
        assert got.returncode == 0, got.stderr
        return got.stdout.splitlines()

    ours = ssh_g("32.0.job.condor")
    rundir = str(home.rundir)
    assert f"proxycommand {installed_proxy_start()} --runtime-dir '{rundir}' --one-host --login '%r' '%h'" in ours
    for line in [f"identityagent {rundir}/local/agent.sock", "identityfile none", "user alice", "controlmaster auto",
                 "identitiesonly no"]:
        assert line in ours
    theirs = ssh_g("example.org")
    for line in ["compression yes", "user bob", "identitiesonly yes", "identityagent /tmp/agent"]:
        assert line in theirs


@pytest.mark.skipif(not SCRIPT.exists(), reason="needs the installed condor-job-ssh script")
def test_help_texts_have_examples(home):
    for command in ("setup", "sync", "remove"):
        out = run_script(home, command, "--help")
        assert out.returncode == 0 and "Examples:" in out.stdout and "condor-job-ssh " + command in out.stdout


# ----- sync ----------------------------------------------------------------------------------------------------
class FakeBackend:
    def __init__(self, jobs: List[JobInfo], calls: list) -> None:
        self.jobs, self.calls = jobs, calls

    def list_jobs(self, *, include_idle: bool = False) -> List[JobInfo]:
        self.calls.append(include_idle)
        if isinstance(self.jobs, BaseException):
            raise self.jobs
        return list(self.jobs)

    def checks(self, *, quick: bool = False) -> list:  # the Backend interface's doctor rows: none here
        return []


def fake_pool(monkeypatch, jobs) -> list:
    """Make open_backend hand out FakeBackend(jobs); returns the list of (open arguments, include_idle)."""
    calls: list = []

    def open_backend(**kwargs):
        calls.append(kwargs)
        return FakeBackend(jobs, calls)

    monkeypatch.setattr("proxycmd.backends.open_backend", open_backend)
    return calls


def hosts(home: Home) -> List[str]:
    return [line[5:] for line in home.ssh_config.read_text().split("\n") if line.startswith("Host ")
            and "*" not in line]


def test_sync_lists_running_jobs_and_drops_those_that_left(home, monkeypatch):
    run("setup", "--yes", "--schedd", "ap1", "--pool", "cm")
    jobs = [JobInfo(32, 0, "running", cmd="sleep 600"), JobInfo(33, 0, "idle"), JobInfo(34, 0, "held"),
            JobInfo(35, 1, "transferring")]
    calls = fake_pool(monkeypatch, jobs)
    assert "2 job hosts" in run("sync").stdout
    assert calls[0] == {"sim_root": None, "schedd": "ap1", "pool": "cm", "pool_only": False} and calls[1] is False
    assert hosts(home) == ["32.0.job.condor", "35.1.job.condor"]
    os.utime(home.ssh_config, ns=(1_000_000_000, 1_000_000_000))
    assert run("sync", "-q").stdout == ""
    assert home.ssh_config.stat().st_mtime_ns == 1_000_000_000  # unchanged: not written
    run("sync", "--include-idle")
    assert hosts(home) == ["32.0.job.condor", "33.0.job.condor", "35.1.job.condor"]
    jobs[:] = [JobInfo(35, 1, "running")]
    run("sync")
    assert hosts(home) == ["35.1.job.condor"]


def test_sync_writes_at_most_its_limit_of_job_hosts_the_newest(home, monkeypatch):
    """A pool or AP listing 1,000,000 jobs once made a 143 MB ssh config (+0.5 s on every ssh to any host):
    sync writes the newest 1000 (setup --sync-limit N), and says how the rest are reached (issue 24, item 4)."""
    run("setup", "--yes")
    fake_pool(monkeypatch, [JobInfo(i, 0, "running") for i in range(1, 1_000_001)])
    result = run("sync")
    listed = hosts(home)
    assert len(listed) == 1000 and set(listed) == {f"{i}.0.job.condor" for i in range(999_001, 1_000_001)}
    assert home.ssh_config.stat().st_size < 200_000
    [warning] = [line for line in result.stderr.splitlines() if "warning" in line]
    assert "1000000 jobs are listed, more than the 1000 job hosts sync writes" in warning
    assert "ssh CLUSTER.PROC.job.condor" in warning and "setup --sync-limit N" in warning
    run("setup", "--yes", "--sync-limit", "3")
    run("sync")
    assert hosts(home) == ["999998.0.job.condor", "999999.0.job.condor", "1000000.0.job.condor"]
    assert "'sync_limit' (0): use a whole number from 1" in one_line_error(run("setup", "--yes", "--sync-limit", "0",
                                                                                code=1))


def test_sync_dry_run_writes_nothing(home, monkeypatch):
    run("setup", "--yes")
    before = home.ssh_config.read_bytes()
    fake_pool(monkeypatch, [JobInfo(1, 0, "running")])
    assert "+Host 1.0.job.condor" in run("sync", "--dry-run").stdout
    assert home.ssh_config.read_bytes() == before


def test_sync_needs_setup(home, monkeypatch):
    calls = fake_pool(monkeypatch, [])
    from proxycmd.ourcommands import command_word  # the bare name when on PATH, else the absolute path

    assert f"run `{command_word('condor-job-ssh')} setup` first" in one_line_error(run("sync", code=1))
    assert calls == [] and not home.ssh_config.exists()


def test_sync_reports_pool_errors_in_one_line(home, monkeypatch):
    from proxycmd.errors import ProxyError

    run("setup", "--yes")
    before = home.ssh_config.read_bytes()
    fake_pool(monkeypatch, ProxyError("the schedd did not answer"))
    assert one_line_error(run("sync", code=1)).endswith("the schedd did not answer")
    assert home.ssh_config.read_bytes() == before


def test_sync_watch_stops_cleanly_on_ctrl_c(home, monkeypatch):
    run("setup", "--yes")
    fake_pool(monkeypatch, [JobInfo(1, 0, "running")])
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(sync_cmd.time, "sleep", sleep)
    result = run("sync", "--watch", "5")
    assert sleeps == [5, 5, 5] and "Stopped" in result.stderr and hosts(home) == ["1.0.job.condor"]


def test_sync_watch_refuses_dry_run(home):
    assert "--dry-run" in one_line_error(run("sync", "--watch", "5", "--dry-run", code=1))


def test_setup_runtime_dir_option(home):
    rundir = home.base / "rt"
    run("setup", "--yes", "--runtime-dir", str(rundir))
    assert stat.S_IMODE(rundir.stat().st_mode) == 0o700
    assert f"IdentityAgent {rundir}/local/agent.sock" in home.ssh_config.read_text()
    run("setup", "--yes", "--runtime-dir", "")
    assert f"IdentityAgent {home.rundir}/local/agent.sock" in home.ssh_config.read_text()


def test_setup_sim_empty_resets_and_never_names_the_working_directory(home, monkeypatch):
    monkeypatch.chdir(home.base)
    run("setup", "--yes", "--sim", str(home.base / "pool"))
    assert f"--sim '{home.base / 'pool'}'" in home.ssh_config.read_text()
    run("setup", "--yes", "--sim", "")
    text = home.ssh_config.read_text()
    assert "--sim" not in text and "ProxyCommand" in text


@pytest.mark.skipif(not Path(__file__).resolve().parents[2].joinpath("proxycmd/backends/sim.py").exists(),
                    reason="needs the simulated pool")
def test_sync_with_the_simulated_pool(home):
    from proxycmd.sim.client import SimPool

    pool = SimPool(home.base / "sim")
    pool.start()
    try:
        pool.submit(["sleep", "300"], batch_name="nightly")
        pool.submit(["sleep", "300"], idle=True)
        run("setup", "--yes", "--sim", str(pool.root))
        run("sync")
        assert hosts(home) == ["1.0.job.condor"]
        assert "batch: nightly | cmd: sleep 300" in home.ssh_config.read_text()
        run("sync", "--include-idle")
        assert hosts(home) == ["1.0.job.condor", "2.0.job.condor"]
    finally:
        pool.stop()


# ----- the settings file -----------------------------------------------------------------------------------
def test_settings_round_trip(home):
    chosen = Settings(suffix="jobs.example", schedd="ap1", routes=[Route("b.example", None, "cm")],
                      forward_agent=True, connect_timeout=300, runtime_dir="/tmp/rt")
    settings.save(chosen)
    assert settings.load() == chosen
    assert stat.S_IMODE(home.settings_file.stat().st_mode) == 0o600
    assert "multiplex" not in home.settings_file.read_text()  # defaults are not written


def test_settings_unknown_keys_warn_and_survive(home):
    home.settings_file.parent.mkdir(parents=True)
    home.settings_file.write_text('user = "alice"\nfuture_option = 3\n')
    warnings: list = []
    loaded = settings.load(warn=warnings.append)
    assert loaded.user == "alice" and len(warnings) == 1 and "'future_option'" in warnings[0]
    settings.save(loaded)
    assert "future_option = 3" in home.settings_file.read_text()
    result = run("setup", "--yes")
    assert "warning" in result.stderr and "future_option" in result.stderr


@pytest.mark.parametrize("line, key", [("multiplex = 3", "'multiplex'"), ("connect_timeout = 'x'", "'connect_timeout'"),
                                       ("suffix = 'a..b'", "'suffix'"), ("routes = 5", "'routes'"),
                                       ("routes = [{schedd = 'x'}]", "'routes'"), ("user = 'a b'", "'user'"),
                                       ("sim_root = 'relative'", "'sim_root'"), ("= broken", "not valid TOML")])
def test_bad_settings_are_one_line_naming_file_and_key(home, line, key):
    home.settings_file.parent.mkdir(parents=True)
    home.settings_file.write_text(line + "\n")
    with pytest.raises(SettingsError) as info:
        settings.load()
    assert str(home.settings_file) in str(info.value) and key in str(info.value)
    message = one_line_error(run("setup", "--yes", code=1))
    assert str(home.settings_file) in message and key in message
    assert not home.ssh_config.exists()


# ----- finding the proxy -----------------------------------------------------------------------------------
def test_find_proxy_prefers_the_one_beside_python(monkeypatch, tmp_path):
    beside = tmp_path / "venv" / "bin"
    beside.mkdir(parents=True)
    (beside / "python").touch()
    on_path = tmp_path / "shims"
    on_path.mkdir()
    for where in (beside, on_path):
        (where / "condor-job-proxy").write_text("#!/bin/sh\n")
        (where / "condor-job-proxy").chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(beside / "python"))
    monkeypatch.setenv("PATH", str(on_path))
    assert setup_cmd.find_proxy() == str(beside / "condor-job-proxy")
    (beside / "condor-job-proxy").unlink()
    assert setup_cmd.find_proxy() == str(on_path / "condor-job-proxy")
    (on_path / "condor-job-proxy").unlink()
    with pytest.raises(ui.Failure, match="cannot find condor-job-proxy"):
        setup_cmd.find_proxy()


def test_parse_route():
    from sshconfig.block.values import parse_route

    assert parse_route("a.condor=ap2") == Route("a.condor", "ap2", None)
    assert parse_route("a.condor=s2@ap1@cm:9618") == Route("a.condor", "s2@ap1", "cm:9618")
    assert parse_route("a.condor=s2@ap1@") == Route("a.condor", "s2@ap1", None)
    assert parse_route("a.condor=@cm") == Route("a.condor", None, "cm")
    with pytest.raises(SettingsError):  # the route's own parse (block/options.py): the same one line, status 1
        parse_route("=x")


def test_setup_wait_timeout_is_saved_reset_and_checked(home):
    run("setup", "--yes", "--wait-timeout", "90")
    assert settings.load().wait_timeout == 90 and " --wait-timeout 90 " in home.ssh_config.read_text()
    run("setup", "--yes")  # a bare setup keeps it
    assert " --wait-timeout 90 " in home.ssh_config.read_text()
    for bad in ["nan", "inf", "-5", "soon"]:
        assert "'wait_timeout'" in one_line_error(run("setup", "--yes", "--wait-timeout", bad, code=1))
    for reset in ["0", ""]:
        run("setup", "--yes", "--wait-timeout", "7")
        run("setup", "--yes", "--wait-timeout", reset)
        assert settings.load().wait_timeout is None and "--wait-timeout" not in home.ssh_config.read_text()
    home.settings_file.write_text("wait_timeout = nan\n")
    with pytest.raises(SettingsError):
        settings.load()


# ----- option values that start with '-' (issue 18, item 3) ----------------------------------------------------------
def _proxy_args(config: Path, monkeypatch):
    """The block's ProxyCommand as condor-job-proxy's own parser reads it (its one-line error raised here)."""
    import shlex

    from proxycmd import cli

    def refuse(message, code, host=None):
        raise AssertionError(f"condor-job-proxy refuses its ProxyCommand: {message}")

    monkeypatch.setattr(cli, "_fail", refuse)
    line = next(line for line in config.read_text().splitlines() if "condor-job-proxy' " in line)
    words = shlex.split(line.strip()[len("ProxyCommand "):].replace("%%", "%").replace("'%h'", "1.0.job.condor"))
    program = next(i for i, word in enumerate(words) if word.endswith("condor-job-proxy"))  # or python -I -S it
    return cli.build_parser().parse_args(words[program + 1:])


@pytest.mark.parametrize("option", ["--schedd=-x", "--pool=-cm.example.org", "--route=cms.condor=-s@cm",
                                    "--route=cms.condor=s@-cm"])
def test_a_schedd_or_pool_starting_with_a_dash_is_refused_at_setup(home, option):
    result = run("setup", "--yes", option, code=1)
    assert "cannot start with '-'" in one_line_error(result)
    assert not home.ssh_config.exists() and not home.settings_file.exists()


def test_keygen_options_of_one_word_starting_with_a_dash_reach_the_proxy_as_a_value(home, monkeypatch):
    run("setup", "--yes", "--keygen-options=-q")
    assert _proxy_args(home.ssh_config, monkeypatch).keygen_options == "-q"
    run("setup", "--yes", "--keygen-options=-t ed25519")
    assert _proxy_args(home.ssh_config, monkeypatch).keygen_options == "-t ed25519"


# ----- settings that cannot both apply (issue 18, item 7) ----------------------------------------------------------
def test_via_after_sim_replaces_it_and_says_so(home, tmp_path):
    sim = private_tmp("sv-")
    try:
        run("setup", "--yes", "--sim", str(sim))
        result = run("setup", "--yes", "--via", "ap1")
        assert "--via replaces the saved --sim setting" in result.stderr and "--sim DIR again" in result.stderr
        saved = settings.load()
        assert saved.via == "ap1" and saved.sim_root is None
        block = home.ssh_config.read_text()
        assert "--via 'ap1'" in block and "--sim" not in block
        result = run("setup", "--yes", "--sim", str(sim))  # and back: the newer choice wins again
        saved = settings.load()
        assert saved.sim_root == str(sim) and saved.via is None and "--sim replaces the saved --via" in result.stderr
    finally:
        shutil.rmtree(sim, ignore_errors=True)


@pytest.mark.parametrize("args, why", [
    (["--sim", "/x", "--via", "ap1"], "--sim and --via contradict each other"),
    (["--no-wait", "--wait-timeout", "60"], "--wait-timeout and --no-wait contradict each other"),
    (["--route", "a.condor=s", "--no-routes"], "--route and --no-routes contradict each other"),
])
def test_contradictory_options_at_once_are_refused(home, args, why):
    result = run("setup", "--yes", *args, code=1)
    assert why in one_line_error(result)
    assert not home.ssh_config.exists() and not home.settings_file.exists()


def test_no_wait_after_a_wait_timeout_replaces_it(home):
    run("setup", "--yes", "--wait-timeout", "60")
    result = run("setup", "--yes", "--no-wait")
    assert "--no-wait replaces the saved --wait-timeout setting" in result.stderr
    saved = settings.load()
    assert saved.wait is False and saved.wait_timeout is None
    run("setup", "--yes", "--wait-timeout", "30")
    saved = settings.load()
    assert saved.wait is True and saved.wait_timeout == 30


def test_a_hand_edited_file_with_both_is_refused_with_the_fix(home):
    home.settings_file.parent.mkdir(parents=True, exist_ok=True)
    home.settings_file.write_text('sim_root = "/x"\nvia = "ap1"\n')
    result = run("setup", "--yes", code=1)
    line = one_line_error(result)
    assert "'sim_root' and 'via' cannot both apply" in line and "setup --via DEST" in line
    run("setup", "--yes", "--via", "ap1")
    assert settings.load().sim_root is None


def test_a_setting_the_saved_ones_leave_unused_is_kept_and_said(home):
    sim = private_tmp("su-")
    try:
        run("setup", "--yes", "--sim", str(sim))
        result = run("setup", "--yes", "--schedd", "ap1.example.org")
        assert "--schedd is saved but not used while --sim is on" in result.stderr
        assert settings.load().schedd == "ap1.example.org"
        result = run("setup", "--yes", "--condor")
        assert "is saved but not used" not in result.stderr
        assert "--schedd 'ap1.example.org'" in home.ssh_config.read_text()
    finally:
        shutil.rmtree(sim, ignore_errors=True)
    result = run("setup", "--yes", "--no-multiplex", "--control-persist", "5m")
    assert "--control-persist is saved but not used with --no-multiplex" in result.stderr


def test_doctor_never_asks_ssh_to_read_a_fifo(tmp_path, monkeypatch):
    """ssh -G -F FIFO waits for a writer until our timeout (20 s of silence): no regular file, no block."""
    from sshconfig import sshclient
    from sshconfig.block import resolved

    fifo = tmp_path / "config"
    os.mkfifo(fifo)

    def no_ssh(argv, *args, **kwargs):
        raise AssertionError(f"ssh was run on a FIFO: {argv}")

    monkeypatch.setattr(sshclient, "ssh_g", no_ssh)
    assert resolved.resolve_block(fifo, "job.condor") is None
