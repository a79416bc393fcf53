"""What `condor-job-ssh remove` stops besides the block (issue 28, item 5): the shared connections the block
started (ControlMaster, one socket per job in the runtime directory, named by ssh's %C: 40 hex digits) and this
host's key agent.

A master is stopped with `ssh -O stop` on its own socket: it takes no new sessions and its socket goes at
once; one with no session left exits then, one that still carries a user's open shell (or an `ssh -L`) ends
with its last session -- never cut under the user.  Those are named with their pid: `kill PID` ends one now.
Only sockets in our runtime directory whose name is ssh's %C are touched, and ssh reads no config for it
(`-F none`).
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time
from pathlib import Path
from typing import List

from proxycmd import paths
from proxycmd.agent import client
from proxycmd.errors import ProxyError

CONTROL_NAME = re.compile(r"[0-9a-f]{40}")  # ssh's %C: the block's ControlPath in the runtime directory
WAIT = 3.0  # seconds an idle master takes to exit after `-O stop`


def master_sockets(rundir: Path) -> List[Path]:
    """The block's ControlMaster sockets in *rundir* (sockets we own, named as %C names them)."""
    found = []
    try:
        entries = list(os.scandir(rundir))
    except OSError:
        return []
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if CONTROL_NAME.fullmatch(entry.name) and stat.S_ISSOCK(st.st_mode) and st.st_uid == os.getuid():
            found.append(Path(entry.path))
    return sorted(found)


def master_pids(rundir: Path) -> List[int]:
    """Our ssh masters of *rundir*: a backgrounded master calls itself `ssh: <ControlPath> [mux]`."""
    title = re.compile(r"ssh: (/.*)/[0-9a-f]{40} \[mux\]")
    real = os.path.realpath(rundir)
    pids = []
    for name in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid != os.getuid():
                continue
            with open(f"/proc/{name}/cmdline", "rb") as f:
                line = f.read(4096).replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            continue
        match = title.fullmatch(line)
        if match and os.path.realpath(match.group(1)) == real:
            pids.append(int(name))
    return sorted(pids)


def _alive(pids: List[int]) -> List[int]:
    """Those of *pids* still running (a zombie is not: its parent has yet to reap it)."""
    alive = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(") ", 1)[1][:1] not in "ZX":
                    alive.append(pid)
        except (OSError, IndexError):
            pass
    return alive


def stop_masters(rundir: Path) -> List[str]:
    """Stop the block's shared connections; what to say (nothing when there were none)."""
    sockets = master_sockets(rundir)
    if not sockets:
        return []
    masters = master_pids(rundir)  # before: a stopped master calls itself `ssh: [stopped mux]`
    failed = []
    for sock in sockets:
        try:
            done = subprocess.run(["ssh", "-F", "none", "-o", f"ControlPath={sock}", "-O", "stop", "cjp-remove"],
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
            ok = done.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if not ok and sock.exists():
            failed.append(sock)
    deadline = time.monotonic() + WAIT
    while _alive(masters) and time.monotonic() < deadline:
        time.sleep(0.1)
    said = [f"Stopped {len(sockets) - len(failed)} shared connection{'s' if len(sockets) - len(failed) != 1 else ''} "
            "(ControlMaster) the block had started."] if len(sockets) > len(failed) else []
    busy = _alive(masters)
    if busy:
        pids = " ".join(str(pid) for pid in busy)
        said.append(f"{len(busy)} of them still carr{'ies' if len(busy) == 1 else 'y'} open sessions (pid {pids}) "
                    f"and end{'s' if len(busy) == 1 else ''} with the last of them; to end them now: kill {pids}")
    for sock in failed:
        said.append(f"A shared connection did not stop: {sock}; to end it: ssh -o ControlPath={sock} -O exit x")
    return said


def stop_agent(rundir: Path) -> List[str]:
    """Stop this host's key agent; what to say."""
    try:
        status = client.status(rundir)
        stopped = client.stop(rundir)
    except ProxyError as exc:
        return [f"The key agent at {paths.control_socket(rundir)} was not stopped: {exc}; "
                "`condor-job-ssh agent stop` tries again"]
    if not stopped:
        return []
    pid = f" (pid {status.get('pid')})" if status else ""
    return [f"Stopped the key agent{pid}."]


def stop_all(rundir: Path) -> List[str]:
    """The shared connections first (a master may still ask the agent), then the agent."""
    return stop_masters(rundir) + stop_agent(rundir)
