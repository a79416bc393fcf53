"""What one `doctor` check returns: its name, a state (ok, warn, fail), a detail and, unless ok, a fix.

Its own module so that doctor.py and the checks that live beside what they check (failures_check,
hopsetup, profiles/check) all import it, and none of them imports another.
"""

from __future__ import annotations

from dataclasses import dataclass

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Check:
    name: str
    state: str
    detail: str
    fix: str = ""
