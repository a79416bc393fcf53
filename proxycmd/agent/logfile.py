"""agent.log with a bound: a busy or hostile peer (a job looping on a forwarded agent) makes a line per
request, and the agent runs for days.

The agent's stderr is agent.log (client.py starts it so, appending).  `BoundedLog` writes each record there
and, once the file is past LIMIT bytes, renames it to agent.log.1 (replacing the one before) and goes on in
a fresh agent.log, so the two never hold much more than twice LIMIT.  A stderr that is not that file (a
terminal: `condor-job-proxy agent` in the foreground) is written as it is.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

LIMIT = 1 << 20  # bytes per file; agent.log and agent.log.1 hold at most about twice this


class BoundedLog(logging.StreamHandler):
    """A handler on stderr that keeps the log file at *path*, when stderr is that file, under *limit*."""

    def __init__(self, path: Path, limit: int = LIMIT) -> None:
        super().__init__(sys.stderr)
        self.path, self.limit = path, limit
        self.bounded = _same_file(2, path)

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)  # written and flushed to fd 2
        if not self.bounded:
            return
        try:
            if os.fstat(2).st_size > self.limit:
                self._rotate()
        except OSError:
            pass

    def _rotate(self) -> None:
        """agent.log -> agent.log.1 and a new agent.log on fd 2; when the path no longer names our file
        (moved away), the file fd 2 writes is emptied instead."""
        if not _same_file(2, self.path):
            os.ftruncate(2, 0)
            return
        os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        try:
            os.dup2(fd, 2)
        finally:
            os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        st, there = os.fstat(fd), os.lstat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (there.st_dev, there.st_ino)
