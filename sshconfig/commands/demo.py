"""`condor-job-ssh demo`: the whole tool on a simulated pool, in a throwaway directory.

It starts a simulated pool with one job, writes a throwaway ssh config with `setup`, then runs the real
ssh, scp, rsync and sftp through it and shows what each did and how long it took.

The demo is isolated from the user's own use of the tool: its settings, its ssh config and its runtime
directory (agent socket, known_hosts, ControlMaster sockets) all live in its private temporary directory.
A shared runtime directory would let the demo's `ssh 1.0.job.condor` join the user's live ControlMaster
connection to their real job 1.0 (the ControlPath hash is the same) and run the demo's copies there.
`--keep` leaves the pool up to try by hand and prints commands that work as printed; `--stop DIR` ends it.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import List, Optional
import secrets

import typer

from proxycmd import ourcommands, paths, safefs
from proxycmd.agent import client
from proxycmd.sim.client import SimPool
from proxycmd.sim.ptycheck import pty_problem

from .. import ui

PREFIX = "cjp-demo-"
MAX_SIZE_MIB = 4096
HOST = "1.0.job.condor"


def _bin(name: str) -> str:
    """Our console script as a command that works as printed: its absolute path when we know it."""
    return ourcommands.console_script(name) or name


class _Demo:
    """The demo's private world: every path below *base*, every tool run with settings under it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "pool"
        self.config = base / "ssh_config"
        self.rundir = self._runtime_dir(base)
        # settings (config.toml) and state in the demo's runtime directory (both directories must pass the
        # safe-chain rule, which /tmp fails), never the user's: XDG_* on Linux, HOME where platformdirs
        # ignores XDG (macOS).  ssh takes ~/.ssh from the password database, not from HOME.
        (base / "home").mkdir(mode=0o700, exist_ok=True)
        self.env = dict(os.environ, HOME=str(base / "home"), XDG_CONFIG_HOME=str(self.rundir / "settings"),
                        XDG_STATE_HOME=str(self.rundir / "state"))
        self.failed = False

    @staticmethod
    def _runtime_dir(base: Path) -> Path:
        """The demo's own runtime directory (agent, known_hosts, ControlMaster sockets): a short one inside
        the user's private runtime directory, since ssh's sockets need a path no other user can create
        (never under /tmp) and a short one (sun_path); its name is recorded in *base* for `--stop`."""
        record = base / "runtime-dir"
        made = base / "made-dirs"  # ~/.ssh/cjp (and ~/.ssh) when the demo made them: removed again if empty
        default = paths.runtime_dir(create=False)
        missing = [str(p) for p in (default.parent, default) if not p.exists()]
        parent, _warning = paths.pick_runtime_dir()
        if missing and not made.exists():
            made.write_text("".join(f"{p}\n" for p in missing))
        try:
            name = record.read_text().strip()
        except FileNotFoundError:
            name = f"demo-{secrets.token_hex(3)}"
            record.write_text(name + "\n")
        if not (name.startswith("demo-") and name[5:].isalnum()):
            raise paths.PathError(f"{record} does not name a demo runtime directory")
        return parent / name

    def run(self, title: str, argv: List[str], **kw) -> subprocess.CompletedProcess:
        start = time.monotonic()
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)
        took = time.monotonic() - start
        mark = "ok " if done.returncode == 0 else "FAILED"
        typer.echo(f"  {mark} {took:6.2f} s  {title}")
        if done.returncode != 0:
            self.failed = True
            for line in (done.stderr or done.stdout).strip().splitlines()[-5:]:
                typer.echo(f"           {line}")
        return done

    def setup_argv(self) -> List[str]:
        return [_bin("condor-job-ssh"), "setup", "--ssh-config", str(self.config), "--sim", str(self.root),
                "--runtime-dir", str(self.rundir), "--yes"]

    def clean_up(self) -> None:
        """End the shared connection, the pool, the agent; remove the directory.  A Ctrl-C meanwhile (a
        second one, as a rule) is ignored: stopping half-way would leave the pool and the agent running."""
        saved = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self._clean_up()
        finally:
            signal.signal(signal.SIGINT, saved)

    def _clean_up(self) -> None:
        quiet = dict(env=self.env, capture_output=True, stdin=subprocess.DEVNULL)
        if self.config.exists():
            subprocess.run(["ssh", "-F", str(self.config), "-O", "exit", HOST], **quiet)

        try:
            SimPool(self.root).stop()
        except Exception:  # a pool already gone is what we want
            pass
        try:
            client.stop(self.rundir)
        except Exception:
            pass
        shutil.rmtree(self.rundir, ignore_errors=True)
        try:
            made = (self.base / "made-dirs").read_text().split("\n")
        except OSError:
            made = []
        for directory in reversed([line for line in made if line]):
            try:
                os.rmdir(directory)  # only when empty: the user may have used it meanwhile
            except OSError:
                pass
        shutil.rmtree(self.base, ignore_errors=True)


def _say_kept(d: _Demo, host: str, base: Path) -> None:
    """What --keep prints at the end: the command to try, and the one that ends the demo."""
    problem = pty_problem()
    typer.echo("\nThe pool is still up. Try:")
    if problem:  # a shell would only say the connection closed: offer a command
        typer.echo(f"  ssh -F {shlex.quote(str(d.config))} {host} 'pwd; ls -la'")
        typer.echo(f"(not `ssh {host}` alone: {problem})")
    else:
        typer.echo(f"  ssh -F {shlex.quote(str(d.config))} {host}")
    typer.echo(f"Stop it with: {ourcommands.command_word('condor-job-ssh')} demo --stop {shlex.quote(str(base))}")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _stop(base: Path) -> None:
    """`demo --stop DIR`: end what `demo --keep` left in DIR, refusing any other directory."""
    base = Path(os.path.abspath(os.path.expanduser(str(base))))
    if base.name.startswith(PREFIX) and not os.path.lexists(base):
        typer.echo(f"no demo in {base}: it was stopped and removed already")
        return
    if not base.name.startswith(PREFIX) or not (base / "pool").is_dir():
        raise ui.fail(f"{base} is not a directory `condor-job-ssh demo --keep` made", 2)
    try:
        safefs.check_own_dir(base)
    except paths.PathError as exc:
        raise ui.fail(str(exc), 2)
    try:
        demo_world = _Demo(base)
    except (paths.PathError, OSError) as exc:
        raise ui.fail(str(exc), 2)
    demo_world.clean_up()
    typer.echo(f"demo in {base} stopped and removed")


def demo(keep: bool = typer.Option(False, "--keep", help="Leave the pool and config up and print the ssh "
                                   "command to try."),
         size_mib: int = typer.Option(16, "--size", metavar="MIB", show_default=False,
                                      help=f"Size of the file copied with scp, in MiB (1 to {MAX_SIZE_MIB}; "
                                           "default 16)."),
         stop: Optional[Path] = typer.Option(None, "--stop", metavar="DIR",
                                             help="End a demo that --keep left up in DIR, and remove DIR.")):
    """Show ssh, scp, rsync and sftp reaching a job of a simulated pool, with timings.

    Everything lives in a private temporary directory: the demo's own settings, ssh config, pool,
    agent and shared connections.  Your ~/.ssh/config, your settings and your connections to real
    jobs are not touched.
    """
    if stop is not None:
        _stop(stop)
        return
    if not 1 <= size_mib <= MAX_SIZE_MIB:
        raise ui.fail(f"--size wants a whole number of MiB from 1 to {MAX_SIZE_MIB}, not {size_mib}", 2)
    for tool in ("ssh", "scp", "sftp", "rsync"):
        if not shutil.which(tool):
            raise ui.fail(f"demo needs {tool}; install openssh-client and rsync")
    if not shutil.which("sshd") and not os.access("/usr/sbin/sshd", os.X_OK):
        raise ui.fail("demo needs sshd for its simulated pool; install openssh-server "
                    "(its service need not run: the pool starts `sshd -i` itself)")
    base = Path(tempfile.mkdtemp(prefix=PREFIX, dir="/tmp"))
    try:
        d = _Demo(base)
    except (paths.PathError, OSError) as exc:
        shutil.rmtree(base, ignore_errors=True)
        raise ui.fail(f"cannot make the demo's private runtime directory: {exc}")
    host = HOST
    ssh = ["ssh", "-F", str(d.config)]
    kept = interrupted = False
    try:
        typer.echo(f"condor-job-ssh demo in {base}")
        d.run("start a simulated pool", [_bin("condor-job-ssh"), "sim", "start", "--root", str(d.root)])
        job = d.run("submit a job: sleep 3600", [_bin("condor-job-ssh"), "sim", "submit", "--root", str(d.root),
                                                  "--batch-name", "demo", "--", "sleep", "3600"]).stdout.strip()
        host = f"{job}.job.condor"
        d.run("write a throwaway ssh config (condor-job-ssh setup)", d.setup_argv())
        done = d.run(f"ssh {host} 'echo $PWD; echo $_CONDOR_JOB_PIDS'", [*ssh, host, "echo $PWD; echo $_CONDOR_JOB_PIDS"])
        for line in done.stdout.splitlines():
            typer.echo(f"           | {line}")
        d.run(f"ssh {host} again (reuses the ControlMaster connection)", [*ssh, host, "true"])
        blob = base / "blob.bin"
        blob.write_bytes(os.urandom(size_mib << 20))
        d.run(f"scp {size_mib} MiB to the job", ["scp", "-F", str(d.config), str(blob), f"{host}:blob.bin"])
        back = base / "back.bin"
        d.run(f"scp {size_mib} MiB back", ["scp", "-F", str(d.config), f"{host}:blob.bin", str(back)])
        if back.exists() and _sha(back) != _sha(blob):
            typer.echo("  FAILED checksums differ")
            d.failed = True
        tree = base / "tree"
        for i in range(10):
            (tree / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
            (tree / f"d{i % 3}" / f"f{i}.txt").write_text(f"file {i}\n")
        d.run("rsync -a a tree to the job", ["rsync", "-a", "-e", " ".join(ssh), f"{tree}/", f"{host}:tree/"])
        batch = base / "batch"
        batch.write_text("ls tree\nget tree/d0/f0.txt\n")
        d.run("sftp -b: ls and get", ["sftp", "-F", str(d.config), "-b", str(batch), host], cwd=base)
        if keep:
            _say_kept(d, host, base)
            kept = True
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if not kept:  # also when --keep was interrupted half-way
            d.clean_up()
    if interrupted:
        raise ui.fail("interrupted; the demo's pool, agent and files are removed", 130)
    if not keep:
        typer.echo("all done; cleaned up" if not d.failed else "some steps failed (see above)")
    if d.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
