"""The classic shim's per-run key directories: named for their owner process, swept when it is gone.

`condor-ssh-to-job` writes each session's private key into a fresh directory under the private
``<runtime dir>/classic/`` and removes it when ssh exits; a SIGKILL skips that.  So each directory is named
``<pid>-<start token>`` (both base 36, at most 14 characters: the fdpass socket inside must stay under the
unix socket path limit, see proxycmd.paths), and every run first removes the directories of ours whose
process is gone.  Only real directories (never symlinks) of our uid with such a name are touched, and
they are removed without following any symlink inside (shutil.rmtree works by file descriptor on Linux).

The runtime directory may be a home that several login nodes share, and a process alive on another node is
gone here.  So a directory is removed only once it is GRACE seconds old: by then its run has long taken its
one connection and logged in (ssh reads the key and known_hosts once, when it authenticates), so nothing
needs it any more, wherever its process runs.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import time
from pathlib import Path
from typing import Optional, Tuple

from proxycmd.safefs import pid_alive, start_token

_NAME = re.compile(r"([0-9a-z]{1,7})-([0-9a-z]{1,9})\Z")
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
GRACE = 600.0  # seconds: a run takes its connection and logs in within seconds


def _base36(number: int) -> str:
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = _DIGITS[digit] + out
        if not number:
            return out


def dir_name(pid: int, token: Optional[str]) -> str:
    """The name of the directory process *pid* (start token *token*, None where unknown) owns."""
    return f"{_base36(pid)}-{_base36(int(token)) if token and token.isdigit() else '0'}"


def owner_of(name: str) -> Optional[Tuple[int, Optional[str]]]:
    """(pid, start token) encoded in *name*, or None when it is not such a name."""
    match = _NAME.match(name)
    if not match:
        return None
    token = int(match.group(2), 36)
    return int(match.group(1), 36), (str(token) if token else None)


def own_name() -> str:
    return dir_name(os.getpid(), start_token(os.getpid()))


def sweep(parent: Path) -> int:
    """Remove the directories in *parent* whose owner process is gone and that are GRACE seconds old (and
    any leftover of our own pid, which cannot be in use yet); return how many went."""
    me, now = os.getpid(), time.time()
    removed = 0
    try:
        names = os.listdir(parent)
    except OSError:
        return 0
    for name in names:
        owner = owner_of(name)
        if owner is None:
            continue
        pid, token = owner
        if pid != me and pid_alive(pid, token):
            continue
        path = parent / name
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():  # a symlink, a file, not ours: leave it
            continue
        if pid != me and now - st.st_mtime < GRACE:  # maybe a live run on another node sharing this home
            continue
        try:
            shutil.rmtree(path)
            removed += 1
        except OSError:
            pass
    return removed
