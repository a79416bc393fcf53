"""The OpenSSH client: its version (`ssh -V`) and what the block may rely on because of it, what it resolves
for a host (`ssh -G`), and the config file the hop (--via) must name."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import List, Optional, Tuple
import pwd

_VERSION = re.compile(r"OpenSSH_(\d+)\.(\d+)(p\d+)?")
# UserKnownHostsFile expands %-tokens from OpenSSH 8.4 on (ssh.c, the user_hostfiles loop); 8.0 expands them
# only in IdentityAgent, ControlPath and the like.
KNOWN_HOSTS_TOKENS = (8, 4)
SSH_TIMEOUT = 20.0


def parse(said: str) -> "Tuple[Optional[Tuple[int, int]], str]":
    """((major, minor), "OpenSSH_9.2p1") from the first line `ssh -V` printed; (None, "") when not OpenSSH."""
    lines = said.strip().splitlines()
    match = _VERSION.search(lines[0] if lines else "")
    if not match:
        return None, ""
    return (int(match.group(1)), int(match.group(2))), match.group(0)


def client_version(timeout: float = 10.0) -> Optional[Tuple[int, int]]:
    """The version of the `ssh` on PATH; None when it does not run or is not OpenSSH."""
    try:
        done = subprocess.run(["ssh", "-V"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse(done.stderr or done.stdout)[0]


def known_hosts_per_host(version: Optional[Tuple[int, int]]) -> bool:
    """Whether UserKnownHostsFile may name a file per login node (``%l``); an unknown client gets the
    shared file, which every version reads."""
    return version is not None and version >= KNOWN_HOSTS_TOKENS


def run(argv: List[str], timeout: float = SSH_TIMEOUT) -> Optional[subprocess.CompletedProcess]:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None


def ssh_g(argv: List[str]) -> "tuple[Optional[dict], str]":
    done = run(argv)
    if done is None:
        return None, "ssh -G did not run"
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return None, lines[0] if lines else f"ssh -G exited with status {done.returncode}"
    values: dict = {}
    for line in done.stdout.splitlines():
        key, _, val = line.partition(" ")
        values.setdefault(key.lower(), val)
    return values, ""


def default_config() -> Path:
    """The ssh config file ssh reads without -F: ~/.ssh/config of the home in the password database, never
    $HOME's (KeyError when this uid has no entry)."""
    return Path(pwd.getpwuid(os.geteuid()).pw_dir) / ".ssh" / "config"


def hop_config(config: Path) -> Optional[str]:
    """The ssh config file the hop (--via) must read: the one we write, when it is not the one ssh reads by
    default (`default_config`); -F would also make it skip /etc/ssh/ssh_config, so the default file is never
    named."""
    return None if config.absolute() == default_config() else str(config.absolute())
