"""open-remote-ssh's own resolution and connection code, driven in node against our jobs (issue 26).

open-remote-ssh (https://github.com/jeanp413/open-remote-ssh, MIT licence; VSCodium's Remote-SSH, with
forks in Windsurf, Antigravity and Positron) is tested at commit OPEN_REMOTE_SSH_COMMIT.  None of its code
is in this repository: the tests find a checkout through $CJP_OPEN_REMOTE_SSH (else
../shared/clients/open-remote-ssh beside the repository), install tests/js/package.json's pinned
dependencies (ssh2, ssh-config, socks, simple-socks, glob, typescript, from the npm registry) into a cache
directory beside the test homes, transpile its TypeScript there (tests/js/build.js), and run
tests/js/drive.js, which opens editor windows with its RemoteSSHResolver: the ssh config named by
remote.SSH.configFile, its ProxyCommand splitter and spawn, ssh2 over the proxy's stdio, its server install
script in the job, its SOCKS tunnel.  Without a checkout, node 20.19+ or npm, each test skips with one line.

A window whose first resolve fails only on a race in open-remote-ssh's own server-setup.sh ("server log
file not found": it tests for the log file before the background shell has made it) is retried once, as
the editor's "Retry" would (tests/js/drive.js, `retriedFor` in its result); nothing else is retried.

The editor config is the one `condor-job-ssh setup --editor-config PATH` and `sync` write (argv-safe
ProxyCommand with --identity-fifo, literal paths, one IdentityFile per job host with its .pub present before
any connection, the user's config included at the end: sshconfig/editorconfig.py); the server the script starts in the job is
tests/js/fake_server.py, installed where the script looks for it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

import pytest

from conftest import REPO, safe_tmp_root, tool, wait_for
from proxycmd import identityfifo

pytestmark = pytest.mark.e2e

OPEN_REMOTE_SSH_COMMIT = "41e50958631e8bb127d4786b65ba8e35e3fb1245"
CHECKOUT_ENV = "CJP_OPEN_REMOTE_SSH"
JS = Path(__file__).resolve().parent / "js"
NODE_MIN = (20, 19)  # simple-socks is an ES module only: require() of one needs node 20.19 or newer
SERVER_COMMIT = "cafe0000000000000000000000000000000000d1"  # product.json's commit: names the server's directory
SERVER_APP = "codium-server"
HOST = "{}.job.condor"


# ----- open-remote-ssh, built once per checkout and dependency set --------------------------------------------
def find_checkout() -> Optional[Path]:
    named = os.environ.get(CHECKOUT_ENV)
    candidates = [Path(named)] if named else []
    candidates.append(REPO.parent / "shared" / "clients" / "open-remote-ssh")
    return next((c for c in candidates if (c / "src" / "authResolver.ts").is_file()), None)


def _node_version() -> Optional[tuple]:
    try:
        out = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.match(r"v(\d+)\.(\d+)", out.strip())
    return (int(found.group(1)), int(found.group(2))) if found else None


def _checkout_commit(checkout: Path) -> str:
    done = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "unknown (not a git checkout)"


def build_open_remote_ssh():
    """(checkout, transpiled dir) of open-remote-ssh ready to drive, or a one-line reason (str) why not."""
    checkout = find_checkout()
    if checkout is None:
        return (f"open-remote-ssh is not here: set {CHECKOUT_ENV} to a checkout of jeanp413/open-remote-ssh "
                f"at {OPEN_REMOTE_SSH_COMMIT} (MIT)")
    if not (shutil.which("node") and shutil.which("npm")):
        return f"no node/npm here: open-remote-ssh ({OPEN_REMOTE_SSH_COMMIT}) is not driven"
    version = _node_version()
    if version is None or version < NODE_MIN:
        return (f"node {version} is older than {NODE_MIN[0]}.{NODE_MIN[1]}, which open-remote-ssh's dependencies "
                f"need: open-remote-ssh ({OPEN_REMOTE_SSH_COMMIT}) is not driven")
    key = hashlib.sha256()
    for name in ("package.json", "build.js"):
        key.update((JS / name).read_bytes())
    key.update(_checkout_commit(checkout).encode() + str(checkout.resolve()).encode())
    for source in sorted((checkout / "src").rglob("*.ts")):
        key.update(str(source.stat().st_mtime_ns).encode())
    cache = safe_tmp_root() / "js-open-remote-ssh" / key.hexdigest()[:16]
    done_mark = cache / "built"
    if not done_mark.exists():
        import fcntl

        cache.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(cache.parent / "build.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not done_mark.exists():
                shutil.copy(JS / "package.json", cache / "package.json")
                # --ignore-scripts: no package's install script runs (ssh2's optional native build is not needed)
                npm = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix",
                                      str(cache)], cwd=cache, capture_output=True, text=True, timeout=900)
                if npm.returncode != 0:
                    return ("npm could not install tests/js/package.json: "
                            f"{(npm.stderr.strip().splitlines() or ['?'])[-1]}")
                build = subprocess.run(["node", str(JS / "build.js"), str(checkout), str(cache / "out")],
                                       capture_output=True, text=True, timeout=300)
                assert build.returncode == 0, build.stderr
                done_mark.write_text(_checkout_commit(checkout) + "\n")
    return checkout, cache / "out"


@pytest.fixture(scope="session")
def ors():
    """(checkout, transpiled dir): open-remote-ssh ready to drive, or a skip saying what is missing."""
    built = build_open_remote_ssh()
    if isinstance(built, str):
        pytest.skip(built)
    return built


# ----- the editor side: its config, its settings, the server it finds in the job ------------------------------
def write_editor_config(world, hosts: List[str]) -> Path:
    """The editor config as a user gets it: `condor-job-ssh setup --editor-config PATH`, then `sync` (which
    lists the running jobs in it and writes their .pub files); every host of *hosts* must be in it."""
    config = world.base / "editor_config"
    cjs = tool("condor-job-ssh")
    world.run([cjs, "setup", "--ssh-config", str(world.ssh_config), "--editor-config", str(config), "--yes"])
    if world.backend == "condor":  # the fake condor_ssh_to_job serves the simulated pool, but sync asks HTCondor's
        # bindings: list the jobs with --sim, then back to --condor (setup keeps the listed hosts, in both files)
        world.run([cjs, "setup", "--ssh-config", str(world.ssh_config), "--sim", str(world.sim_root), "--yes"])
        world.run([cjs, "sync", "--ssh-config", str(world.ssh_config)])
        world.run([cjs, "setup", "--ssh-config", str(world.ssh_config), "--condor", "--yes"])
    else:
        world.run([cjs, "sync", "--ssh-config", str(world.ssh_config)])
    assert ("--sim" in config.read_text()) == (world.backend == "sim"), config.read_text()
    text = config.read_text()
    for host in hosts:
        assert f"\nHost {host}\n" in text, text
        assert identityfifo.pub_path(world.rundir, host).is_file()
    assert text.endswith(f"\nInclude {world.ssh_config}\n"), text
    return config


def install_fake_server(world, host: str) -> Path:
    """Where server-setup.sh finds `bin/<commit>/bin/<app>` for *host*, so it starts that instead of
    downloading (remote.SSH.serverInstallPath): tests/js/fake_server.py, run by the job's python3."""
    root = world.base / "editor-servers" / host
    script = root / "bin" / SERVER_COMMIT / "bin" / SERVER_APP
    script.parent.mkdir(parents=True, exist_ok=True)
    # "$0" keeps the script's path in the server's command line: that is how the script finds a running one
    script.write_text(f'#!/bin/sh\nexec python3 {shlex.quote(str(JS / "fake_server.py"))} "$0" "$@"\n')
    script.chmod(0o755)
    return root


def drive(ors, world, groups: List[List[dict]], timeout: float = 240, config: Optional[Path] = None) -> dict:
    """Run tests/js/drive.js: the windows of each group open at once, the groups one after another.
    *config*: the editor config already written (else setup and sync write it now)."""
    checkout, out = ors
    hosts = sorted({window["host"] for group in groups for window in group})
    config = config or write_editor_config(world, hosts)
    app = world.base / "editor-app"
    app.mkdir(exist_ok=True)
    (app / "product.json").write_text(json.dumps({
        "commit": SERVER_COMMIT, "quality": "stable", "serverApplicationName": SERVER_APP,
        "serverDataFolderName": ".cjp-editor-server"}))
    settings = {"remote.SSH.configFile": str(config), "remote.SSH.connectTimeout": 60,
                "remote.SSH.serverInstallPath": {host: str(install_fake_server(world, host)) for host in hosts}}
    spec = world.base / f"drive-{time.monotonic_ns()}.json"
    spec.write_text(json.dumps({"out": str(out), "extensionPath": str(checkout), "appRoot": str(app),
                                "settings": settings, "groups": groups, "timeoutMs": int(timeout * 1000 / 2)}))
    done = world.run(["node", str(JS / "drive.js"), str(spec)], check=False, timeout=timeout, cwd=world.base)
    assert done.returncode == 0, f"drive.js exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def submit(world) -> str:
    """A job for a window.  XDG_RUNTIME_DIR is set in it because server-setup.sh takes its install lock in
    ${XDG_RUNTIME_DIR:-/tmp}/server_install.lock: where /tmp is shared by every user of the execute node
    (here, and on nodes without a per-job /tmp), the first user's lock file makes every other user's
    install fail ("Permission denied", exit status 1) -- open-remote-ssh's limit, not ours."""
    runtime = world.base / f"job-runtime-{len(list(world.base.glob('job-runtime-*')))}"
    runtime.mkdir(mode=0o700)
    return world.submit("sleep", "600", env={"XDG_RUNTIME_DIR": str(runtime)})


def window(host: str) -> dict:
    return {"host": host, "command": "echo $PWD", "fetch": "/from-the-editor"}


def assert_worked(result: dict, world, job: str) -> None:
    """The window connected, its command ran in the job, and its tunnel reached a server in the job."""
    shown = json.dumps(result, indent=1)[-8000:]
    assert "error" not in result, shown
    sandbox = str(world.sandbox(job))
    assert result["command"]["stdout"].strip() == sandbox, shown
    assert result["fetched"]["status"] == 200, shown
    served = json.loads(result["fetched"]["body"])
    assert served["cwd"] == sandbox and served["path"] == "/from-the-editor", shown
    key = "Trying publickey authentication: " + str(identityfifo.key_path(world.rundir, HOST.format(job)))
    assert any(key in line for line in result["log"]), shown


def assert_nothing_left(world, report: dict) -> None:
    """Every ProxyCommand ended with its window; no FIFO stays; nothing went through the agent."""
    assert report["after"]["proxiesLeft"] == []
    directory = identityfifo.key_dir(world.rundir)
    assert wait_for(lambda: not [p for p in directory.iterdir() if stat.S_ISFIFO(p.lstat().st_mode)], timeout=10), \
        sorted(p.name for p in directory.iterdir())
    status = world.agent_status()
    assert status is None or status["sessions"] == 0, status


def stop_servers(world) -> None:
    """The fake servers end by themselves after a while; end them now (they run in the jobs)."""
    for pidfile in (world.base / "editor-servers").glob(f"*/.{SERVER_COMMIT}.pid"):
        try:
            os.kill(int(pidfile.read_text().strip()), 15)
        except (ValueError, OSError):
            pass


@pytest.fixture
def editor(world):
    yield world
    stop_servers(world)


# ----- the tests ----------------------------------------------------------------------------------------------
@pytest.mark.also_real
def test_a_window_runs_a_command_and_reaches_a_server_in_the_job_through_its_tunnel(ors, editor):
    job = submit(editor)
    report = drive(ors, editor, [[window(HOST.format(job))]])
    (result,) = report["windows"]
    assert_worked(result, editor, job)
    assert report["after"]["shown"] == []  # no prompt for a password or passphrase, no error
    assert_nothing_left(editor, report)


@pytest.mark.also_real
def test_two_windows_at_once_to_two_jobs(ors, editor):
    jobs = [submit(editor) for _ in range(2)]
    report = drive(ors, editor, [[window(HOST.format(job)) for job in jobs]])
    for result, job in zip(report["windows"], jobs):
        assert_worked(result, editor, job)
    assert_nothing_left(editor, report)


@pytest.mark.also_real
@pytest.mark.parametrize("when", ["after", "at-once"])
def test_a_second_window_to_a_job_that_has_one(ors, editor, when):
    """The second waits for the first one's key hand-over (one path per host, a lock), then both work
    and both reach the same server in the job."""
    job = submit(editor)
    host = HOST.format(job)
    groups = [[window(host)], [window(host)]] if when == "after" else [[window(host), window(host)]]
    report = drive(ors, editor, groups)
    first, second = report["windows"]
    assert_worked(first, editor, job)
    assert_worked(second, editor, job)
    assert json.loads(first["fetched"]["body"])["pid"] == json.loads(second["fetched"]["body"])["pid"], report
    assert_nothing_left(editor, report)


@pytest.mark.also_real
def test_a_held_jobs_sentence_reaches_the_editors_error(ors, editor):
    """The job was running when sync listed it, and was held since."""
    job = editor.submit("sleep", "600")
    config = write_editor_config(editor, [HOST.format(job)])
    editor.hold(job, "exceeded its disk quota")
    report = drive(ors, editor, [[window(HOST.format(job))]], config=config)
    (result,) = report["windows"]
    message = result["error"]["message"]
    assert message.startswith(f"condor-job-proxy: job {job} is held: exceeded its disk quota"), message
    assert any(message in line for line in result["log"])  # in the editor's log too, as its error
    assert {"kind": "error", "message": f'Could not establish connection to "{HOST.format(job)}"',
            "modal": True} in report["after"]["shown"]
    assert_nothing_left(editor, report)
