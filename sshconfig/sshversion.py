"""The OpenSSH client's version, from `ssh -V`, and what the block may rely on because of it."""

from __future__ import annotations

import re
import subprocess
from typing import Optional, Tuple

_VERSION = re.compile(r"OpenSSH_(\d+)\.(\d+)(p\d+)?")
# UserKnownHostsFile expands %-tokens from OpenSSH 8.4 on (ssh.c, the user_hostfiles loop); 8.0 expands them
# only in IdentityAgent, ControlPath and the like.
KNOWN_HOSTS_TOKENS = (8, 4)


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
