"""`condor-job-ssh`: the user's command line (setup, sync, remove, doctor, demo, sim)."""

from __future__ import annotations

from typing import Optional

import typer

from . import ui

HELP = """\
Reach running HTCondor jobs with plain ssh, scp, rsync, sftp and VS Code.

\b
Run `condor-job-ssh setup` once: it writes a block at the top of
~/.ssh/config so that `ssh 32.0.job.condor` reaches job 32.0.
`condor-job-ssh sync` adds your running jobs by name (VS Code lists
them).  `condor-job-ssh demo` shows it all on a simulated pool.
"""

# One line each in the command list of `condor-job-ssh --help` (typer cuts a longer first sentence).
SHORT_HELP = {
    "setup": "Write the ssh config block that reaches *.job.condor.",
    "sync": "List your running jobs as ssh hosts, for VS Code.",
    "remove": "Take the managed block out of your ssh config.",
    "doctor": "Check everything a connection needs; say how to fix it.",
    "demo": "Try ssh, scp, rsync and sftp on a throwaway simulated pool.",
}


def _version(show: Optional[bool]) -> None:
    if show:
        from proxycmd import __version__

        typer.echo(f"condor-job-ssh {__version__}")
        raise typer.Exit()


def _options(version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True,
                                                    help="Show the version and exit.")) -> None:
    pass


def build_app() -> typer.Typer:
    app = typer.Typer(name="condor-job-ssh", help=HELP, no_args_is_help=True, add_completion=True,
                      pretty_exceptions_enable=False, rich_markup_mode=None)
    from . import configcmds, demo, doctor
    from .simcmds import sim_app

    app.callback()(_options)
    configcmds.register(app)
    doctor.register(app)
    demo.register(app)
    app.add_typer(sim_app, name="sim")
    from .profiles.commands import profile_app

    app.add_typer(profile_app, name="profile")
    from .agentcmds import agent_app

    app.add_typer(agent_app, name="agent")
    for info in app.registered_commands:
        if info.short_help is None and info.name in SHORT_HELP:
            info.short_help = SHORT_HELP[info.name]
    return app


def main() -> None:
    import sys

    from typer.exceptions import Abort, TyperException

    try:
        code = build_app()(standalone_mode=False)
    except TyperException as exc:  # click's usage errors and bad parameters
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare `condor-job-ssh` or `sim`: the help itself
            sys.stderr.write(exc.format_message() + "\n")
        else:
            sys.stderr.write(ui.usage_line(exc) + "\n")
        sys.exit(getattr(exc, "exit_code", 2))
    except Abort:
        sys.stderr.write("condor-job-ssh: aborted\n")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
