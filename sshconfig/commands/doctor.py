"""`condor-job-ssh doctor`: check everything a connection relies on, and say how to fix what is broken.

Each check gives ok, warn or fail, a detail and, unless ok, a fix.  The command prints a table within 80
columns (the fix under its row, each command on a line of its own: sshconfig/ui.py) and exits 1
when any check fails; warnings (a schedd the bindings cannot reach, an option set above the managed block)
leave the exit status at 0, because connections still work.

The checks themselves are sshconfig/checks/ (one module per group of rows); this module picks which run,
in which order, and prints them.  The rows about the place where jobs are (HTCondor's tools and schedd, the
simulated pool, the access point) are the backend's own (`Backend.checks`); doctor never asks which backend
it has.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import typer

from proxycmd import paths
from proxycmd.checkresult import FAIL, OK, WARN, Check

from .. import ui
from ..block import resolved as resolved_mod
from ..block import settings as settings_mod
from ..checks import agent, block, client, job as job_checks, profiles, recent_failures, rundir as rundir_checks
from ..places import backend_for

WIDTH = ui.WIDTH


def run_checks(config: Path) -> List[Check]:
    """doctor's rows without JOB, in the order the table shows them."""
    checks: List[Check] = [client.check_ssh_version(), client.check_ssh_options()]
    try:
        chosen = settings_mod.load(warn=lambda message: None)
    except settings_mod.SettingsError as exc:
        return checks + [Check("settings", FAIL, str(exc), f"fix or delete that file, then run: `{ui.cjs()} setup`")]

    backend = backend_for(chosen, config)  # the simulated pool, the access point or HTCondor: its own rows
    checks += backend.checks()
    checks.append(block.check_block(config, chosen.suffix))
    resolved = resolved_mod.resolve_block(config, chosen.suffix)  # what ssh really uses: the block's paths, not ours
    if resolved is not None:
        runtime, rundir = rundir_checks.check_block_runtime_dirs(resolved)
        checks += [block.check_login_user(resolved, chosen.user, block.local_user()), runtime]
    else:
        runtime, rundir = rundir_checks.check_runtime_dir(chosen.runtime_dir)
        checks.append(runtime)
    checks.append(agent.check_agent(rundir, resolved.identity_agent if resolved is not None else None))

    checks.append(recent_failures.check_recent_failures(settings=chosen, jobs=backend.queue_times))

    checks += profiles.check_profiles()
    return checks


def render(checks: List[Check], width: int = WIDTH) -> str:
    """The table (sshconfig/ui.py): one row for each check, its details wrapped and its fix under
    it, within *width* columns, every command on a line of its own."""
    rows = [(check.name, check.state, check.detail, check.fix if check.state != OK else "") for check in checks]
    failed = sum(1 for check in checks if check.state == FAIL)
    warned = sum(1 for check in checks if check.state == WARN)
    lines = ui.table(rows, width) + ["", f"{failed} failed, {ui.plural(warned, 'warning')}, "
                                      f"{len(checks) - failed - warned} ok."]
    return "\n".join(lines) + "\n"


def doctor_command(
    job: Optional[str] = typer.Argument(None, metavar="JOB",
                                        help="A job (32.0, or a job host name): what its sessions can and cannot do."),
    ssh_config: Optional[Path] = typer.Option(None, "--ssh-config", metavar="PATH",
                                              help="The ssh client config file to check (default: ~/.ssh/config)."),
) -> None:
    """Check ssh, HTCondor, the ssh config, the runtime directory and the key agent.

    Prints a line for each check (ok, warn or fail), with how to fix each problem under it.
    Exits 1 when a check fails; warnings (such as a schedd the Python bindings cannot reach)
    leave connections working.

    With JOB: where that job's sessions land (the execute host, or inside its container) and, for a
    container job, whether scp, sftp, rsync, ssh -L and exit statuses work there (docs/containers.md).
    """
    given = Path(os.path.expanduser(str(ssh_config))) if ssh_config else None
    if job is not None:
        checks = job_checks.job_rows(job, given)
    else:
        checks = run_checks(given or paths.default_ssh_config())
    typer.echo(render(checks), nl=False)
    if any(check.state == FAIL for check in checks):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("doctor", cls=ui.PlainCommand)(doctor_command)

