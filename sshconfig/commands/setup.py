"""`condor-job-ssh setup`: write the rules (how to reach *.job.condor) into the managed block of the user's
ssh_config, with the settings given now and those saved.  It reads the file, computes the new text, shows or
writes it, and touches nothing outside the block's markers (`sync` and `remove` beside it do the same).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import List, Optional

import typer

from proxycmd import ourcommands, paths
from proxycmd.errors import shown

from .. import editorconfig as editor_hook, pernode, sshclient, ui
from ..block import render, settings as settings_mod, splice, write
from ..block.render import RenderContext
from ..block.settings import Settings
from ..block.splice import ManagedBlockError
from . import params
from ..hopsetup import advice
from ..setupwarn import a_running_job
from ..setupwarn import pool_warning
from ..setupwarn import problems

PROXY = "condor-job-proxy"


def find_proxy() -> str:
    """The absolute path of condor-job-proxy (see ourcommands.console_script)."""
    found = ourcommands.console_script(PROXY)
    if found:
        return found
    raise ui.Failure(f"cannot find {PROXY} next to {sys.executable} or on PATH; "
                  "reinstall condor-job-proxy (pip install condor-job-proxy) and run setup again")


# ----- setup --------------------------------------------------------------------------------------------------
def _kept_hosts(block: Optional[str], suffixes: List[str]) -> str:
    """The synced job entries of the old block whose names still end in a configured suffix."""
    if block is None:
        return ""
    try:
        entries = splice.host_entries(block)
    except ManagedBlockError:
        return ""  # a hand-edited block: setup writes it fresh, the next sync lists the jobs again
    return "".join(entry for name, entry in entries if any(name.endswith("." + s) for s in suffixes))


def _runtime_dir(chosen: Settings, dry_run: bool) -> str:
    """The runtime directory for the block: the one chosen (it must pass the safe-chain rule, see
    paths.check_safe_chain), else ~/.ssh/cjp, or /run/user/<uid>/... where the home cannot hold sockets."""
    if chosen.runtime_dir:
        try:
            if dry_run:
                paths.check_runtime_dir(chosen.runtime_dir)
            else:
                paths.ensure_runtime_dir(Path(chosen.runtime_dir))
        except paths.PathError as exc:
            raise ui.Failure(f"{exc}; `condor-job-ssh setup --runtime-dir ''` returns to the default, "
                          f"{paths.default_runtime_dir()}") from None
        return chosen.runtime_dir
    if dry_run:
        path = paths.default_runtime_dir()
        paths.check_runtime_dir(path)
        return str(path)
    path, warning = paths.pick_runtime_dir()
    if warning:
        ui.warn(warning)
    return str(path)


def _setup_transform(proxy: str, rundir: str, chosen: Settings, hop_config: Optional[str] = None,
                     shared_known_hosts: bool = False, per_node: bool = True):
    """The file's text (None: no file) -> the text with the block written for *chosen*; with
    *shared_known_hosts*, for an OpenSSH client before 8.4 (one known_hosts file for every login node)."""
    quick = ourcommands.quick_start()  # `python -I -S`: no site.py on every connection, where the install allows
    quick_start = tuple(quick) if quick else None

    def transform(text: Optional[str]) -> str:
        old_block = splice.block_text(text) if text is not None else None
        created = text is None or (old_block is not None and splice.was_created(old_block))
        ctx = RenderContext(proxy=proxy, runtime_dir=rundir, settings=chosen, created_file=created,
                            ssh_config=hop_config, shared_known_hosts=shared_known_hosts, per_node=per_node,
                            quick_start=quick_start)
        block = render.render_block(ctx, hosts=_kept_hosts(old_block, chosen.suffixes))
        return splice.splice(text if text is not None else "", block)

    return transform


@params.with_options([params.SSH_CONFIG_PARAM], [params.DRY_RUN_PARAM, params.YES_PARAM])
def setup_command(ssh_config: Optional[Path] = None, dry_run: bool = False, yes: bool = False, **values) -> None:
    """Write the block that makes ssh reach *.job.condor.

    Puts a block at the top of your ssh config that sends every host ending in .job.condor through
    condor-job-proxy. Options you give are saved and reused by later runs, so `setup` alone re-applies
    your choices; a run that changes nothing says so and leaves the file alone. Job hosts written by
    `sync` are kept.

    \b
    Examples:
      condor-job-ssh setup                     # HTCondor, local schedd
      condor-job-ssh setup --schedd ap1.example.org --pool cm.example.org
      condor-job-ssh setup --sim ~/sim-pool    # try it on the simulated pool
      condor-job-ssh setup --route ap2.condor=ap2.example.org --yes
      condor-job-ssh setup --dry-run           # only show the diff
    """
    with ui.one_line_errors():
        changes = settings_mod.given(values)  # what the command line says, first: its contradictions too
        current = settings_mod.load(warn=ui.warn)
        chosen = _choose(current, changes, sim_given=values.get("sim_root") is not None)
        config = params.ssh_config_path(ssh_config)
        if chosen.editor_config:  # a bad path or a file not ours: one line, before anything is written
            editor_hook.check_target(chosen.editor_config, config)
        if not dry_run:
            write.check_writable(config)  # before anything is saved or created
        text, _ = write.read_block(config)
        shared_known_hosts = not sshclient.known_hosts_per_host(sshclient.client_version())
        rundir = _runtime_dir(chosen, dry_run)
        per_node, why = pernode.decide(chosen.per_node_paths, rundir, bool(chosen.via and not chosen.sim_root))
        typer.echo(why)
        transform = _setup_transform(find_proxy(), rundir, chosen, sshclient.hop_config(config), shared_known_hosts,
                                     per_node)

        def mark_one_host() -> None:  # the proxy and the agent find what the block names
            paths.set_one_host(Path(rundir), not per_node)

        after = transform(text)
        if text is not None and after == text:
            return _unchanged(config, current, chosen, after, dry_run, mark_one_host)
        if _shown_and_confirmed(config, text, after, dry_run, yes, lambda: editor_hook.after_setup(
                chosen, current, config, after, dry_run)):
            _write(config, transform, current, chosen, after, mark_one_host)


def _choose(current: Settings, changes: dict, sim_given: bool) -> Settings:
    """The saved settings with the command line's put in; what was replaced or is unused said, and with
    --sim, whether a pool answers there."""
    notes: List[str] = []
    chosen = settings_mod.apply(current, changes, notes)
    for note in notes:
        ui.warn(note)
    if sim_given:
        for problem in filter(None, [pool_warning(changes["sim_root"])]):
            ui.warn(problem)
    return chosen


def _unchanged(config: Path, current: Settings, chosen: Settings, after: str, dry_run: bool,
               mark_one_host) -> None:
    """The block is as it would be written: save changed settings (unless a dry run), and say so."""
    if chosen != current and not dry_run:
        settings_mod.save(chosen)
        typer.echo(f"Saved the settings to {shown(paths.config_file())}.")
    if not dry_run:
        mark_one_host()
    typer.echo(f"{shown(config)}: no changes.")
    editor_hook.after_setup(chosen, current, config, after, dry_run)
    _warn_problems(config, chosen)


def _shown_and_confirmed(config: Path, text: Optional[str], after: str, dry_run: bool, yes: bool,
                         dry_run_editor) -> bool:
    """Show the change as a diff; True to write it (not a dry run, and --yes or the user said so)."""
    ui.echo_exact(splice.unified_diff(text if text is not None else "", after, config))
    if dry_run:
        dry_run_editor()  # the editor config's diff too
        typer.echo("Dry run: nothing was written.")
        return False
    ui.confirm(f"Write these changes to {config}?", yes)
    return True


def _write(config: Path, transform, current: Settings, chosen: Settings, after: str, mark_one_host) -> None:
    """Save the settings, then write the block (no edit of the user's lost), and say what to try."""
    if chosen != current:  # first: a config written with settings that failed to save would be undone
        settings_mod.save(chosen)  # by the next bare `setup`
    written = write.update(config, transform)
    mark_one_host()
    if written == write.UNCHANGED:
        typer.echo(f"{shown(config)}: no changes.")
        editor_hook.after_setup(chosen, current, config, None, False)
        return
    editor_hook.after_setup(chosen, current, config, None, False)
    for line in splice.lines_before(after)[:1]:
        ui.warn(f"{config} sets {line!r} above the managed block; ssh keeps the first value it reads, so "
                "options above the block win over ours: move them below it")
    _warn_problems(config, chosen)

    job = a_running_job(chosen, config)
    try_it = f"Try `ssh {shlex.quote(job)}`" if job else f"Try `ssh CLUSTER.PROC.{chosen.suffix}` with one of your job ids"
    typer.echo(f"Updated {shown(config)}. {try_it}; "
               f"`{ourcommands.command_word('condor-job-ssh')} sync` lists your jobs for VS Code.")
    if chosen.via and not chosen.sim_root:
        typer.echo(advice(chosen.via))


def _warn_problems(config: Path, chosen) -> None:
    for problem in problems(config, chosen):
        ui.warn(problem)


def register(app: typer.Typer) -> None:
    app.command("setup")(setup_command)
