"""Finding HTCondor's condor_ssh_to_job and our dialer, the tool's command line, and condor_rm.

condor_ssh_to_job does the pool's part (schedd, claim session, starter, key exchange), then runs an "ssh
program" with the session's options (docs/design-facts.md: "How condor_ssh_to_job opens a session, step by step").  We give it our dialer as that program::

    condor_ssh_to_job -ssh <dialer> [-name S] [-pool P] [-keygen-options O] [-shells A,B] JOB

The conversation with the dialer is dialer_handoff.py's; running the tool, run.py's.
"""

from __future__ import annotations

import os

from ...condorargs import ssh_to_job_words
from ...errors import ProxyError

# On every connection's path: no typing, dataclasses, re or shutil at module level (each costs
# milliseconds per connection).  Imports inside functions are on purpose: each is loaded only on the path
# that needs it (named where it is not obvious).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Mapping, Optional, Sequence

TOOL = "condor_ssh_to_job"
TOOL_ENV = "CONDOR_SSH_TO_JOB"  # the tool to run, when not the one on PATH
# the marks of our own scripts (console-script wrappers); sshconfig.classic stays for installs made before
# the classic shim moved to sshconfig.commands.classic
_OUR_SCRIPTS = (b"sshconfig.classic", b"sshconfig.commands.classic", b"proxycmd.cli", b"sshconfig.cli")


class ToolError(ProxyError):
    """condor_ssh_to_job or the dialer cannot be used; str() is one line that says what to do."""


# ----- finding the tool and the dialer ---------------------------------------------------------------------
# ----- finding the tool and the dialer ---------------------------------------------------------------------
def is_ours(path: str) -> bool:
    """True when *path* is one of our own scripts (the classic shim, say) rather than HTCondor's tool."""
    if os.path.basename(os.path.realpath(path)) == "condor-ssh-to-job":
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return head.startswith(b"#!") and any(mark in head for mark in _OUR_SCRIPTS)


def _usable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _unsafe(path: str) -> bool:
    """Whether condor_ssh_to_job cannot pass *path* on to its ssh program intact: it parses the program
    path again (whitespace and quotes split it) and expands '%' in it."""
    return any(c.isspace() or c in "'\"%" for c in path)


def _which(name: str, path: str) -> Optional[str]:
    """The first executable *name* in an absolute directory of *path* (shutil.which without shutil's import
    cost).  An empty or relative entry would be the directory ssh runs in (/tmp, a shared project): a
    condor_ssh_to_job of another user's there would run as the user on every connection, so it is skipped."""
    for directory in path.split(os.pathsep):
        if not os.path.isabs(directory):
            continue
        candidate = os.path.join(directory, name)
        if _usable(candidate):
            return candidate
    return None


def _from_config() -> Optional[str]:
    """condor_ssh_to_job in HTCondor's BIN directory, asking the bindings (costs their import: only used
    when PATH has no condor_ssh_to_job)."""
    try:
        from ...bindings import load

        bin_dir = load().param.get("BIN")
    except Exception:  # noqa: BLE001 - no bindings or no configuration: nothing to find here
        return None
    candidate = os.path.join(bin_dir, TOOL) if bin_dir else None
    return candidate if candidate and _usable(candidate) else None


def find_tool(env: Optional[Mapping[str, str]] = None) -> str:
    """HTCondor's condor_ssh_to_job: $CONDOR_SSH_TO_JOB, else PATH, else HTCondor's BIN; never ours."""
    env = os.environ if env is None else env
    explicit = env.get(TOOL_ENV)
    if explicit:
        if not os.path.isabs(explicit) or not _usable(explicit):
            raise ToolError(f"{TOOL_ENV}={explicit!r} is not an executable file given by its absolute path")
        candidates = [explicit]
    else:
        candidates = [c for c in (_which(TOOL, env.get("PATH", os.defpath)),) if c]
        if not candidates:
            candidates = [c for c in (_from_config(),) if c]
    for candidate in candidates:
        if is_ours(candidate):
            raise ToolError(f"{candidate} is condor-job-proxy's own classic shim, not HTCondor's {TOOL}; "
                            f"remove that link, or set {TOOL_ENV} to HTCondor's tool")
        return os.path.abspath(candidate)
    raise ToolError(f"cannot find HTCondor's {TOOL} on PATH or in HTCondor's BIN directory; install HTCondor's "
                    f"tools, add them to PATH, or set {TOOL_ENV} to the tool's path")


def find_dialer() -> str:
    from ...dialer import NAME, find

    found = find()
    if found is None:
        raise ToolError(f"cannot find {NAME} (it ships with condor-job-proxy); reinstall condor-job-proxy")
    if _unsafe(found):
        raise ToolError(f"{found} has a blank, quote or '%' in its path, which {TOOL} cannot pass on; install "
                        "condor-job-proxy under a plain path")
    return found


def condor_rm(job_id: str, *, schedd: Optional[str] = None, pool: Optional[str] = None, reason: str = "",
              tool: Optional[str] = None, timeout: float = 120.0) -> None:
    """Remove a job with HTCondor's condor_rm (beside condor_ssh_to_job, else on PATH), as the classic tool's
    -remove-on-interrupt does; ProxyError with condor_rm's own words when it fails."""
    import shutil

    beside = os.path.join(os.path.dirname(tool), "condor_rm") if tool else ""
    program = beside if beside and _usable(beside) else shutil.which("condor_rm")
    if not program:
        raise ProxyError(f"cannot remove job {job_id}: HTCondor's condor_rm is not on PATH")
    import subprocess

    from ... import bounded

    argv = [program] + (["-name", schedd] if schedd else []) + (["-pool", pool] if pool else [])
    argv += (["-reason", reason] if reason else []) + [job_id]
    try:
        code, out, err = bounded.run(argv, timeout=timeout, max_output=bounded.KEEP)
    except (OSError, subprocess.TimeoutExpired, bounded.TooMuchOutput) as exc:
        raise ProxyError(f"cannot remove job {job_id}: condor_rm failed ({exc})") from None
    if code != 0:
        said = " ".join((err or out.decode("utf-8", "replace")).split()) or f"exit status {code}"
        raise ProxyError(f"cannot remove job {job_id}: {said}")


# ----- the tool's command line -------------------------------------------------------------------------
def tool_argv(tool: str, dialer: str, job_id: str, *, schedd: Optional[str] = None, pool: Optional[str] = None,
              keygen_options: Sequence[str] = (), shells: Sequence[str] = ()) -> List[str]:
    return [tool] + ssh_to_job_words(dialer, job_id, schedd=schedd, pool=pool, keygen_options=keygen_options,
                                     shells=shells)
