"""`condor-job-ssh remove`: take the managed block out of the user's ssh_config, byte for byte."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from proxycmd import paths
from proxycmd.errors import shown

from .. import editorconfig as editor_hook, ui
from ..block import resolved, splice, write
from ..stopconns import stop_all
from . import params


def remove_command(
    ssh_config: Optional[Path] = params.SSH_CONFIG,
    dry_run: bool = params.DRY_RUN,
    yes: bool = params.YES,
) -> None:
    """Take the managed block out of your ssh config.

    Nothing else in the file changes: after `setup` then `remove` it is exactly as it was, byte for byte. When `setup` created the file and
    nothing else has been added to it since, the file is deleted (the ~/.ssh directory stays). Saved
    settings are kept for a later `setup`.

    \b
    Examples:
      condor-job-ssh remove --dry-run
      condor-job-ssh remove --yes
    """
    with ui.one_line_errors():
        config = params.ssh_config_path(ssh_config)
        text, block = write.read_block(config)
        if text is None or block is None:
            typer.echo(f"{shown(config)}: no managed block, nothing to remove.")
            editor_hook.after_remove(block, dry_run)
            return
        if not dry_run:
            write.check_writable(config)
        after, created = splice.remove(text)
        delete = created and after == ""
        ui.echo_exact(splice.unified_diff(text, after, config))
        if delete:
            typer.echo(f"(setup created {shown(config)} and nothing else is in it: it will be deleted)")
        if dry_run:
            editor_hook.after_remove(block, dry_run)
            typer.echo("Dry run: nothing was written.")
            return
        ui.confirm(f"{'Delete' if delete else 'Change'} {config}?", yes)
        rundir = resolved.runtime_dir_of(config)  # the block names it: read before the block goes
        outcome = write.update(config, _remove_transform)
        editor_hook.after_remove(block, dry_run)
        if outcome == write.DELETED:
            typer.echo(f"Deleted {shown(config)}.")
        elif outcome == write.WRITTEN:
            typer.echo(f"Removed the managed block from {shown(config)}.")
        else:
            typer.echo(f"{shown(config)}: no managed block, nothing to remove.")
            return
        for line in stop_all(rundir):  # its shared connections and this host's agent (issue 28, item 5)
            typer.echo(line)
        if rundir:  # the literal-paths marker (a block that comes back with --one-host remakes it)
            try:
                paths.set_one_host(rundir, False)
            except OSError:
                pass


def _remove_transform(text: Optional[str]) -> object:
    if text is None or splice.find_block(text) is None:
        return text
    after, created = splice.remove(text)
    return write.DELETE if created and after == "" else after


def register(app: typer.Typer) -> None:
    app.command("remove")(remove_command)
