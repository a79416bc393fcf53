"""Profiles: HTCondor submit descriptions that say what an on-demand job asks for (pure, no I/O).

A profile is the body of a submit file -- `request_gpus = 1`, `container_image = ...`, `+ProjectName = "x"`,
`MY.CondorJobProxyIdleTimeout = 60` -- without `executable`, `arguments` or `queue`: condor-job-proxy owns
the job's program (its watchdog, proxycmd/watchdog.py) and submits exactly one job.  `parse` reads the
lines the way condor_submit does (comments, blank lines, a trailing backslash continues a line,
`+Name` meaning `MY.Name`) and refuses what a profile must not say with one line naming the file and line.
Where the htcondor2 bindings are installed, `check_with_htcondor` also runs HTCondor's own submit parser.
"""

from __future__ import annotations

import re
from collections import namedtuple

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import Dict, List

PROFILE_ATTR = "CondorJobProxyProfile"
IDLE_TIMEOUT_ATTR = "CondorJobProxyIdleTimeout"
LIFETIME_ATTR = "CondorJobProxyLifetime"

_KEY = re.compile(r"(\+|MY\.)?[A-Za-z_][A-Za-z0-9_.]*\Z", re.IGNORECASE)
# Submit commands that set the job's program or how many jobs there are: ours.
_OWNED_COMMANDS = {"executable": "executable", "arguments": "arguments", "args": "arguments",
                   "transfer_executable": "transfer_executable"}
_OWNED_ATTRIBUTES = {"cmd", "args", "arguments", PROFILE_ATTR.lower()}
_NUMERIC_ATTRIBUTES = {IDLE_TIMEOUT_ATTR.lower(): IDLE_TIMEOUT_ATTR, LIFETIME_ATTR.lower(): LIFETIME_ATTR}
_UNSUPPORTED = re.compile(r"(if|elif|else|endif|error|warning|include|queue)\b", re.IGNORECASE)


class ProfileError(ValueError):
    """A profile that cannot be used; str() is one line: ``FILE:LINE: why``."""


class Entry(namedtuple("Entry", "line key value")):
    """One command of a profile: its first line number, the key (``+Name`` written as ``MY.Name``), the value."""

    __slots__ = ()


def _normal_key(key: str) -> str:
    if key.startswith("+"):
        return "MY." + key[1:]
    if key[:3].upper() == "MY.":
        return "MY." + key[3:]
    return key


def _logical_lines(text: str):
    """(first line number, text) for each logical line: a trailing backslash joins the next line."""
    pending, first = [], 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not pending:
            first = number
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        yield first, " ".join(part.strip() for part in pending if part.strip())
        pending = []
    if pending:
        yield first, " ".join(part.strip() for part in pending if part.strip())


def parse(text: str, where: str) -> List[Entry]:
    """The profile's commands in order; ProfileError (``WHERE:LINE: why``) for anything we cannot submit."""
    entries: List[Entry] = []
    for number, line in _logical_lines(text):
        at = f"{where}:{number}"
        if not line or line.startswith("#"):
            continue
        if not line.isprintable():
            raise ProfileError(f"{at}: the line holds a control character")
        word = line.split(None, 1)[0]
        if _UNSUPPORTED.match(word) and "=" not in word:
            what = "queue" if word.lower() == "queue" else word.lower()
            why = ("condor-job-proxy submits exactly one job itself" if what == "queue"
                   else "conditionals, include and messages are not supported in profiles")
            raise ProfileError(f"{at}: a profile must not use {what!r}: {why}; remove that line")
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise ProfileError(f"{at}: expected NAME = VALUE (a submit command such as request_cpus = 4), "
                               f"got {line[:60]!r}")
        if not _KEY.match(key):
            raise ProfileError(f"{at}: {key[:60]!r} is not a submit command or attribute name")
        key = _normal_key(key)
        lower = key.lower()
        if lower in _OWNED_COMMANDS or (lower.startswith("my.") and lower[3:] in _OWNED_ATTRIBUTES):
            shown = _OWNED_COMMANDS.get(lower, key)
            raise ProfileError(f"{at}: a profile must not set {shown}: condor-job-proxy runs its own program in "
                               "the job (a watchdog that ends it when idle); remove that line")
        if lower.startswith("my.") and lower[3:] in _NUMERIC_ATTRIBUTES and not (value.isdigit() and int(value) > 0):
            raise ProfileError(f"{at}: {key} must be a whole number of seconds (at least 1), not {value[:40]!r}")
        entries.append(Entry(number, key, value))
    return entries


def check_with_htcondor(text: str, where: str) -> None:
    """Run HTCondor's own submit parser on the profile; ProfileError when it refuses.  Needs htcondor2."""
    import htcondor2

    try:
        htcondor2.Submit(text)
    except (ValueError, RuntimeError, htcondor2.HTCondorException) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ProfileError(f"{where}: HTCondor's submit parser refuses it ({detail})") from None


def attribute(entries: List[Entry], name: str) -> "str | None":
    """The value a profile gives the job attribute *name* (``MY.name`` or ``+name``), or None."""
    wanted = "my." + name.lower()
    found = None
    for entry in entries:
        if entry.key.lower() == wanted:
            found = entry.value
    return found


def command(entries: List[Entry], name: str) -> "str | None":
    """The value a profile gives the submit command *name* (last one wins, as in condor_submit), or None."""
    found = None
    for entry in entries:
        if entry.key.lower() == name.lower():
            found = entry.value
    return found


def as_dict(entries: List[Entry]) -> Dict[str, str]:
    """The commands as a submit dictionary (later lines win)."""
    out: Dict[str, str] = {}
    for entry in entries:
        for old in [k for k in out if k.lower() == entry.key.lower()]:
            del out[old]
        out[entry.key] = entry.value
    return out
