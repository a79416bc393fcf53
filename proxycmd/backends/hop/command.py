"""Run one command on the access point through the user's ssh, whatever their login shell is.

    from proxycmd.backends.hop import run
    done = run("ap1", ["condor_q", "-json"])          # subprocess.CompletedProcess, text output
    done.returncode, done.stdout, done.stderr

*argv* reaches the AP's program word for word (quoted for /bin/sh, carried past the login shell as printf
escapes: see `remote.login_line`).  Exit status 255 is ssh's own: DEST could not be reached; 127: the
program is not on the AP's PATH.  *batch* adds BatchMode=yes (no password or 2FA prompt: fail instead).
Nothing is raised for a failing command by `run`; OSError and a timeout become ProxyError.  `output`
returns the standard output of a command that succeeded, and one sentence (ProxyError) otherwise.

The hop uses the user's own ssh configuration for DEST (keys, ProxyJump, ControlMaster...), with only
what a byte pipe needs on top (`SSH_OPTIONS`): no terminal, no escape character, no agent or X11
forwarding, none of their port forwardings (a LocalForward of theirs would clash with their own session),
and no RemoteCommand or LocalCommand (one would replace our command, the other would write into the pipe).
"""

from __future__ import annotations

import os

from ...errors import ProxyError
from . import remote

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from typing import Callable, List, Optional, Sequence

SSH = "ssh"
SSH_OPTIONS = ["-T", "-a", "-x", "-e", "none", "-o", "ClearAllForwardings=yes", "-o", "RemoteCommand=none",
               "-o", "PermitLocalCommand=no"]
UNREACHABLE = 255  # ssh's own exit status when it cannot reach DEST
NOT_FOUND = 127  # the login shell's: no such program on the AP's PATH


def ssh_argv(dest: str, line: str, *, config: Optional[str] = None, batch: bool = False,
             extra: Sequence[str] = ()) -> List[str]:
    """``ssh [-F config] <our options> DEST <line>``; '--' keeps a DEST beginning with '-' from being an option."""
    argv = [os.environ.get("CONDOR_JOB_PROXY_SSH") or SSH]
    if config:
        argv += ["-F", config]
    argv += SSH_OPTIONS + list(extra)
    if batch:
        argv += ["-o", "BatchMode=yes"]
    return argv + ["--", dest, line]


def check_dest(dest: str) -> str:
    """DEST as given to `setup --via`: an ssh Host alias or user@host, nothing ssh could read as an option."""
    if not dest or dest.startswith("-") or not dest.isprintable() or any(c in dest for c in " \t'\"\\`$;&|<>()*?!#"):
        raise ProxyError(f"--via {dest!r} is not a host: give an ssh Host alias of yours or user@host")
    return dest


def run(dest: str, argv: Sequence[str], *, config: Optional[str] = None, batch: bool = False,
        timeout: float = 120.0, input: Optional[str] = None) -> subprocess.CompletedProcess:
    import subprocess

    from ... import bounded

    line = remote.login_line(remote.command_script(argv))
    full = ssh_argv(check_dest(dest), line, config=config, batch=batch)
    try:  # what the AP prints is read within bounds (a flood costs neither memory nor a screenful)
        code, out, err = bounded.run(full, input=None if input is None else input.encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ProxyError(f"{argv[0]} on {dest} did not finish within {timeout:g} s") from None
    except bounded.TooMuchOutput:
        raise ProxyError(f"{argv[0]} on {dest} printed more than {bounded.MAX_OUTPUT >> 20} MiB; giving up") from None
    except OSError as exc:
        raise ProxyError(f"cannot run {full[0]} to reach {dest}: {exc.strerror or exc}") from None
    return subprocess.CompletedProcess(full, code, out.decode("utf-8", "replace"), err)


def output(dest: str, argv: Sequence[str], what: str, *, config: Optional[str] = None, input: Optional[str] = None,
           runner: Optional[Callable] = None) -> str:
    """The standard output of *argv* run on *dest*; ProxyError "cannot <what>: <why>" when it failed.
    *runner* stands in for `run` (tests)."""
    done = (runner or run)(dest, list(argv), config=config, input=input)
    if done.returncode == UNREACHABLE:
        said = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
        raise ProxyError(f"cannot {what}: cannot reach the access point {dest} with ssh: {said}")
    if done.returncode == NOT_FOUND:
        raise ProxyError(f"cannot {what}: the access point {dest} has no {argv[0]} on PATH")
    if done.returncode != 0:
        said = " ".join((done.stderr or done.stdout).split()) or f"exit status {done.returncode}"
        raise ProxyError(f"cannot {what}: {argv[0]} on {dest} failed: {said}")
    return done.stdout
