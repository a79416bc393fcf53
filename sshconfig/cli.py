"""`condor-job-ssh`: the user's command line (setup, sync, remove, doctor, demo, sim)."""

from __future__ import annotations

import typer

HELP = """\
Reach running HTCondor jobs with plain ssh, scp, rsync, sftp and VS Code.

Run `condor-job-ssh setup` once: it writes a block at the top of ~/.ssh/config so that
`ssh 32.0.job.condor` reaches job 32.0.  `condor-job-ssh sync` adds your running jobs by
name (VS Code lists them).  `condor-job-ssh demo` shows it all on a simulated pool.
"""


def build_app() -> typer.Typer:
    app = typer.Typer(name="condor-job-ssh", help=HELP, no_args_is_help=True, add_completion=True,
                      pretty_exceptions_enable=False, rich_markup_mode=None)
    from . import configcmds, demo, doctor
    from .simcmds import sim_app

    configcmds.register(app)
    doctor.register(app)
    demo.register(app)
    app.add_typer(sim_app, name="sim")
    from .profiles.commands import profile_app

    app.add_typer(profile_app, name="profile")
    return app


def main() -> None:
    build_app()()
