"""What `condor-job-ssh doctor` shows about HTCondor on this machine (CondorBackend.checks): condor_ssh_to_job
and our dialer, and the schedd through the bindings.

Why the schedd is only a warning: a connection never needs the bindings to reach the schedd --
condor_ssh_to_job finds the job itself.  Only `sync` (listing jobs) and the precise wording of some
refusals ("idle", "has completed") need it.
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import List, Optional

from ...checkresult import FAIL, OK, WARN, Check
from ...ourcommands import command_word
from . import queue, tool

NAME = "condor_ssh_to_job"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def condor_version(path: str) -> str:
    """The HTCondor version of the tool at *path*: its embedded $CondorVersion$ string, else `condor_version`
    beside it."""
    pattern = re.compile(rb"\$CondorVersion: (\S+)")
    try:
        with open(path, "rb") as f:
            data = f.read(64 << 20)
        found = pattern.search(data)
        if found:
            return found.group(1).decode("ascii", "replace")
    except OSError:
        pass
    beside = os.path.join(os.path.dirname(path), "condor_version")
    done = None
    if os.access(beside, os.X_OK):
        try:
            done = subprocess.run([beside], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10.0)
        except (OSError, subprocess.TimeoutExpired):
            done = None
    found = re.search(r"\$CondorVersion: (\S+)", done.stdout) if done is not None else None
    return found.group(1) if found else "version unknown"


def _tool_fix() -> str:
    return f"install HTCondor's tools and put them on PATH, or set {tool.TOOL_ENV} to condor_ssh_to_job's path"


def tool_check() -> Check:
    """condor_ssh_to_job and our dialer are there (with the tool's HTCondor version)."""
    try:
        found = tool.find_tool()
        dialer = tool.find_dialer()
    except tool.ToolError as exc:
        return Check(NAME, FAIL, str(exc), _tool_fix())
    return Check(NAME, OK, f"{found} (HTCondor {condor_version(found)}); dialer {dialer}")


def quick_checks() -> List[Check]:
    """Only what needs no pool (setup's warnings): a row when condor_ssh_to_job cannot be found."""
    try:
        tool.find_tool()
    except tool.ToolError as exc:
        return [Check(NAME, FAIL, str(exc), _tool_fix())]
    return []


def schedd_check(schedd: Optional[str], pool: Optional[str]) -> Check:
    """The schedd answers through the bindings (a warning when not: connections still work)."""
    where = (f"schedd {schedd}" if schedd else "the local schedd") + (f" in pool {pool}" if pool else "")
    name = "schedd"
    try:
        total, running = queue.Queue(schedd, pool).count(queue.current_user())
    except queue.LookupUnavailable as exc:
        return Check(name, WARN, f"{exc}",
                     "connections still work (condor_ssh_to_job asks the schedd itself), but `sync` cannot list "
                     "jobs and refusals are less precise: check that `condor_q` works here, or name the schedd "
                     f"with: `{command_word('condor-job-ssh')} setup --schedd NAME --pool HOST`")
    return Check(name, OK, f"{where} answers: {_plural(total, 'job')} of yours, {running} running")
