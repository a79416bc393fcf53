"""The host name a near miss probably meant (issue 28, item 4): imported only on the failure path.

`ssh 2.o.job.condor` parses (job 2.0 on a schedd named "o") and fails as "there is no schedd named o";
`2,0.job.condor` and `2..0.job.condor` do not parse at all.  `likely` mends what a slip of the keyboard does
to a job id -- a letter for a digit (o O -> 0, l I i -> 1), another separator for a dot (, ; : _ / and
blanks), a doubled or missing-between dot, a leading zero -- and to the suffix (a misspelt or missing
label: `job.condr`, `condor`), and answers only with a name that parses as a job id and names another job
or place than the one typed.  ssh itself runs us only for names its block matches (`*.job.condor`); a
misspelt suffix reaches us through condor-job-ssh's own commands (doctor JOB, ...).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import Iterable, Optional

_DIGIT_LIKE = {"o": "0", "O": "0", "l": "1", "I": "1", "i": "1"}
_SEPARATORS = ",;:_/ \t"


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (short strings only)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def _split_suffix(name: str, suffixes: list) -> "Optional[tuple]":
    """(head, suffix) where *name* ends in a suffix or in something close to one."""
    for suffix in suffixes:
        if name.endswith("." + suffix):
            return name[: -len(suffix) - 1], suffix
    labels = name.split(".")
    for suffix in suffixes:
        width = suffix.count(".") + 1
        for take in (width, width - 1, width + 1):  # a label misspelt, missing or added
            if 0 < take < len(labels):
                tail = ".".join(labels[-take:])
                if _distance(tail, suffix) <= 2 or suffix.endswith("." + tail):
                    return ".".join(labels[:-take]), suffix
    return None


def _mend_id(head: str) -> str:
    """The job id part with keyboard slips mended."""
    for sep in _SEPARATORS:
        head = head.replace(sep, ".")
    labels = [label for label in head.split(".") if label]  # doubled dots
    mended = []
    for label in labels:
        if label and all(ch.isdigit() or ch in _DIGIT_LIKE for ch in label) and (
                any(ch.isdigit() for ch in label) or len(label) <= 2):
            label = "".join(_DIGIT_LIKE.get(ch, ch) for ch in label)
            label = label.lstrip("0") or "0"
        mended.append(label)
    return ".".join(mended)


def likely(text: str, suffixes: "Iterable[str]" = ()) -> "Optional[str]":
    """The job host name *text* probably meant, or None when no mend gives another job host name."""
    from .hostname import DEFAULT_SUFFIX, HostnameError, parse

    wanted = [s.strip(".").lower() for s in suffixes] or [DEFAULT_SUFFIX]
    if not isinstance(text, str) or not text or len(text) > 253:
        return None
    name = text.rstrip(".")
    split = _split_suffix(name.lower(), wanted)
    if split is None:
        return None
    head, suffix = split
    candidate = f"{_mend_id(name[:len(head)]).lower()}.{suffix}"  # case matters for O and I: mend, then lower
    try:
        meant = parse(candidate, wanted)
    except HostnameError:
        return None
    if meant.profile or meant.schedd:
        return None  # only a job id is ever guessed: a profile or schedd name may be anything
    try:
        typed = parse(text, wanted)
    except HostnameError:
        typed = None
    if typed is not None and typed == meant:
        return None
    return meant.hostname


def hint(message: str, host: str, suffixes: "Iterable[str]" = ()) -> str:
    """*message* with "did you mean ...?" when *host* is a near miss of a job host name."""
    try:
        meant = likely(host, suffixes)
    except Exception:  # noqa: BLE001 -- a hint must never stand between the user and the sentence
        return message
    if meant is None:
        return message
    return f"{message.rstrip('.')} (did you mean {meant}?)"
