"""`condor-job-ssh agent stop`: end this login node's key agent (the next connection starts a new one)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from proxycmd import paths
from proxycmd.agent import client
from proxycmd.errors import ProxyError

from .. import ui
from ..block import resolved
from ..block.settings import SettingsError

agent_app = typer.Typer(help="Stop the key agent of this host. It starts by itself on the first connection.",
                        short_help="Stop the key agent of this host.", no_args_is_help=True)


@agent_app.command("stop")
def stop_command(ssh_config: Optional[Path] = typer.Option(None, "--ssh-config", metavar="PATH",
                                                           help="The ssh config whose block names the runtime "
                                                                "directory (default: ~/.ssh/config).")) -> None:
    """Stop this host's key agent.

    Its keys are wiped and its known_hosts lines dropped.

    Sessions already logged in go on; the next connection starts a fresh agent. Agents of other login
    nodes sharing your home are not touched.
    """
    try:
        rundir = resolved.runtime_dir_of(ssh_config or paths.default_ssh_config())
        status = client.status(rundir)
        stopped = client.stop(rundir)
    except (ProxyError, SettingsError) as exc:
        raise ui.fail(str(exc))
    if stopped:
        pid = f" (pid {status.get('pid')})" if status else ""
        typer.echo(f"Stopped the key agent{pid} at {paths.control_socket(rundir)}.")
    else:
        typer.echo(f"No key agent is running at {paths.control_socket(rundir)}.")
