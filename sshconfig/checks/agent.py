"""doctor's "key agent" row: the agent answers on control.sock, and the socket ssh really uses is its own."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Optional

from proxycmd import ourcommands, paths
from proxycmd.agent import client
from proxycmd.checkresult import FAIL, OK, Check

from .. import ui


def check_agent(rundir: Optional[Path], identity_agent: Optional[str] = None) -> Check:
    """The agent answers on control.sock, and *identity_agent* (the socket ssh really uses, as `ssh -G`
    resolves IdentityAgent) is that agent's listening socket, not a removed or foreign one."""
    name = "key agent"
    if rundir is None:
        return Check(name, OK, "not running (it starts on the first connection)")
    try:
        status = client.status(rundir)
    except client.AgentError as exc:
        return Check(name, FAIL, str(exc), f"remove {paths.agent_socket(rundir)}, or see why it fails in a terminal: "
                                           f"`{ourcommands.command_word('condor-job-proxy')} agent --runtime-dir "
                                           f"{shlex.quote(str(rundir))}`")
    if status is None:
        return Check(name, OK, "not running (it starts on the first connection)")
    pid = status.get("pid")
    if identity_agent:
        fix = f"connect again (the agent then listens there anew), or run: `{ui.cjs()} agent stop`"
        try:
            st = os.stat(identity_agent)
        except OSError as exc:
            return Check(name, FAIL, f"pid {pid} answers, but ssh's IdentityAgent {identity_agent} is not there "
                                     f"({exc.strerror}): ssh would find no key", fix)
        if status.get("socket") is not None and [st.st_dev, st.st_ino] != status.get("socket"):
            return Check(name, FAIL, f"ssh's IdentityAgent {identity_agent} is not the socket of the agent that "
                                     f"answers (pid {pid}): ssh would find no key", fix)
    return Check(name, OK, f"pid {pid} answers: {ui.plural(status.get('sessions', 0), 'session')}, "
                           f"{ui.plural(status.get('keys', 0), 'key')}" + (f", on {identity_agent}" if identity_agent else ""))
