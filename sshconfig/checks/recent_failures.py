"""The `doctor` row that shows the proxy's recent failures (recorded by proxycmd/failures.py).

Without a terminal (VS Code, scripts, cron) the sentence reached only ssh's stderr; here the user finds it
again, with the time and the host name, one failure per line.  Only the records of the places the settings
reach are shown (a demo's pool is not the user's), and a record older than the job now holding its id
(a pool that was stopped and started again, a new job 1.0) is dropped.
"""

from __future__ import annotations

import re
import time
from typing import Callable, Dict, Optional, Set

from proxycmd import failures, hostname
from proxycmd.checkresult import OK, WARN, Check

RECENT = 24 * 3600.0  # failures of the last day make a warning; older ones of the week are only listed
_COMMAND = re.compile(r"(?P<head>.*\bwith: )(?P<command>[^()`]+?)(?P<tail>\)?)$")


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
    """A recorded field as one printable line without backticks (a malformed host name may hold anything)."""
    text = str(value).replace("`", "'")
    return " ".join("".join(c if c.isprintable() else "?" for c in text).split())


def _with_command(sentence: str) -> str:
    """The sentence with the command it ends in (`... with: condor_release 3.0`) marked, so that the table
    prints it whole on a line of its own."""
    found = _COMMAND.match(sentence)
    if not found or " " not in found.group("command").strip():
        return sentence
    head = found.group("head")
    if found.group("tail"):  # "... (list them with: CMD)": the command last, outside the parenthesis
        opened = head.rfind(" (")
        if opened >= 0:
            head = f"{head[:opened]}; {head[opened + 2:]}"
    return f"{head}`{found.group('command').strip()}`"


def places(settings) -> Set[str]:
    """Every `where_key` the managed block's ProxyCommands use: the main suffix and each route."""
    if settings.sim_root:
        return {failures.where_key(sim_root=settings.sim_root)}
    via = settings.via
    out = {failures.where_key(via=via, schedd=settings.schedd, pool=settings.pool)}
    out |= {failures.where_key(via=via, schedd=route.schedd, pool=route.pool) for route in settings.routes}
    return out


def _job_id(host: object, suffix: str) -> Optional[str]:
    try:
        addr = hostname.parse(str(host), [suffix])
    except hostname.HostnameError:
        return None
    return None if addr.profile or addr.schedd else f"{addr.cluster}.{addr.proc}"


def check_recent_failures(now: Optional[float] = None, settings=None,
                          jobs: Optional[Callable[[], Dict[str, float]]] = None) -> Check:
    now = time.time() if now is None else now
    wanted = places(settings) if settings is not None else None
    items = failures.recent(now=now, limit=failures.KEEP, places=wanted)
    if items and jobs is not None:
        current = jobs()
        kept = []
        for item in items:
            job = _job_id(item["host"], settings.suffix if settings is not None else "job.condor")
            if job in current and current[job] > float(item["time"]):
                failures.forget(item)  # about an earlier job with this id
            else:
                kept.append(item)
        items = kept
    items = items[:3]
    if not items:
        return Check("recent failures", OK, "none recorded in the last week")
    shown = "\n".join(f"{_printable(item['host'])} ({_ago(now - item['time'])}): "
                      f"{_with_command(_printable(item['sentence']))}" for item in items)
    state = WARN if now - items[0]["time"] <= RECENT else OK
    return Check("recent failures", state, shown,
                 "each line says what to do; connect again once it is done (these records go after a week)")
