"""What one `doctor` check returns: its name, a state (ok, warn, fail), a detail and, unless ok, a fix.

Its own module, in proxycmd, so that doctor's checks (sshconfig) and each backend's own checks (a backend's
``checks()``) all import it, and proxycmd never imports sshconfig.
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
