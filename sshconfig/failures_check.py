"""The `doctor` line that shows the proxy's recent failures (recorded by proxycmd/failures.py).

Without a terminal (VS Code, scripts, cron) the sentence reached only ssh's stderr; here the user finds it
again, with the time and the host name.
"""

from __future__ import annotations

import time
from typing import Optional

from proxycmd import failures

from .checkresult import OK, WARN, Check

RECENT = 24 * 3600.0  # failures of the last day make a warning; older ones of the week are only listed


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _printable(value: object) -> str:
    """A recorded field as one printable line (a malformed host name may hold anything)."""
    text = str(value)
    return " ".join("".join(c if c.isprintable() else "?" for c in text).split())


def check_recent_failures(now: Optional[float] = None) -> Check:
    now = time.time() if now is None else now
    items = failures.recent(now=now, limit=3)
    if not items:
        return Check("recent failures", OK, "none recorded in the last week")
    shown = "; ".join(f"{_printable(item['host'])} ({_ago(now - item['time'])}): {_printable(item['sentence'])}"
                      for item in items)
    state = WARN if now - items[0]["time"] <= RECENT else OK
    return Check("recent failures", state, shown,
                 "each line says what to do; connect again once it is done (these records go after a week)")
