"""`condor-job-ssh`: the user's command line (setup, sync, remove, doctor, demo, sim)."""

from __future__ import annotations

from typing import Optional
import sys

import typer
from typer.exceptions import Abort, TyperException

from proxycmd import __version__

from . import ui
from .commands import agent, demo, doctor, profile, remove, setup, sim, sync

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
        typer.echo(f"condor-job-ssh {__version__}")
        raise typer.Exit()


def _options(version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True,
                                                    help="Show the version and exit.")) -> None:
    pass


def build_app() -> typer.Typer:
    app = typer.Typer(name="condor-job-ssh", help=HELP, no_args_is_help=True, add_completion=True,
                      pretty_exceptions_enable=False, rich_markup_mode=None)

    app.callback()(_options)
    for command in (setup, sync, remove, doctor, demo):  # the order `condor-job-ssh --help` lists them in
        command.register(app)
    app.add_typer(sim.sim_app, name="sim")
    app.add_typer(profile.profile_app, name="profile")
    app.add_typer(agent.agent_app, name="agent")
    for info in app.registered_commands:
        if info.short_help is None and info.name in SHORT_HELP:
            info.short_help = SHORT_HELP[info.name]
    return app


def main() -> None:
    from proxycmd import bindings

    bindings.PROBE = True  # a broken HTCondor configuration is one line of ours, not the end of the process
    try:
        code = build_app()(standalone_mode=False)
        sys.stdout.flush()  # here, where a refusal (>/dev/full) is said, not at exit
    except TyperException as exc:  # click's usage errors and bad parameters
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare `condor-job-ssh` or `sim`: the help itself
            sys.stderr.write(exc.format_message() + "\n")
        else:
            sys.stderr.write(ui.usage_line(exc) + "\n")
        sys.exit(getattr(exc, "exit_code", 2))
    except Abort:
        sys.stderr.write("condor-job-ssh: aborted\n")
        sys.exit(1)
    except OSError as exc:  # standard output refused our text: one line (not for a reader that went away)
        said = ui.output_lost(exc)
        if not isinstance(exc, BrokenPipeError):  # `condor-job-ssh --help | head`: nothing to say
            sys.stderr.write(f"condor-job-ssh: error: {said}\n")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
