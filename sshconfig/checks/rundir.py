"""doctor's "runtime dir" row: every directory the block's paths use is private (700, the user's own, on a
chain no one else can change: proxycmd/safefs.py), or can be made on the first connection."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Optional, Tuple

from proxycmd import paths
from proxycmd.checkresult import FAIL, OK, Check

from .. import ui
from ..block import resolved as resolved_mod

NAME = "runtime dir"


def _check_dir(path: Path) -> Tuple[str, str, str]:
    """(state, detail, fix) for one private directory the block names."""
    if not os.path.lexists(path):
        if path.parent.is_dir():
            return OK, f"{path} (made on the first connection)", ""
        return FAIL, f"{path} and its parent {path.parent} do not exist", \
            f"pick a runtime directory: `{ui.cjs()} setup`"
    try:
        paths.check_safe_chain(path)
    except paths.PathError as exc:
        return FAIL, str(exc), _dir_fix(path, exc)
    return OK, f"{path} is private (700, yours)", ""


def _dir_fix(path: Path, exc: Exception) -> str:
    if "lets others in" in str(exc):
        return f"make it private: `chmod 700 {shlex.quote(str(path))}`"
    return f"remove {path}, then run: `{ui.cjs()} setup`"


def check_block_runtime_dirs(resolved: "resolved_mod.Resolved") -> "Tuple[Check, Optional[Path]]":
    """Every directory the block's ProxyCommand, IdentityAgent, ControlPath and UserKnownHostsFile use;
    with them, the directory of the agent."""
    if resolved.known_hosts and "%l" in resolved.known_hosts:  # written by `setup` on a node with OpenSSH 8.4+
        return Check(NAME, FAIL, f"this ssh (OpenSSH before 8.4) reads UserKnownHostsFile {resolved.known_hosts} "
                                 "literally: it does not expand %l there, so no job's host key is found",
                     f"run `{ui.cjs()} setup` on this host: it writes the one known_hosts file every login node "
                     "reads"), None
    results = [(Path(directory),) + _check_dir(Path(directory)) for directory in resolved.runtime_dirs()]
    agent_dir = resolved.proxy_runtime_dir or (os.path.dirname(resolved.identity_agent)
                                               if resolved.identity_agent else None)
    for path, state, detail, fix in results:
        if state != OK:
            return Check(NAME, state, detail, fix), None
    details = "; ".join(detail for _, _, detail, _ in results)
    if agent_dir is None:
        return Check(NAME, OK, details), None
    agent_path = Path(agent_dir)
    return Check(NAME, OK, details), (agent_path if os.path.isdir(agent_path) else None)


def check_runtime_dir(chosen: Optional[str]) -> "Tuple[Check, Optional[Path]]":
    """The runtime directory the settings choose (or today's default), when ssh cannot resolve the block;
    with it, that directory when it is there and private."""
    path = Path(chosen) if chosen else paths.runtime_dir(create=False)
    state, detail, fix = _check_dir(path)
    return Check(NAME, state, detail, fix), (path if state == OK and os.path.lexists(path) else None)
