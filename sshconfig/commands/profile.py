"""`condor-job-ssh profile new|list|show|stop`: manage on-demand job profiles and their jobs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Tuple

import typer

from proxycmd import ondemand, paths, safefs
from proxycmd.errors import ProxyError
from proxycmd.hostname import is_profile_name

from .. import ui
from ..ui import PlainCommand
from ..profiles import template
from ..block import settings as settings_mod
from ..places import backend_for

profile_app = typer.Typer(
    name="profile",
    help="Jobs on demand: `ssh NAME.job.condor` submits a job from profiles/NAME.sub when you have none, "
         "connects when it runs, and the job ends itself when idle.",
    short_help="Jobs on demand: profiles behind host names like gpu.job.condor.",
    no_args_is_help=True,
)


def _name(text: str) -> str:
    name = text.lower()
    if not is_profile_name(name):
        raise ui.fail(f"{text!r} is not a profile name: start with a letter, then letters, digits and inner '-' "
                    "(it becomes the host name NAME.job.condor)", 2)
    return name


def _settings():
    try:
        return settings_mod.load(warn=lambda message: None)
    except settings_mod.SettingsError as exc:
        raise ui.fail(str(exc))


# Through an access point (setup --via), the hop's ssh reads the file that holds the AP's Host alias: the
# one `setup --ssh-config` wrote, as `sync --ssh-config` does.
SSH_CONFIG = typer.Option(None, "--ssh-config", metavar="PATH",
                          help="With setup --via: the ssh config file setup wrote (default: ~/.ssh/config).")


def _jobs(ssh_config: Optional[Path] = None):
    chosen = _settings()
    config = Path(os.path.expanduser(str(ssh_config))) if ssh_config is not None else None
    try:
        return backend_for(chosen, config), chosen
    except ImportError as exc:
        raise ui.fail(f"cannot ask HTCondor for your jobs: {exc} (install HTCondor's Python bindings)")


@profile_app.command("new", cls=PlainCommand, short_help="Write a commented profile template to edit.")
def new_command(name: str = typer.Argument(..., metavar="NAME", help="Profile name, e.g. gpu (host gpu.job.condor)."),
                force: bool = typer.Option(False, "--force", help="Replace an existing profile file.")):
    """Write a commented profile template to profiles/NAME.sub, to edit before the first `ssh NAME.job.condor`.

    The profile is an HTCondor submit description (request_gpus, container_image, requirements, ...)
    without executable, arguments or queue: condor-job-proxy runs its own program in the job, which ends
    the job once no ssh session has existed for MY.CondorJobProxyIdleTimeout seconds.

    \b
    Examples:
      condor-job-ssh profile new gpu
      condor-job-ssh profile new gpu --force     # start again from the template
    """
    name = _name(name)
    path = paths.profile_file(name)
    try:
        paths.check_config_dir(create=True)  # nobody else may swap a link into it while we write
        path.parent.mkdir(exist_ok=True, mode=0o700)
        paths.check_config_dir()
        safefs.write_new(path, template.render(name).encode("utf-8"), truncate=force)
    except paths.PathError as exc:
        raise ui.fail(str(exc))
    except FileExistsError:
        raise ui.fail(f"{path} exists already: edit it, or add --force to start again from the template")
    except OSError as exc:
        raise ui.fail(f"cannot write {path}: {exc.strerror or exc}")
    typer.echo(f"Wrote {path}.")
    typer.echo(f"Edit it, then `ssh {name}.{_settings().suffix}` (`condor-job-ssh sync` adds it to VS Code's list).")


@profile_app.command("list", cls=PlainCommand)
def list_command(ssh_config: Optional[Path] = SSH_CONFIG):
    """Show your profiles and their live jobs.

    \b
    Examples:
      condor-job-ssh profile list
    """
    names = ondemand.profile_names()
    jobs, chosen = _jobs(ssh_config)
    live: List[Tuple[str, object]] = []
    problem = ""
    try:
        live = [(n, job) for n, job in jobs.live_profile_jobs() if is_profile_name(n)]  # printable names only
    except ProxyError as exc:
        problem = str(exc)
    rows = []
    for name in sorted(set(names) | {n for n, _ in live}):
        mine = [job for n, job in live if n == name]
        state = "" if name in names else "  (no profile file)"
        host = f"{name}.{chosen.suffix}"
        if not mine:
            rows.append((name, host, "-", "no job" if not problem else "?", state))
        for job in mine:
            rows.append((name, host, job.job_id, job.status, state))
    if not rows:
        typer.echo(f"No profiles in {paths.profiles_dir()}; create one with `condor-job-ssh profile new NAME`.")
    else:
        width = max(len(row[1]) for row in rows)
        typer.echo(f"{'HOST'.ljust(width)}  {'JOB':<10} STATUS")
        for name, host, job_id, status, note in rows:
            typer.echo(f"{host.ljust(width)}  {job_id:<10} {status}{note}")
    if problem:
        raise ui.fail(f"cannot list the profiles' jobs: {problem}")


@profile_app.command("show", cls=PlainCommand)
def show_command(name: str = typer.Argument(..., metavar="NAME", help="Profile name.")):
    """Print the submit description `ssh NAME.job.condor` would submit.

    \b
    Examples:
      condor-job-ssh profile show gpu
    """
    name = _name(name)
    try:
        _, entries = ondemand.load_profile(name)
    except ProxyError as exc:
        raise ui.fail(str(exc), getattr(exc, "exit_code", 1))
    for key, value in ondemand.job_description(name, entries).items():
        typer.echo(f"{key} = {value}")
    typer.echo("queue")


@profile_app.command("stop", cls=PlainCommand)
def stop_command(name: str = typer.Argument(..., metavar="NAME", help="Profile name."),
                 reason: Optional[str] = typer.Option(None, "--reason", metavar="TEXT", help="Why (recorded with the removal)."),
                 ssh_config: Optional[Path] = SSH_CONFIG):
    """Remove the profile's job (idle or running); its sessions end.

    \b
    Examples:
      condor-job-ssh profile stop gpu
      condor-job-ssh profile stop gpu --reason 'done for today'
    """
    name = _name(name)
    jobs, _ = _jobs(ssh_config)
    try:
        mine = [job for _, job in jobs.live_profile_jobs(name)]
        for job in mine:
            jobs.remove_job(job, reason or f"condor-job-ssh profile stop {name}")
            typer.echo(f"Removed job {job.job_id} (profile {name}).")
    except ProxyError as exc:
        raise ui.fail(str(exc))
    if not mine:
        names = ondemand.profile_names()
        if name not in names:  # a typo, as a rule: say so rather than "nothing to stop"
            raise ui.fail(f"no profile {name!r} and no job of one" + (f" (profiles: {', '.join(sorted(names))})"
                                                                      if names else ""))
        typer.echo(f"No job of profile {name} is idle or running.")
