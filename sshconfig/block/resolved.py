"""What ssh will really use for a job host, as `ssh -G` reports it from the user's ssh config.

`doctor` checks these, not what it would choose itself today: the block may name a runtime directory
picked under another environment (a stale $XDG_RUNTIME_DIR, an older default), and a `Host *` below the
block may still set options the block leaves open, such as User.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from proxycmd import paths

from .. import sshclient


@dataclass(frozen=True)
class Resolved:
    """The options ssh resolves for one job host name."""

    host: str
    user: str
    proxy_command: str
    proxy_runtime_dir: Optional[str]  # the ProxyCommand's --runtime-dir
    identity_agent: Optional[str]
    control_path: Optional[str]  # expanded by ssh; None for `none`
    known_hosts: Optional[str]

    def runtime_paths(self) -> List[Tuple[str, str]]:
        """(what uses it, directory) for every private directory the block relies on, in a stable order."""
        found = []
        if self.proxy_runtime_dir:
            found.append(("the ProxyCommand's --runtime-dir", self.proxy_runtime_dir))
        for what, path in (("IdentityAgent", self.identity_agent), ("ControlPath", self.control_path),
                           ("UserKnownHostsFile", self.known_hosts)):
            if path:
                found.append((what, os.path.dirname(path)))
        return found

    def runtime_dirs(self) -> List[str]:
        """The distinct directories of runtime_paths(), first use first."""
        seen: List[str] = []
        for _, directory in self.runtime_paths():
            directory = os.path.normpath(directory)
            if directory not in seen:
                seen.append(directory)
        return seen


def _option_value(words: List[str], option: str) -> Optional[str]:
    for i, word in enumerate(words[:-1]):
        if word == option:
            return words[i + 1]
    return None


def proxy_runtime_dir(proxy_command: str) -> Optional[str]:
    """The --runtime-dir of a ProxyCommand line as render.py writes it (shell-quoted, '%' doubled)."""
    try:
        words = shlex.split(proxy_command)
    except ValueError:
        return None
    value = _option_value(words, "--runtime-dir")
    return value.replace("%%", "%") if value is not None else None


def _path(value: Optional[str]) -> Optional[str]:
    if not value or value.lower() == "none":
        return None
    return value


def expand_local_host(value: Optional[str], node: str) -> Optional[str]:
    """*value* with ``%l`` expanded to *node* and ``%%`` to ``%``, as ssh does when it uses IdentityAgent:
    `ssh -G` before 8.4 prints it unexpanded.  Other tokens stay."""
    if value is None or "%" not in value:
        return value
    out, i = [], 0
    while i < len(value):
        pair = value[i:i + 2]
        if pair in ("%%", "%l"):
            out.append("%" if pair == "%%" else node)
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def from_ssh_g(values: Dict[str, str], host: str, node: str = "") -> Resolved:
    """Pure: the `ssh -G` output (keys lower-cased, first value of each) for *host*; *node*: this host's
    name, for the ``%l`` an older ssh prints unexpanded in IdentityAgent.  UserKnownHostsFile is taken as
    printed: an ssh that does not expand it there (before 8.4) reads a literal ``%l``."""
    proxy = values.get("proxycommand", "")
    return Resolved(host=host, user=values.get("user", ""), proxy_command=proxy,
                    proxy_runtime_dir=proxy_runtime_dir(proxy),
                    identity_agent=expand_local_host(_path(values.get("identityagent")), node),
                    control_path=_path(values.get("controlpath")),
                    known_hosts=_path(values.get("userknownhostsfile")))  # the block names one file


def resolve_block(config: Path, suffix: str) -> "Optional[Resolved]":
    """What ssh uses for a job host under *config* (`ssh -G`), or None when our block does not apply (also
    when *config* is no regular file: ssh would wait on a FIFO until its timeout, and reads no block there)."""
    if not os.path.isfile(config):
        return None
    host = f"1.0.{suffix}"
    values, _ = sshclient.ssh_g(["ssh", "-G", "-F", str(config), host])
    if values is None or "condor-job-proxy" not in values.get("proxycommand", ""):
        return None
    try:
        node = paths.local_node()
    except paths.PathError:
        node = ""
    return from_ssh_g(values, host, node)


def runtime_dir_of(config: Path) -> Path:
    """The runtime directory the block's ProxyCommand in *config* names (what connections use), else the one
    the saved settings choose."""
    from . import settings as settings_mod  # settings imports the block's parts; this module stays below it

    chosen = settings_mod.load(warn=lambda message: None)
    found = resolve_block(config, chosen.suffix)
    if found is not None and found.proxy_runtime_dir:
        return Path(found.proxy_runtime_dir)
    return Path(chosen.runtime_dir) if chosen.runtime_dir else paths.default_runtime_dir()
