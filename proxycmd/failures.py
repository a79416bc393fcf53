"""The proxy's failures: said to ssh itself, and the last one per host kept for `condor-job-ssh doctor`.

A record is a small JSON file (time, host, sentence) under the state directory, named by a hash of the
host name, written atomically without following symbolic links; only the newest few, from the last week,
are kept.  Keys never appear in a sentence, so none reach these files.
"""

from __future__ import annotations

import json
import os
import stat
import time

from .errors import ProxyError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from pathlib import Path
    from typing import List, Optional

KEEP = 20  # records
MAX_AGE = 7 * 24 * 3600.0  # seconds
_SUFFIX = ".json"


def report(sentence: str, host: Optional[str]) -> bool:
    """Record *sentence* for *host* (when known), then tell the SSH client on our stdio; whether one was
    told."""
    if host:
        try:
            record(host, sentence)
        except (OSError, ValueError, ProxyError):
            pass  # a record for doctor must never stand between the user and the sentence
    from .disconnect import tell_ssh

    return tell_ssh(sentence)


def _name(host: str) -> str:
    import hashlib

    return hashlib.sha256(host.encode("utf-8", "surrogateescape")).hexdigest()[:24] + _SUFFIX


def _directory(create: bool) -> Path:
    from . import paths

    where = paths.failures_dir()
    if create:
        os.makedirs(where.parent, mode=0o700, exist_ok=True)
        paths.make_private_dir(where)
    else:
        paths.check_private_dir(where)
    return where


def record(host: str, sentence: str, now: Optional[float] = None, directory: Optional[Path] = None) -> None:
    """Keep *sentence* as the last failure of *host* (atomically: a temporary file, then rename)."""
    where = directory if directory is not None else _directory(create=True)
    data = json.dumps({"time": time.time() if now is None else now, "host": host, "sentence": sentence})
    name = _name(host)
    tmp = where / f".{name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(data + "\n")
        os.replace(tmp, where / name)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _prune(where, time.time() if now is None else now)


def _read(path: Path) -> Optional[dict]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_size > 65536:
            return None
        raw = os.read(fd, 65536)
    finally:
        os.close(fd)
    try:
        item = json.loads(raw.decode("utf-8"))
        return item if isinstance(item, dict) and {"time", "host", "sentence"} <= item.keys() else None
    except (UnicodeDecodeError, ValueError):
        return None


def _entries(where: Path) -> List[tuple]:
    out = []
    for entry in os.scandir(where):
        if entry.name.endswith(_SUFFIX):
            item = _read(where / entry.name)
            if item is not None and isinstance(item["time"], (int, float)):
                out.append((float(item["time"]), entry.name, item))
    return sorted(out, reverse=True)


def _prune(where: Path, now: float) -> None:
    for i, (when, name, _) in enumerate(_entries(where)):
        if i >= KEEP or now - when > MAX_AGE:
            try:
                os.unlink(where / name)
            except OSError:
                pass
    for entry in os.scandir(where):  # temporary files a killed proxy left
        if entry.name.endswith(".tmp"):
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime > 60:
                    os.unlink(where / entry.name)
            except OSError:
                pass


def recent(now: Optional[float] = None, directory: Optional[Path] = None, limit: int = 5) -> List[dict]:
    """The newest failures of the last week, newest first (empty when none were recorded)."""
    now = time.time() if now is None else now
    try:
        where = directory if directory is not None else _directory(create=False)
        items = [item for when, _, item in _entries(where) if now - when <= MAX_AGE]
    except (OSError, ValueError, ProxyError):
        return []
    return items[:limit]
