"""Profiles: HTCondor submit descriptions that say what an on-demand job asks for (no I/O).

A profile is the body of a submit file -- `request_gpus = 1`, `container_image = ...`, `+ProjectName = "x"`,
`MY.CondorJobProxyIdleTimeout = 60` -- that neither replaces the job's program nor queues more than one job:
condor-job-proxy owns the program (its watchdog, proxycmd/watchdog.py) and submits exactly one job.

HTCondor's own submit parser (``htcondor2.Submit``) reads the profile: what it takes for the commands, their
values and the queue statement is what we check and submit, so no second parser of ours can read a profile
differently from condor_submit (comments, continuations, `if`/`else`, `+Name` meaning `MY.Name`, macros).
Only two things happen before it: an `include` line is refused (the parser would read that file, or run
that command, while merely reading the profile), and our line scan finds the line a message names.
The bindings cost about 30 ms to import (28-40 ms measured here; a parse, under 1 ms), so the proxy
parses a profile only when it submits a job.
"""

from __future__ import annotations

import os
import re
import sys
from collections import namedtuple

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import Dict, List, Optional

PROFILE_ATTR = "CondorJobProxyProfile"
IDLE_TIMEOUT_ATTR = "CondorJobProxyIdleTimeout"
LIFETIME_ATTR = "CondorJobProxyLifetime"

_RUNS_OURS = ("condor-job-proxy runs its own program in the job (a watchdog that ends it when idle)")
_ONE_JOB = "condor-job-proxy submits exactly one job itself"
# Submit commands that choose the job's program, its arguments or how many jobs there are, from HTCondor's
# src/condor_utils/submit_utils.cpp: SetExecutable reads executable (alternate name Cmd), shell (which
# makes the program /bin/sh and the arguments "-c SHELL"), interactive_executable and transfer_executable
# (alternate TransferExecutable); SetArguments reads arguments (alternate Args), arguments2,
# allow_arguments_v1 and interactive_args; want_factory_submit makes a job factory of max_materialize,
# max_idle and materialize_max_idle.  The queue keywords (is_queue_statement) are checked apart.
_OWNED_COMMANDS = {
    "executable": _RUNS_OURS, "cmd": _RUNS_OURS, "shell": _RUNS_OURS, "interactive_executable": _RUNS_OURS,
    "transfer_executable": _RUNS_OURS, "transferexecutable": _RUNS_OURS,
    "arguments": _RUNS_OURS, "args": _RUNS_OURS, "arguments2": _RUNS_OURS, "allow_arguments_v1": _RUNS_OURS,
    "interactive_args": _RUNS_OURS,
    "max_materialize": _ONE_JOB, "max_idle": _ONE_JOB, "materialize_max_idle": _ONE_JOB,
}
# Job attributes (MY.Name, +Name) that do the same: the program and its arguments (ATTR_JOB_CMD "Cmd",
# ATTR_JOB_ARGUMENTS1 "Args", ATTR_JOB_ARGUMENTS2 "Arguments", ATTR_TRANSFER_EXECUTABLE), the commands the
# starter runs before and after the job with their arguments and environment (condor_starter's
# ScriptProc reads "Pre"/"Post" + Cmd, Args, Arguments, Environment, Env), and our own profile mark.
_OWNED_ATTRIBUTES = {"cmd", "args", "arguments", "transferexecutable", PROFILE_ATTR.lower()} | {
    f"{when}{what}" for when in ("pre", "post") for what in ("cmd", "args", "arguments", "environment", "env")}
_NUMERIC_ATTRIBUTES = {IDLE_TIMEOUT_ATTR.lower(), LIFETIME_ATTR.lower()}
_END = "condor_job_proxy_end_of_profile"  # added after a blank line: missing means a queue statement ended it
_INCLUDE = re.compile(r"\s*include\b(?!\s*=)", re.IGNORECASE)
_CONDITIONAL = re.compile(r"\s*(if|elif|else|endif)\b", re.IGNORECASE)
_ASSIGNMENT = re.compile(r"\s*(\+|my\.)?([A-Za-z_][A-Za-z0-9_.]*)\s*=", re.IGNORECASE)


class ProfileError(ValueError):
    """A profile that cannot be used; str() is one line: ``FILE:LINE: why`` (``FILE: why`` without a line)."""


class Entry(namedtuple("Entry", "line key value")):
    """One command of a profile as HTCondor read it: the line that sets it (0: none found), the key
    (``+Name`` and ``my.Name`` written as ``MY.Name``), the value as written (macros unexpanded)."""

    __slots__ = ()


def _normal_key(key: str) -> str:
    if key.startswith("+"):
        return "MY." + key[1:]
    if key[:3].upper() == "MY.":
        return "MY." + key[3:]
    return key


def is_queue_word(word: str) -> bool:
    """Whether condor_submit reads a line starting with *word* as a queue statement (HTCondor's
    SubmitHash::is_queue_statement: `queue`, or `iterate` shortened to 4 letters or more)."""
    word = word.lower()
    return word == "queue" or (len(word) >= 4 and "iterate".startswith(word))


def _logical_lines(text: str):
    """(first line number, text) for each logical line: a trailing backslash joins the next line."""
    pending, first = [], 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not pending:
            first = number
        if line.endswith("\\") and (pending or not line.lstrip().startswith("#")):  # a comment does not continue
            pending.append(line[:-1])
            continue
        pending.append(line)
        yield first, " ".join(part.strip() for part in pending if part.strip())
        pending = []
    if pending:
        yield first, " ".join(part.strip() for part in pending if part.strip())


def _line_of(text: str, key: str) -> int:
    """The last line that assigns *key* (as HTCondor keeps the last value), 0 when none does."""
    found = 0
    for number, line in _logical_lines(text):
        match = _ASSIGNMENT.match(line)
        if match and _normal_key((match.group(1) or "") + match.group(2)).lower() == key.lower():
            found = number
    return found


def _first_line(text: str, test) -> int:
    for number, line in _logical_lines(text):
        if line and not line.startswith("#") and test(line):
            return number
    return 0


def _at(where: str, line: int) -> str:
    return f"{where}:{line}" if line else where


_LOG_STAMP = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d ")  # HTCondor's log lines start with the time
_SAID_LINE = re.compile(r"\bline: (.+)$")  # ... and a parse error ends with the line it refused


def _submit_parsing(htcondor2, text: str):
    """htcondor2.Submit(text), with what HTCondor writes on stderr meanwhile kept from the user: its parser
    logs a refusal there itself ("12/08/26 02:23:44 Parse_config if error: ..."), which becomes part of our
    one line (the exception's ``said``) instead of a second, timestamped one."""
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as said:  # not a pipe: a long message must not block the parser
        os.dup2(said.fileno(), 2)
        try:
            try:
                return htcondor2.Submit(text)
            except (ValueError, RuntimeError, TypeError, htcondor2.HTCondorException) as exc:
                failure = exc
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        said.seek(0)
        words = [_LOG_STAMP.sub("", line).strip() for line in said.read(4096).decode("utf-8", "replace").splitlines()]
    failure.said = " ".join(word for word in words if word)
    raise failure


def _refused(text: str, where: str, exc: BaseException) -> ProfileError:
    """HTCondor refused the text: name the first line that is no NAME = VALUE command, when there is one,
    else the line HTCondor's own words name."""
    detail = getattr(exc, "said", "") or " ".join(str(exc).split()) or type(exc).__name__
    bad = [(n, line) for n, line in _logical_lines(text) if line and not line.startswith("#")
           and not _ASSIGNMENT.match(line) and not _CONDITIONAL.match(line) and not is_queue_word(line.split()[0])]
    named = _SAID_LINE.search(detail)
    if not bad and named:
        number = _first_line(text, lambda line: line.strip() == named.group(1).strip())
        if number:
            return ProfileError(f"{where}:{number}: HTCondor's submit parser refuses the profile: {detail}")
    if bad:
        number, line = bad[0]
        return ProfileError(f"{where}:{number}: HTCondor's submit parser refuses the profile ({detail}) at "
                            f"{line[:60]!r}: expected NAME = VALUE (a submit command such as request_cpus = 4)")
    return ProfileError(f"{where}: HTCondor's submit parser refuses the profile ({detail})")


def parse(text: str, where: str) -> List[Entry]:
    """The profile's commands as HTCondor's submit parser reads them, in order; ProfileError
    (``WHERE:LINE: why``) for anything we must not submit.  Imports htcondor2."""
    # every physical line, continued or not: HTCondor does not continue a comment line into the next one
    include = next((n for n, line in enumerate(text.splitlines(), 1) if _INCLUDE.match(line)), 0)
    if include:
        raise ProfileError(f"{where}:{include}: a profile must not use 'include': HTCondor would read that file or "
                           "run that command while reading the profile; put the commands in the profile itself")
    from .bindings import ConfigBroken, load

    try:
        htcondor2 = load()
    except ConfigBroken as exc:
        raise ProfileError(f"{where}: cannot read it: {exc}") from None
    except ImportError as exc:
        raise ProfileError(f"{where}: cannot read it without HTCondor's Python bindings ({exc}); "
                           "install them with `pip install htcondor`") from None
    mark = os.urandom(8).hex()  # a value the profile cannot know: its own line of that name proves nothing
    try:
        submit = _submit_parsing(htcondor2, f"{text}\n\n{_END} = {mark}\n")
        items = [(key, submit[key]) for key in submit.keys()]
        queue_args = submit.getQArgs()
    except (ValueError, RuntimeError, TypeError, htcondor2.HTCondorException) as exc:
        raise _refused(text, where, exc) from None
    if queue_args or (_END, mark) not in items:
        line = _first_line(text, lambda line: is_queue_word(line.split(None, 1)[0]))
        raise ProfileError(f"{_at(where, line)}: a profile must not have a queue statement: {_ONE_JOB}; "
                           "remove that line")
    entries: List[Entry] = []
    for key, value in items:
        if key.lower() == _END:
            continue
        key = _normal_key(key)
        line = _line_of(text, key)
        at, lower = _at(where, line), key.lower()
        attribute = lower[3:] if lower.startswith("my.") else None
        key = key if attribute is not None else lower  # submit commands are case-blind; show them as documented
        if is_queue_word(lower) and attribute is None:
            raise ProfileError(f"{at}: a profile must not set {key}: condor_submit reads such a line as a queue "
                               f"statement, and {_ONE_JOB}; remove that line")
        if lower in _OWNED_COMMANDS or attribute in _OWNED_ATTRIBUTES:
            why = _OWNED_COMMANDS.get(lower, _RUNS_OURS)
            raise ProfileError(f"{at}: a profile must not set {key}: {why}; remove that line")
        if not value.isprintable():
            raise ProfileError(f"{at}: the value of {key} holds a control character")
        if attribute in _NUMERIC_ATTRIBUTES and not (value.isdigit() and int(value) > 0):
            raise ProfileError(f"{at}: {key} must be a whole number of seconds (at least 1), not {value[:40]!r}")
        entries.append(Entry(line, key, value))
    return entries


def attribute(entries: List[Entry], name: str) -> Optional[str]:
    """The value a profile gives the job attribute *name* (``MY.name`` or ``+name``), or None."""
    return command(entries, "MY." + name)


def command(entries: List[Entry], name: str) -> Optional[str]:
    """The value a profile gives the submit command *name* (HTCondor keeps one per name), or None."""
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
