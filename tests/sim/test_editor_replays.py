"""Zed's and Positron's native ssh command lines, replayed exactly against a job (issue 26, item 6).

Both editors run the system OpenSSH with the user's config (here `-F` the block setup wrote, as a user's
Zed `args` or Positron's config file setting would pass it), so the OpenSSH block serves them as it is; what
they add is their own command lines, copied here from their sources (docs/editors.md names the commits):

* Zed (crates/remote/src/transport/subprocess_ssh.rs): a ControlMaster of its own on a socket in a private
  temporary directory, then every command through it as ``cd; <command>`` with -T, its server installed
  under ``.zed_server`` (downloaded by the job with curl, or uploaded with sftp), its terminals and its port
  forwards;
* Positron's native path (extensions/open-remote-ssh/src/ssh/nativeSSHConnection.ts): no master, one ssh
  per command (``-o ConnectTimeout=N -F CONFIG -T HOST CMD``) and per tunnel (``-N -T -o
  ExitOnForwardFailure=yes -D 127.0.0.1:PORT``), at one commit with ``--`` before the host.

The job's environment sets HOME to a directory of the test's: the simulated pool's sessions take it (so
``cd`` never touches the home of root running the tests); a real HTCondor 25.14 session does not (its HOME
is the account's, /home/cjp-NAME in the real tier), so the tests read the session's HOME with ``cd; pwd``
and remove what they put there.  Zed's upload path is shown failing where its `cd` (to $HOME) and sftp's start directory (the job's
working directory, where HTCondor's forced command starts every session) differ: docs/editors.md.
"""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import wait_for
from ports import free_port
from sshstop import stop_ssh
from test_e2e import _socks5_get

pytestmark = pytest.mark.e2e

HOST = "{}.job.condor"
ZED_SERVER = "zed-remote-server-stable-0.999.0"  # <channel>-<version>, as Zed names it


def fetched(port: int, path: str = "/hello.txt", timeout: float = 60) -> bool:
    """Whether http://127.0.0.1:PORT/PATH (a local forward to the job's server) answers its text in time."""
    import urllib.request

    def fetch():
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).read()
        except OSError:
            return None
    return wait_for(lambda: fetch() == b"job-says-hi\n", timeout=timeout)


def job_with_home(world, *command: str):
    """(job id, the HOME its sessions get): a job whose environment names a HOME of the test's."""
    home = world.base / f"job-home-{len(list(world.base.glob('job-home-*')))}"
    home.mkdir(mode=0o700)
    return world.submit(*command, env={"HOME": str(home)}), home


def session_home(zed, made: list) -> Path:
    """The session's $HOME (where Zed's `cd` goes); what the test makes in .zed_server is removed after."""
    home = Path(zed.run("cd; pwd", after=["-T"]).stdout.strip())
    made.append(home / ".zed_server")
    return home


def clean_zed_server(directory: Path) -> None:
    for name in (ZED_SERVER, f"{ZED_SERVER}-download-{os.getpid()}.gz", f"{ZED_SERVER}-download-{os.getpid()}"):
        try:
            (directory / name).unlink()
        except OSError:
            pass
    try:
        directory.rmdir()  # only when nothing else is in it
    except OSError:
        pass


def http_job(world):
    port = free_port()
    job, home = job_with_home(world, "sh", "-c", f"echo job-says-hi > hello.txt; exec {sys.executable} -m "
                              f"http.server --bind 127.0.0.1 {port}")
    assert wait_for(lambda: (world.sandbox(job) / "hello.txt").exists(), timeout=60)
    return job, home, port


# ----- Zed ----------------------------------------------------------------------------------------------------
class Zed:
    """One Zed connection: ARGS = the connection's `args` setting (here -F the block's file)."""

    def __init__(self, world, host: str):
        self.world, self.host = world, host
        self.args = ["-F", str(world.ssh_config)]
        self.dir = Path(tempfile.mkdtemp(prefix="zed-ssh-session", dir=world.base))
        self.sock = self.dir / "ssh.sock"
        self.master = None

    def start_master(self) -> float:
        askpass = self.dir / "askpass.sh"
        askpass.write_text("#!/bin/sh\necho 'no password here' >&2\nexit 1\n")
        askpass.chmod(0o700)
        env = dict(self.world.env, SSH_ASKPASS_REQUIRE="force", SSH_ASKPASS=str(askpass))
        started = time.monotonic()
        self.master = subprocess.Popen(
            ["ssh", *self.args, "-N", "-o", "ControlPersist=no", "-o", "ControlMaster=yes", "-o",
             f"ControlPath={self.sock}", self.host],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert wait_for(lambda: self.sock.exists() or self.master.poll() is not None, timeout=90, interval=0.02)
        assert self.master.poll() is None, self.master.communicate()[1]
        return time.monotonic() - started

    def run(self, command: str, before=(), after=(), check: bool = True, **kw) -> subprocess.CompletedProcess:
        """`ssh ARGS -o ControlMaster=no -o ControlPath=SOCK [before] HOST [after] COMMAND`, as Zed orders them
        (its probes put -T after the host, its terminals -q -t before it)."""
        return self.world.run(["ssh", *self.args, "-o", "ControlMaster=no", "-o", f"ControlPath={self.sock}", *before,
                               self.host, *after, command], check=check, **kw)

    def sftp(self, batch: str) -> subprocess.CompletedProcess:
        return self.world.run(["sftp", *self.args, "-o", "ControlMaster=no", "-o", f"ControlPath={self.sock}",
                               "-b", "-", self.host], check=False, input=batch, stdin=None)

    def stop(self) -> None:
        if self.master is not None and self.master.poll() is None:
            stop_ssh(self.master)


@pytest.fixture
def zed_connect(world):
    """connect(host): a Zed session to *host* in the test's world, stopped and cleaned after the test."""
    made = []

    def connect(host: str) -> Zed:
        made.append(Zed(world, host))
        return made[-1]

    world.zed_made = []
    yield connect
    for zed in made:
        zed.stop()
    for directory in world.zed_made:
        clean_zed_server(directory)


def fake_zed_server(where: Path) -> Path:
    """A .gz of a 'server' that answers `version` (what Zed downloads or uploads)."""
    gz = where / f"{ZED_SERVER}.gz"
    gz.write_bytes(gzip.compress(b"#!/bin/sh\ntest \"$1\" = version && echo 0.999.0 && exit 0\n"
                                 b"echo \"serving $*\"\n"))
    return gz


@pytest.mark.also_real
def test_zed_master_commands_install_by_download_terminal_and_forward(world, zed_connect):
    connect = zed_connect
    job, _, port = http_job(world)
    zed = connect(HOST.format(job))
    zed.start_master()
    home = session_home(zed, world.zed_made)
    probe = zed.run("cmd.exe /c ver", after=["-T"], check=False)  # Zed's Windows probe: must fail, not hang
    assert probe.returncode != 0
    assert zed.run("cd; sh -c 'echo $SHELL'", after=["-T"]).stdout.strip().startswith("/")
    assert zed.run("cd; uname -sm", after=["-T"]).stdout.split()[0] == "Linux"
    assert zed.run(f"cd; .zed_server/{ZED_SERVER} version", check=False).returncode != 0  # none yet
    zed.run("cd; mkdir -p .zed_server")
    gz = fake_zed_server(world.base)
    download = f".zed_server/{ZED_SERVER}-download-{os.getpid()}.gz"
    # the job downloads it (curl -f -L ... -o); a file:// URL stands for Zed's server URL
    zed.run(f"cd; curl -f -L --connect-timeout 10 file://{gz} -o {download}")
    unpacked = download[:-3]
    zed.run(f"cd; sh -c 'gunzip -f {download} && chmod 755 {unpacked} && mv {unpacked} .zed_server/{ZED_SERVER}'")
    assert zed.run(f"cd; .zed_server/{ZED_SERVER} version").stdout.strip() == "0.999.0"
    assert (home / ".zed_server" / ZED_SERVER).is_file()  # $HOME: where Zed's `cd` goes
    served = zed.run(f"cd; env RUST_LOG=info .zed_server/{ZED_SERVER} proxy --identifier 7", after=["-T"])
    assert served.stdout.strip() == "serving proxy --identifier 7"
    term = zed.run(f"cd \"{world.sandbox(job)}\" && exec env ZED_TERM=true sh -c 'echo $ZED_TERM; pwd'",
                   before=["-q", "-T"])
    assert term.stdout.split() == ["true", str(world.sandbox(job))]
    local = free_port()
    fwd = subprocess.Popen(["ssh", *zed.args, "-o", "ControlMaster=no", "-o", f"ControlPath={zed.sock}", "-N", "-L",
                            f"{local}:127.0.0.1:{port}", zed.host], env=world.env, stdin=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
    try:
        assert fetched(local, timeout=30)
    finally:
        stop_ssh(fwd)


@pytest.mark.also_real
def test_zed_upload_lands_in_the_working_directory_not_home(world, zed_connect):
    """Where the job cannot download, Zed uploads with sftp to `.zed_server/...`, relative: sftp starts where
    HTCondor's forced command starts every session (the job's working directory), while Zed's `cd;` commands
    made .zed_server in $HOME.  So the put fails -- the limit docs/editors.md describes; nothing on the
    proxy's side changes either directory (the session's HOME is the job's or the account's)."""
    connect = zed_connect
    job, _ = job_with_home(world, "sleep", "600")
    zed = connect(HOST.format(job))
    zed.start_master()
    home = session_home(zed, world.zed_made)
    assert zed.run("pwd", after=["-T"]).stdout.strip() == str(world.sandbox(job)) != str(home)
    zed.run("cd; mkdir -p .zed_server")
    gz = fake_zed_server(world.base)
    target = f".zed_server/{ZED_SERVER}-download-{os.getpid()}.gz"
    done = zed.sftp(f"pwd\nput {gz} {target}\n")
    assert f"Remote working directory: {world.sandbox(job)}" in done.stdout
    assert done.returncode != 0 and not (home / target).exists()
    # scp (Zed's other upload) resolves a relative path in the same directory
    scp = world.run(["scp", *zed.args, "-o", "ControlMaster=no", "-o", f"ControlPath={zed.sock}", str(gz),
                     f"{zed.host}:{target}"], check=False)
    assert scp.returncode != 0 and not (home / target).exists()


# ----- Positron, native ssh -----------------------------------------------------------------------------------
@pytest.mark.also_real
@pytest.mark.parametrize("dashdash", [False, True], ids=["cbbd449", "53ca15b"])
def test_positron_native_command_and_tunnel(world, dashdash):
    job, _, port = http_job(world)
    host = ["--", HOST.format(job)] if dashdash else [HOST.format(job)]
    base = ["ssh", "-o", "ConnectTimeout=15", "-F", str(world.ssh_config)]
    started = time.monotonic()
    done = world.run([*base, "-T", *host, "echo $PWD"])
    assert done.stdout.strip() == str(world.sandbox(job))
    socks = free_port()
    tunnel = subprocess.Popen([*base, "-N", "-T", "-o", "ExitOnForwardFailure=yes", "-D", f"127.0.0.1:{socks}", *host],
                              env=world.env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def accepts():
            try:
                socket.create_connection(("127.0.0.1", socks), timeout=1).close()
                return True
            except OSError:
                return tunnel.poll() is not None
        assert wait_for(accepts, timeout=60, interval=0.05) and tunnel.poll() is None
        assert _socks5_get(socks, port, "/hello.txt").endswith(b"\r\n\r\njob-says-hi\n")
    finally:
        stop_ssh(tunnel)
    local = free_port()
    tunnel = subprocess.Popen([*base, "-N", "-T", "-o", "ExitOnForwardFailure=yes", "-L",
                               f"127.0.0.1:{local}:127.0.0.1:{port}", *host],
                              env=world.env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert fetched(local, timeout=60), tunnel.poll()
    finally:
        stop_ssh(tunnel)
    assert time.monotonic() - started < 60
