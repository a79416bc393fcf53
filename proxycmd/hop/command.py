"""Run one command on the access point through the user's ssh, whatever their login shell is.

    from proxycmd.hop import run
    done = run("ap1", ["condor_q", "-json"])          # subprocess.CompletedProcess, text output
    done.returncode, done.stdout, done.stderr

*argv* reaches the AP's program word for word (quoted for /bin/sh, carried past the login shell as printf
escapes: see `remote.login_line`).  Exit status 255 is ssh's own: DEST could not be reached; 127: the
program is not on the AP's PATH.  *batch* adds BatchMode=yes (no password or 2FA prompt: fail instead).
Nothing is raised for a failing command; OSError and a timeout become ProxyError.
"""

from __future__ import annotations

import subprocess

from ..errors import ProxyError
from . import remote
from .backend import check_dest, ssh_argv

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Sequence


def run(dest: str, argv: Sequence[str], *, config: Optional[str] = None, batch: bool = False,
        timeout: float = 120.0, input: Optional[str] = None) -> subprocess.CompletedProcess:
    line = remote.login_line(remote.command_script(argv))
    full = ssh_argv(check_dest(dest), line, config=config, batch=batch)
    try:
        return subprocess.run(full, input=input, stdin=None if input is not None else subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ProxyError(f"{argv[0]} on {dest} did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise ProxyError(f"cannot run {full[0]} to reach {dest}: {exc.strerror or exc}") from None
