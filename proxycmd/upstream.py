"""Where the user's own ssh-agent is, for `ForwardAgent`.

`IdentityAgent` makes ssh overwrite SSH_AUTH_SOCK in its own environment (and so in ours) with our
agent's socket before it forwards an agent, so the user's agent can only be found in the environment the
ssh process started with: /proc/PID/environ on Linux, `ps -E` on macOS.
"""

from __future__ import annotations

import os
import stat
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

VARIABLE = b"SSH_AUTH_SOCK="


def _start_environment(pid: int) -> bytes:
    if sys.platform.startswith("linux"):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                return f.read().replace(b"\0", b"\n")
        except OSError:
            return b""
    import subprocess

    try:  # macOS and the BSDs: the command line followed by the environment, for our own processes
        done = subprocess.run(["ps", "-wwwE", "-o", "command=", "-p", str(pid)], capture_output=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return b""
    return done.stdout.replace(b" ", b"\n")


def user_agent_socket(pid: int, ours: str) -> "Optional[str]":
    """The SSH_AUTH_SOCK the ssh process *pid* started with, when it is a socket of ours and not our agent."""
    for line in _start_environment(pid).splitlines():
        if line.startswith(VARIABLE):
            path = os.fsdecode(line[len(VARIABLE):])
            if not os.path.isabs(path) or os.path.realpath(path) == os.path.realpath(ours):
                return None
            try:
                st = os.stat(path)
            except OSError:
                return None
            return path if stat.S_ISSOCK(st.st_mode) and st.st_uid == os.getuid() else None
    return None
