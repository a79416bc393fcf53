"""Where and how the agent writes the known_hosts file ssh reads: this host's own, or one shared by nodes.

The registry decides WHICH lines are live (and in what order); this module only puts them on disk.

- ``PrivateFile``: OpenSSH 8.4 and newer expand ``%l`` in UserKnownHostsFile, so each login node reads
  its own file in its per-host directory, and the agent simply replaces it (``write_lines``).
- ``SharedFile``: older clients (EL8's 8.0) read one file for every node that shares the home.  Each
  line carries a comment naming the node that wrote it and when it expires,
  ``<host> <type> <base64> cjp:<node>:<unix time>`` (ssh ignores a known_hosts comment).  A node's agent
  rewrites only its own lines: under an fcntl lock (POSIX record locks, which an NFS client takes on the
  server, unlike flock on some systems) it reads the file, keeps the other nodes' lines that have not
  expired, adds its own, and renames a new file into place.  A node whose agent died (SIGKILL, a reboot)
  leaves lines that go when their time passes: the same bounded host-key lifetime the registry applies.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import List, Sequence, Tuple

log = logging.getLogger("proxycmd.agent")

TAG = "cjp"
LOCK_WAIT = 5.0  # seconds to wait for another node's merge; then merge anyway (a lost line beats a refusal)
_LOCK_POLL = 0.02

_PLAIN_HOST = re.compile(r"\[?[A-Za-z0-9][A-Za-z0-9_.:-]*(?:\]:[0-9]{1,5})?")  # no patterns, lists or @markers
Entry = Tuple[str, float]  # (``<host> <type> <base64>``, when it expires, time.monotonic())


def write_lines(path: Path, lines: Sequence[str]) -> None:
    """Replace *path* atomically with *lines*: a new 0600 file in the same directory, then rename."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(temp, flags, 0o600)
    except FileExistsError:  # left by a crashed agent that had our pid
        os.unlink(temp)
        fd = os.open(temp, flags, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.writelines(f"{line}\n" for line in lines)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


class PrivateFile:
    """This host's own known_hosts: exactly the registry's lines."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, entries: Sequence[Entry]) -> None:
        write_lines(self.path, [line for line, _ in entries])


def tagged(line: str, node: str, expires: float) -> str:
    return f"{line} {TAG}:{node}:{int(expires)}"


def _parse(raw: str) -> "Tuple[str, float] | None":
    """(node, expiry) of one tagged line; None for anything else (an earlier version's untagged line)."""
    fields = raw.split()
    if len(fields) != 4 or not fields[3].startswith(TAG + ":") or not _PLAIN_HOST.fullmatch(fields[0]):
        return None
    node, _, expires = fields[3][len(TAG) + 1:].rpartition(":")
    if not node or not expires.isdigit():
        return None
    return node, float(expires)


def merge(existing: str, node: str, ours: Sequence[str], now: float) -> List[str]:
    """Pure: the shared file's new lines.  *ours* are this node's tagged lines (they replace every line of
    *node*); other nodes' tagged lines stay while their time (wall clock *now*) has not passed."""
    kept = []
    for raw in existing.splitlines():
        found = _parse(raw)
        if found is not None and found[0] != node and found[1] > now:
            kept.append(raw.strip())
    return list(ours) + kept


class SharedFile:
    """The one known_hosts file that every login node sharing the home reads (OpenSSH before 8.4)."""

    def __init__(self, path: Path, lock: Path, node: str) -> None:
        self.path = path
        self.lock = lock
        self.node = node

    def write(self, entries: Sequence[Entry]) -> None:
        wall, mono = time.time(), time.monotonic()
        ours = [tagged(line, self.node, wall + (expires - mono)) for line, expires in entries]
        fd = os.open(self.lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            if not _lock(fd):
                log.warning("%s stayed locked for %g s (another node's agent, or no NFS lock service): "
                            "merging without the lock", self.lock, LOCK_WAIT)
            try:
                with open(self.path, encoding="ascii", errors="replace") as handle:
                    existing = handle.read()
            except FileNotFoundError:
                existing = ""
            write_lines(self.path, merge(existing, self.node, ours, time.time()))
        finally:
            os.close(fd)  # releases the lock


def _lock(fd: int) -> bool:
    """Take an exclusive fcntl lock on *fd*, waiting up to LOCK_WAIT; False when it could not be had."""
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except (BlockingIOError, PermissionError):  # EAGAIN / EACCES: held by someone else
            pass
        except OSError:  # ENOLCK: the file system offers no locks at all
            return False
        if time.monotonic() >= deadline:
            return False
        time.sleep(_LOCK_POLL)
