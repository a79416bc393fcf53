"""`condor-job-ssh sim ...`: run and steer the simulated pool."""

from __future__ import annotations

import datetime
import shlex
from pathlib import Path
from typing import List, Optional

import typer

from proxycmd import paths
from proxycmd.errors import ProxyError, shown
from proxycmd.hostname import HostnameError, parse_job_id
from proxycmd.sim.client import SimPool

from . import ui
from .ui import PlainCommand

sim_app = typer.Typer(
    name="sim",
    help="Run a simulated pool: real jobs and real sshd sessions on this machine, no HTCondor needed.",
    short_help="Run a simulated pool (no HTCondor needed).",
    no_args_is_help=True,
)

ROOT_HELP = "Directory of the simulated pool (default: the one `setup --sim` saved, else under your state directory)."
JOB_HELP = "The job's id: CLUSTER or CLUSTER.PROC, e.g. 1.0."
SCHEDD_HELP = "A named schedd the pool serves (sim start --schedd NAME); default: its default schedd."


def default_root() -> "tuple[Path, bool]":
    """The pool's root when --root is not given: the one `setup --sim DIR` saved (so every sim command and
    ssh see the same pool), else the default under the state directory; and whether it is that default."""
    from .block import settings as settings_mod

    try:
        saved = settings_mod.load(warn=lambda message: None).sim_root
    except settings_mod.SettingsError as exc:
        raise ui.fail(f"{exc} (or give --root DIR)")
    return (Path(saved), False) if saved else (paths.default_sim_root(), True)


def _pool(root: Optional[Path]) -> SimPool:
    return SimPool(root if root is not None else default_root()[0])


def _check_schedd(name: str) -> None:
    """A schedd name the host name grammar can carry (1.0.NAME.job.condor): DNS labels, the first not all digits."""
    from proxycmd.hostname import parse

    try:
        ok = parse(f"1.0.{name}.job.condor").schedd == name.lower() and name == name.lower()
    except HostnameError:
        ok = False
    if not ok:
        raise ProxyError(f"--schedd {name!r} is not a schedd name a host name can hold: use lower-case DNS labels, "
                         "the first not all digits (e.g. ap2 or ap2.example.org)")


def _job(job_id: str):
    try:
        return parse_job_id(job_id)
    except HostnameError as exc:
        raise ui.fail(str(exc), 2)


@sim_app.command()
def start(root: Optional[Path] = typer.Option(None, "--root", metavar="DIR", help=ROOT_HELP),
          keygen_options: str = typer.Option("", metavar="OPTS", help="Extra ssh-keygen options for every session key, e.g. '-t ed25519'."),
          idle_delay: float = typer.Option(0.0, "--idle-delay", metavar="SECONDS", show_default=False,
                                           help="Keep each new job idle this long before it runs (as matchmaking "
                                                "does; default: none)."),
          schedd: List[str] = typer.Option([], "--schedd", metavar="NAME",
                                           help="Serve a named schedd too, with its own queue (repeatable).")):
    """Start the pool's daemon (does nothing when it already runs).

    With --schedd NAME the pool also serves schedds by those names, each with its own queue and job ids
    (which repeat across schedds, as on a real pool): `ssh 1.0.NAME.job.condor` reaches job 1.0 there.
    """
    where, is_default = (root, False) if root is not None else default_root()
    pool = SimPool(where)
    try:
        if not (0 <= idle_delay < float("inf")):
            raise ProxyError(f"--idle-delay {idle_delay:g} is not a number of seconds, 0 or more")
        for name in schedd:
            _check_schedd(name)
        started = pool.start(keygen_options=keygen_options, create_parents=is_default, idle_delay=idle_delay,
                             schedds=schedd)
    except ProxyError as exc:
        raise ui.fail(str(exc))
    typer.echo(f"simulated pool {'started' if started else 'already running'} in {shown(pool.root)}")
    from proxycmd.sim.ptycheck import pty_problem

    problem = pty_problem()
    if problem:
        ui.note(problem)


@sim_app.command()
def stop(root: Optional[Path] = typer.Option(None, "--root", metavar="DIR", help=ROOT_HELP)):
    """Stop every job and the pool's daemon."""
    pool = _pool(root)
    try:
        stopped = pool.stop()
    except ProxyError as exc:
        raise ui.fail(str(exc))
    if stopped:
        typer.echo(f"simulated pool in {shown(pool.root)} stopped")
    else:
        typer.echo(f"no simulated pool runs in {shown(pool.root)}")


@sim_app.command(cls=PlainCommand, context_settings={"allow_interspersed_args": False})
def submit(cmd: List[str] = typer.Argument(..., metavar="-- CMD [ARGS]...", help="The job's command."),
           idle: bool = typer.Option(False, "--idle", help="Queue the job idle; `release` starts it."),
           env: List[str] = typer.Option([], "--env", metavar="NAME=VALUE", help="Job environment (repeatable)."),
           batch_name: str = typer.Option("", "--batch-name", metavar="NAME", help="JobBatchName shown by `sync`."),
           owner: Optional[str] = typer.Option(None, "--owner", metavar="USER", help="Pretend another user owns the job."),
           schedd: Optional[str] = typer.Option(None, "--schedd", metavar="NAME", help=SCHEDD_HELP),
           root: Optional[Path] = typer.Option(None, "--root", metavar="DIR", help=ROOT_HELP)):
    """Submit a job; prints its id (CLUSTER.PROC).

    Example: condor-job-ssh sim submit -- sleep 3600
    """
    environment = {}
    for item in env:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise ui.fail(f"--env wants NAME=VALUE, not {item!r}", 2)
        environment[name] = value
    try:
        job = _pool(root).submit(cmd, idle=idle, env=environment, owner=owner, batch_name=batch_name, schedd=schedd)
    except ProxyError as exc:
        raise ui.fail(str(exc))
    typer.echo(job["id"])


@sim_app.command("list")
def list_jobs(root: Optional[Path] = typer.Option(None, "--root", metavar="DIR", help=ROOT_HELP)):
    """List the pool's jobs."""
    try:
        jobs = _pool(root).jobs()
    except ProxyError as exc:
        raise ui.fail(str(exc))
    named = len({job.get("schedd") for job in jobs}) > 1  # a column for the schedd once there are several
    width = max([len("SCHEDD")] + [len(job.get("schedd") or "-") for job in jobs])
    typer.echo(f"{'ID':<8} {'STATUS':<10} {'SINCE':<20} " + (f"{'SCHEDD':<{width}}  " if named else "") + "CMD")
    for job in jobs:
        since = job.get("started") or job.get("submitted")
        when = datetime.datetime.fromtimestamp(since).strftime("%Y-%m-%d %H:%M:%S") if since else "-"
        extra = f"  ({job['hold_reason']})" if job["status"] == "held" else ""
        where = f"{job.get('schedd') or '-':<{width}}  " if named else ""
        typer.echo(f"{job['id']:<8} {job['status']:<10} {when:<20} {where}{job['cmd']}{extra}")


def _change(op: str, job_id: str, root: Optional[Path], schedd: Optional[str] = None, **args) -> None:
    addr = _job(job_id)
    try:
        job = _pool(root).change(op, addr.cluster, addr.proc, schedd=schedd, **args)
    except ProxyError as exc:
        raise ui.fail(str(exc))
    typer.echo(f"job {job['id']} is {job['status']}")


@sim_app.command(cls=PlainCommand)
def hold(job_id: str = typer.Argument(..., metavar="JOB", help=JOB_HELP),
         reason: str = typer.Option("via condor-job-ssh sim hold", "--reason", metavar="TEXT", show_default=False,
                                    help="The hold reason (default: 'via condor-job-ssh sim hold')."),
         schedd: Optional[str] = typer.Option(None, "--schedd", metavar="NAME", help=SCHEDD_HELP),
         root: Optional[Path] = typer.Option(None, "--root", metavar="DIR", help=ROOT_HELP)):
    """Hold a job: its processes are killed and sessions refused.

    A session asked for later is refused with the hold reason, as a real pool does.
    """
    _change("hold", job_id, root, schedd, reason=reason)


@sim_app.command(cls=PlainCommand)
def release(job_id: str = typer.Argument(..., metavar="JOB", help=JOB_HELP),
            schedd: Optional[str] = typer.Option(None, "--schedd", metavar="NAME", help=SCHEDD_HELP),
            root: Optional[Path] = typer.Option(None, "--root", metavar="DIR", help=ROOT_HELP)):
    """Let an idle or held job run."""
    _change("release", job_id, root, schedd)


@sim_app.command("rm", cls=PlainCommand)
def remove_job(job_id: str = typer.Argument(..., metavar="JOB", help=JOB_HELP),
               schedd: Optional[str] = typer.Option(None, "--schedd", metavar="NAME", help=SCHEDD_HELP),
               root: Optional[Path] = typer.Option(None, "--root", metavar="DIR", help=ROOT_HELP)):
    """Remove a job from the queue (its processes are killed)."""
    _change("rm", job_id, root, schedd)


def pool_warning(root: str) -> Optional[str]:
    """For `setup --sim ROOT`: one line when no simulated pool answers there (None when one does).
    Only a warning: the pool may be started after setup, and ssh then works."""
    pool = SimPool(root)
    if pool.running():
        return None
    why = "no such directory" if not pool.root.exists() else (
        "not a directory" if not pool.root.is_dir() else "nothing answers there")
    return (f"--sim {pool.root}: no simulated pool runs there ({why}); ssh to job hosts fails until you "
            f"start one with `{paths.command_word('condor-job-ssh')} sim start --root {shlex.quote(str(pool.root))}`")
