"""`condor-job-ssh sync`: one Host entry per job (what VS Code lists) inside the managed block, once or
every N seconds (--watch)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Optional, Tuple

import typer

from proxycmd import ourcommands, paths
from proxycmd.errors import shown
from proxycmd.ondemand import profile_names

from .. import editorconfig as editor_hook, ui
from ..block import render, settings as settings_mod, splice, write
from ..block.options import BY_KEY
from . import params
from ..joblist import list_everywhere
from ..joblist import newest
from ..places import backend_for


def _listed(job, include_idle: bool) -> bool:
    return job.status in ("running", "transferring") or (include_idle and job.status == "idle")


def sync_once(config: Path, include_idle: Optional[bool], dry_run: bool) -> Tuple[bool, int]:
    """One listing written into the block: (whether the text changed, how many job hosts it has)."""
    chosen = settings_mod.load(warn=ui.warn)
    for sentence in settings_mod.conflicts(chosen, str(paths.config_file())):
        ui.warn(sentence)
    idle = chosen.include_idle if include_idle is None else include_idle
    text, block = write.read_block(config)
    if text is None or block is None:
        raise ui.Failure(f"{config} has no managed block: run `{ourcommands.command_word('condor-job-ssh')} setup` first")
    splice.split_block(block)  # a hand-edited block stops us here, before the pool is asked
    if not dry_run:
        write.check_writable(config)

    def open_at(schedd: Optional[str], pool: Optional[str], pool_only: bool):
        return backend_for(chosen, config, (schedd, pool, pool_only))

    taken = time.time()
    try:
        listed = list_everywhere(chosen, open_at, idle, ui.warn, all_schedds=chosen.all_schedds)
    except ImportError as exc:
        raise ui.Failure(f"cannot ask HTCondor for your jobs: {exc} (install HTCondor's Python bindings, "
                      "or use `setup --sim DIR` to try the simulated pool)") from None

    wanted = [item for item in listed if _listed(item.job, idle)]
    if len(wanted) > chosen.sync_limit:
        ui.warn(f"{len(wanted)} jobs are listed, more than the {chosen.sync_limit} job hosts sync writes: the ssh "
              f"config names the newest {chosen.sync_limit}; every job is still reached by its host name without "
              f"an entry (ssh CLUSTER.PROC.{chosen.suffix}), and "
              f"`{ourcommands.command_word('condor-job-ssh')} setup --sync-limit N` changes the bound")
        wanted = newest(wanted, chosen.sync_limit)
    hosts = render.render_listed(wanted, chosen, taken) + render.render_profile_hosts(profile_names(), chosen)

    def transform(now: Optional[str]) -> str:
        now_block = splice.block_text(now) if now is not None else None
        if now is None or now_block is None:
            raise ui.Failure(f"{config} has no managed block any more: run `condor-job-ssh setup` first")
        return splice.splice(now, splice.replace_hosts(now_block, hosts))

    after = transform(text)
    count = sum(1 for line in hosts.split("\n") if line.startswith("Host "))
    if after == text:
        editor_hook.after_sync(chosen, config, after, hosts, dry_run)
        return False, count
    if dry_run:
        ui.echo_exact(splice.unified_diff(text, after, config))
        editor_hook.after_sync(chosen, config, after, hosts, dry_run)
        return True, count
    changed = write.update(config, transform) != write.UNCHANGED
    editor_hook.after_sync(chosen, config, None, hosts, dry_run)
    return changed, count


MAX_WATCH = 86400  # seconds between syncs at most (time.sleep refuses what time_t cannot hold)
_WATCH = params.parameter("watch", typer.Option(None, "--watch", metavar="SECONDS",
                                                 help="Keep syncing every SECONDS (1 to 86400) until interrupted."),
                          Optional[float])
_QUIET = params.parameter("quiet", typer.Option(False, "--quiet", "-q", help="Say nothing unless something changed."),
                          bool)


@params.with_options([params.SSH_CONFIG_PARAM], [_WATCH, params.DRY_RUN_PARAM, _QUIET], keys=["include_idle"],
                     help_for={"include_idle": BY_KEY["include_idle"].sync_help})
def sync_command(ssh_config: Optional[Path] = None, include_idle: Optional[bool] = None,
                 watch: Optional[float] = None, dry_run: bool = False, quiet: bool = False) -> None:
    """List your running jobs as ssh hosts, for VS Code.

    Asks every schedd the block reaches for your jobs (the default one, each route's, and with
    `setup --all-schedds` every schedd of the pool) and writes one `Host 32.0.job.condor` entry per job
    inside the managed block (32.0.SUFFIX for a route's, 32.0.SCHEDD.job.condor for another schedd's), so
    VS Code's Remote Explorer and shell completion offer it, and drops jobs that have left. A schedd that
    does not answer is a warning; the others are listed. It never asks and writes only when the list
    changed, so it suits a timer (see contrib/). Run `setup` first.

    \b
    Examples:
      condor-job-ssh sync
      condor-job-ssh sync --include-idle --dry-run
      condor-job-ssh sync --watch 60          # until Ctrl-C
    """
    config = params.ssh_config_path(ssh_config)
    if watch is not None and not 1 <= watch <= MAX_WATCH:  # also nan and inf; here, not by typer's "x>=1.0"
        raise ui.fail(f"--watch wants a number of seconds from 1 to {MAX_WATCH} (a day), not {watch:g}", 2)
    if watch is not None and dry_run:
        raise ui.fail("--watch with --dry-run would show the same diff again and again: use one of them")
    if watch is None:
        with ui.one_line_errors():
            changed, count = sync_once(config, include_idle, dry_run)
        if changed and not dry_run:
            typer.echo(f"Updated {shown(config)}: {count} job host{'s' * (count != 1)}.")
        elif changed:
            typer.echo("Dry run: nothing was written.")
        elif not quiet:
            typer.echo(f"{shown(config)}: no changes ({count} job host{'s' * (count != 1)}).")
        return
    _watch(config, include_idle, watch)


def _watch(config: Path, include_idle: Optional[bool], every: float) -> None:
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        while True:
            try:
                changed, count = sync_once(config, include_idle, dry_run=False)
                if changed:
                    typer.echo(f"{time.strftime('%H:%M:%S')} {shown(config)}: {count} job hosts")
            except ui.Failure as exc:  # no block: waiting will not help
                raise ui.fail(str(exc)) from None
            except ui.ERRORS + (OSError,) as exc:  # the pool may come back: say so and go on
                ui.warn(str(exc))
            time.sleep(every)
    except KeyboardInterrupt:
        typer.echo("Stopped.", err=True)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def register(app: typer.Typer) -> None:
    app.command("sync")(sync_command)
