"""The values of settings: their checks, (where, key, value) -> the value (normalised) or SettingsError, and
the parsers of what the command line and config.toml say (routes, seconds).  options.py declares which check
each option takes; nothing here knows an option's flag or place in the block.
"""

from __future__ import annotations

import os
import re
import reprlib
import shlex
from dataclasses import dataclass
from typing import Any, List, Optional

from proxycmd.backends.hop.command import check_dest
from proxycmd.errors import ProxyError
from proxycmd.hostname import HostnameError, parse

# The largest number or time ssh_config takes (readconf.c parse_int: atoi_err's strtonum(0, INT_MAX); parse_time
# and ControlPersist: misc.c convtime, whose total must stay <= INT_MAX).  A larger one made every ssh command on
# the machine fail on the config ("invalid time value").
SSH_INT_MAX = 2 ** 31 - 1
PER_NODE_CHOICES = ("auto", "yes", "no")
_USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.@-]{0,63}\Z")
_PERSIST = re.compile(r"(yes|no|[0-9]+|([0-9]+[smhdwSMHDW])+)\Z")
_TIME_PART = re.compile(r"([0-9]+)([smhdwSMHDW]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NAME_BAD = re.compile(r"[\s'\"`$\\]|[^\x20-\x7e]")
_PATH_MAX = 4096  # bytes of a path (Linux's PATH_MAX): sim_root and runtime_dir go into every ProxyCommand
_KEYGEN_MAX = 1000  # characters of keygen_options, which go into every ProxyCommand too
_SIM_ONLY = "while --sim is on (the simulated pool answers alone): `condor-job-ssh setup --condor` uses it"


class SettingsError(ValueError):
    """A setting that cannot be used; str() is one line naming where it came from and the key."""


@dataclass(frozen=True)
class Route:
    """An extra host name suffix that reaches another schedd and/or pool."""

    suffix: str
    schedd: Optional[str] = None
    pool: Optional[str] = None


def _short_repr(value: Any, limit: int = 60) -> str:
    """repr(value), cut to *limit* characters: a hand-edited key or value may be a flood (reprlib never
    renders all of a huge one first)."""
    short = reprlib.Repr()
    short.maxstring = short.maxother = 2 * limit
    text = short.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def bad(where: str, key: str, value: Any, why: str) -> SettingsError:
    return SettingsError(f"{where}: bad value for {_short_repr(key)} ({_short_repr(value)}): {why}")


# ----- the value checks: (where, key, value) -> the value (normalised) or SettingsError -----------------
def check_suffix(where: str, key: str, value: str) -> str:
    try:
        parse(f"1.0.{value}", (value,))
    except HostnameError:
        raise bad(where, key, value, "a suffix is one or more DNS labels, such as job.condor") from None
    return value.strip(".").lower()


def check_name(where: str, key: str, value: Optional[str]) -> Optional[str]:
    if value is not None and (not value or _NAME_BAD.search(value)):
        raise bad(where, key, value, "use a plain name: no spaces, quotes, '$', '\\' or control characters")
    if value is not None and value.startswith("-"):  # no host name starts so; the proxy would read an option
        raise bad(where, key, value, "a schedd or pool name cannot start with '-'")
    return value


def _check_path(where: str, key: str, value: Optional[str]) -> Optional[str]:
    if value is None:
        return value
    if not os.path.isabs(value):
        raise bad(where, key, value, "use an absolute path")
    if len(os.fsencode(value)) >= _PATH_MAX:  # it goes into the ProxyCommand, which the shell must still take
        raise bad(where, key, value, f"a path has fewer than {_PATH_MAX} bytes")
    if not value.isprintable() or '"' in value or "\\" in value or "${" in value:
        raise bad(where, key, value, "the path holds a character ssh_config cannot carry (\", \\, ${ or control)")
    return value


def _check_user(where: str, key: str, value: Optional[str]) -> Optional[str]:
    if value is not None and not _USER.match(value):
        raise bad(where, key, value, "a user name is letters, digits, '_', '.', '@' and '-'")
    return value


def _check_keygen(where: str, key: str, value: str) -> str:
    if not isinstance(value, str) or not value.isprintable() or len(value) > _KEYGEN_MAX:
        raise bad(where, key, value, f"use ssh-keygen options on one line of at most {_KEYGEN_MAX} "
                  "characters, such as -t ed25519")
    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise bad(where, key, value, f"unbalanced quotes ({exc})") from None
    if words and not words[0].startswith("-"):
        raise bad(where, key, value, "start with an option, such as -t ed25519")
    return value


def _time_seconds(text: str) -> int:
    """A time as ssh_config writes it (`_PERSIST`'s form: 90, 10m, 1h30m) in seconds (any number of more
    than 10 digits counts as too many: int() of a flood of digits is refused by Python itself)."""
    parts = _TIME_PART.findall(text)
    if any(len(number.lstrip("0")) > 10 for number, _ in parts):
        return SSH_INT_MAX + 1
    return sum(int(number) * _UNIT[unit.lower()] for number, unit in parts)


def _check_persist(where: str, key: str, value: str) -> str:
    if not _PERSIST.match(value):
        raise bad(where, key, value, "use yes, no, seconds or a time like 10m")
    if value not in ("yes", "no") and _time_seconds(value) > SSH_INT_MAX:
        raise bad(where, key, value, f"ssh takes at most {SSH_INT_MAX} seconds in all (about 68 years)")
    return value


def check_wait_timeout(where: str, key: str, value: Optional[float]) -> Optional[float]:
    if value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < float("inf")):
        raise bad(where, key, value, "use a number of seconds above 0 (leave it out for no limit)")
    return value


def parse_wait_timeout(text: str, where: str = "setup options") -> Optional[float]:
    """`--wait-timeout SECONDS`: a positive number of seconds; 0 or '' for no limit (None)."""
    text = text.strip()
    if text in ("", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise bad(where, "wait_timeout", text, "use a number of seconds (0 or '' for no limit)") from None
    if value == 0:
        return None
    return check_wait_timeout(where, "wait_timeout", value)


def _check_per_node(where: str, key: str, value: str) -> str:
    if value not in PER_NODE_CHOICES:
        raise bad(where, key, value, "use auto, yes or no")
    return value


def _check_via(where: str, key: str, value: Optional[str]) -> Optional[str]:
    if value is None:
        return value
    try:
        check_dest(value)
    except ProxyError:
        raise bad(where, key, value, "give an ssh Host alias of yours or user@host") from None
    return value


def parse_route(text: str) -> Route:
    """``SUFFIX=SCHEDD[@POOL]``; the last '@' starts the pool, so ``s2@ap1@`` is schedd s2@ap1 on the
    default pool and ``SUFFIX=@POOL`` is the pool's default schedd."""
    suffix, sep, target = text.partition("=")
    if not sep or not suffix:
        raise SettingsError(f"--route {text!r}: expected SUFFIX=SCHEDD[@POOL], e.g. ap2.condor=ap2.example.org")
    schedd, _, pool = target.rpartition("@") if "@" in target else (target, "", "")
    return Route(suffix.strip(), schedd or None, pool or None)


def read_routes(where: str, value: Any) -> List[Route]:
    """config.toml's [[routes]] tables."""
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise bad(where, "routes", value, "use [[routes]] tables with suffix, schedd and pool")
    return [_read_route(where, table) for table in value]


def _read_route(where: str, table: dict) -> Route:
    for key in table:
        if key not in ("suffix", "schedd", "pool"):
            raise bad(where, f"routes.{key}", table[key], "a route has only suffix, schedd and pool")
        if not isinstance(table[key], str):
            raise bad(where, f"routes.{key}", table[key], "use a string")
    if "suffix" not in table:
        raise bad(where, "routes", table, "a route needs a suffix")
    return Route(table["suffix"], table.get("schedd"), table.get("pool"))
