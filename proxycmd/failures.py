"""The proxy's failures: said to ssh itself, and the last one per host kept for `condor-job-ssh doctor`.

A record is a small JSON file (time, where, host, sentence) under the state directory, named by a hash of
where the job is and the host name, written atomically without following symbolic links; only the newest
few, from the last week, are kept.  Keys never appear in a sentence, so none reach these files.

*where* (`where_key`) names the pool the proxy asked: a simulated pool's root, the access point of the
laptop path, or HTCondor with the schedd and pool it was told.  So a demo's job 1.0 and a real job 1.0 never
share a record, and `doctor` shows only the records of the places its settings reach.
"""

from __future__ import annotations

import json
import os
import stat
import time

from . import safefs
from .errors import ProxyError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from pathlib import Path
    from typing import List, Optional, Set

KEEP = 20  # records
MAX_AGE = 7 * 24 * 3600.0  # seconds
MAX_RECORD = 64 * 1024  # bytes of one record at most: its sentence, host and place are cut to fit (`_fields`)
_SUFFIX = ".json"


def where_key(*, sim_root: Optional[str] = None, via: Optional[str] = None, schedd: Optional[str] = None,
              pool: Optional[str] = None) -> str:
    """Where a job is looked for, as one string (the same for the proxy's options and for the settings
    that wrote them)."""
    if sim_root:
        return "sim " + os.path.abspath(os.path.expanduser(sim_root))
    head = f"via {via}" if via else "condor"
    return head + (f" schedd {schedd}" if schedd else "") + (f" pool {pool}" if pool else "")


def report(sentence: str, host: Optional[str], where: str = "") -> bool:
    """Record *sentence* for *host* (when known) at *where*, then tell the SSH client on our stdio; whether
    one was told."""
    if host:
        try:
            record(host, sentence, where=where)
        except (OSError, ValueError, ProxyError):
            pass  # a record for doctor must never stand between the user and the sentence
    from .disconnect import tell_ssh

    return tell_ssh(sentence)


def _name(host: str, where: str) -> str:
    import hashlib

    key = f"{where}\0{host}".encode("utf-8", "surrogateescape")
    return hashlib.sha256(key).hexdigest()[:24] + _SUFFIX


def _directory(create: bool) -> Path:
    from . import paths

    return paths.state_subdir(paths.failures_dir().name, create=create)  # the safe-chain rule, as for locks


def record(host: str, sentence: str, now: Optional[float] = None, directory: Optional[Path] = None,
           where: str = "") -> None:
    """Keep *sentence* as the last failure of *host* at *where* (atomically: a temporary file, then rename)."""
    place = where
    where = directory if directory is not None else _directory(create=True)
    fields = _fields(place, host, sentence)
    name = _name(fields["host"], fields["where"])  # as `forget` finds it from what the record holds
    data = json.dumps({"time": time.time() if now is None else now, **fields})
    safefs.write_atomic(where / name, (data + "\n").encode("utf-8"))
    _prune(where, time.time() if now is None else now)


def _fields(place: str, host: str, sentence: str) -> dict:
    """The record's texts, cut so that the record stays below MAX_RECORD bytes whatever they hold (json
    writes one character as at most 12 bytes: a surrogate pair of \\uXXXX)."""
    return {"where": place[:1024], "host": host[:1024], "sentence": sentence[:2048]}


def _read(path: Path) -> Optional[dict]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_size > MAX_RECORD:
            return None
        raw = os.read(fd, MAX_RECORD)
    finally:
        os.close(fd)
    try:
        item = json.loads(raw.decode("utf-8"))
        return item if isinstance(item, dict) and {"time", "host", "sentence"} <= item.keys() else None
    except (UnicodeDecodeError, ValueError):
        return None


def _entries(where: Path, unusable: Optional[List[str]] = None) -> List[tuple]:
    """The records in *where*, newest first; the names of files there that are no record of ours (too big,
    not JSON, a link...) are added to *unusable*."""
    out = []
    for entry in os.scandir(where):
        if entry.name.endswith(_SUFFIX):
            item = _read(where / entry.name)
            if item is not None and isinstance(item["time"], (int, float)):
                out.append((float(item["time"]), entry.name, item))
            elif unusable is not None:
                unusable.append(entry.name)
    return sorted(out, reverse=True)


def _prune(where: Path, now: float) -> None:
    """Keep the KEEP newest records of the last week; remove every other file named as a record, a record
    no one can read included (records are renamed into place whole, so none is half-written)."""
    unusable: List[str] = []
    old = [name for i, (when, name, _) in enumerate(_entries(where, unusable)) if i >= KEEP or now - when > MAX_AGE]
    for name in old + unusable:
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


def recent(now: Optional[float] = None, directory: Optional[Path] = None, limit: int = 5,
           places: Optional[Set[str]] = None) -> List[dict]:
    """The newest failures of the last week, newest first (empty when none were recorded); only those at
    one of *places* (`where_key`) when given."""
    now = time.time() if now is None else now
    try:
        where = directory if directory is not None else _directory(create=False)
        items = [item for when, _, item in _entries(where) if now - when <= MAX_AGE
                 and (places is None or item.get("where") in places)]
    except (OSError, ValueError, ProxyError):
        return []
    return items[:limit]


def forget(item: dict, directory: Optional[Path] = None) -> None:
    """Remove the record *item* (one `recent` returned): the job it names is gone, a newer one has its id."""
    try:
        where = directory if directory is not None else _directory(create=False)
        os.unlink(where / _name(str(item["host"]), str(item.get("where", ""))))
    except (OSError, ValueError, ProxyError, KeyError):
        pass
