"""`condor-job-ssh demo`: the whole tool on a simulated pool, in a throwaway directory.

It starts a simulated pool with one job, writes a throwaway ssh config with `setup`, then runs the real
ssh, scp, rsync and sftp through it and shows what each did and how long it took.  Nothing of the user's
(~/.ssh/config, settings) is touched; `--keep` leaves the pool up to try by hand.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import List

import typer

from proxycmd import paths


def _bin(name: str) -> str:
    return paths.console_script(name) or name


class _Demo:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "pool"
        self.config = base / "ssh_config"
        self.env = dict(os.environ, XDG_CONFIG_HOME=str(base / "settings"))
        self.failed = False

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


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def demo(keep: bool = typer.Option(False, "--keep", help="Leave the pool and config up and print the ssh "
                                   "command to try."),
         size_mib: int = typer.Option(16, "--size", help="Size of the file copied with scp, in MiB.")):
    """Show ssh, scp, rsync and sftp reaching a job of a simulated pool, with timings.

    Everything lives in a temporary directory: your ~/.ssh/config and settings are not touched.
    """
    for tool in ("ssh", "scp", "sftp", "rsync"):
        if not shutil.which(tool):
            typer.echo(f"condor-job-ssh: demo needs {tool}; install openssh-client and rsync", err=True)
            raise typer.Exit(1)
    base = Path(tempfile.mkdtemp(prefix="cjp-demo-", dir="/tmp"))
    d = _Demo(base)
    host = "1.0.job.condor"
    ssh = ["ssh", "-F", str(d.config)]
    try:
        typer.echo(f"condor-job-ssh demo in {base}")
        d.run("start a simulated pool", [_bin("condor-job-ssh"), "sim", "start", "--root", str(d.root)])
        job = d.run("submit a job: sleep 3600", [_bin("condor-job-ssh"), "sim", "submit", "--root", str(d.root),
                                                  "--batch-name", "demo", "--", "sleep", "3600"]).stdout.strip()
        host = f"{job}.job.condor"
        d.run("write a throwaway ssh config (condor-job-ssh setup)",
              [_bin("condor-job-ssh"), "setup", "--ssh-config", str(d.config), "--sim", str(d.root), "--yes"])
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
            typer.echo("\nThe pool is still up. Try:")
            typer.echo(f"  ssh -F {d.config} {host}")
            typer.echo(f"Stop it with: condor-job-ssh sim stop --root {d.root} && rm -rf {base}")
            return
    finally:
        if not keep:
            subprocess.run([*ssh, "-O", "exit", host], env=d.env, capture_output=True, stdin=subprocess.DEVNULL)
            subprocess.run([_bin("condor-job-ssh"), "sim", "stop", "--root", str(d.root)], env=d.env,
                           capture_output=True, stdin=subprocess.DEVNULL)
            shutil.rmtree(base, ignore_errors=True)
    typer.echo("all done; cleaned up" if not d.failed else "some steps failed (see above)")
    if d.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
