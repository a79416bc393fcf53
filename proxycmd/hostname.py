"""The job host name grammar: pure functions, no I/O.

    <cluster>[.<proc>[.<node>]][.<schedd>].<suffix>
    <profile>[.<schedd>].<suffix>

``32.job.condor`` is job 32.0; ``32.0.1.job.condor`` is node 1 of a parallel job; ``32.0.ap1.example.org.job.condor``
names the schedd ``ap1.example.org``.  The schedd part is one or more DNS labels and its first label is not all
digits, so it can never be mistaken for a proc or node number.  A first label that starts with a letter names a
profile (``gpu.job.condor``): a job made on demand from ``profiles/gpu.sub`` (see proxycmd/ondemand.py).
"""

from __future__ import annotations

from .record import record

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection

if TYPE_CHECKING:
    from typing import Iterable, Optional

DEFAULT_SUFFIX = "job.condor"
MAX_HOSTNAME = 253
MAX_LABEL = 63
MAX_ID = 2**31 - 1  # HTCondor stores cluster, proc and node ids as C ints

_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
# The grammar's words, checked with str methods rather than re (its import costs ~9 ms of CPU a connection)
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_DIGITS = frozenset("0123456789")
_LDH = _LOWER | _DIGITS | {"-"}


def _is_label(text: str) -> bool:
    """A DNS label in lower case: letters, digits and inner '-', 1 to 63 characters."""
    return 0 < len(text) <= MAX_LABEL and _LDH.issuperset(text) and text[0] != "-" and text[-1] != "-"


def _is_number(text: str) -> bool:
    """A decimal number without a leading zero (``0`` itself is one)."""
    return bool(text) and _DIGITS.issuperset(text) and (text == "0" or text[0] != "0")


def _is_profile(text: str) -> bool:
    """A DNS label that starts with a letter."""
    return _is_label(text) and text[0] in _LOWER


class HostnameError(ValueError):
    """A host name that is not a job host name; str() is one line for the user."""


class JobAddress(record("JobAddress", "cluster proc node schedd suffix profile",
                        defaults=(0, None, None, DEFAULT_SUFFIX, None), module=__name__)):
    """A parsed job host name: cluster, proc, node (parallel jobs, or None), schedd (or None), suffix, and
    profile: the profile's name for ``gpu.job.condor`` (cluster is then 0 until the job is found or
    submitted, see proxycmd/ondemand.py), else None.

    An immutable record (proxycmd/record.py, rather than a dataclass or a namedtuple: either costs
    milliseconds to import or build, and this module runs on every connection).
    """

    __slots__ = ()

    @property
    def job_id(self) -> str:
        """The job id as HTCondor tools take it: ``32.0``."""
        return f"{self.cluster}.{self.proc}"

    @property
    def classic_id(self) -> str:
        """The id condor_ssh_to_job takes, with the node when there is one: ``32.0.1``."""
        return self.job_id if self.node is None else f"{self.job_id}.{self.node}"

    @property
    def hostname(self) -> str:
        """The canonical host name (proc always spelled out; a profile's name when there is one)."""
        parts = [self.profile] if self.profile else [str(self.cluster), str(self.proc)]
        if self.node is not None and not self.profile:
            parts.append(str(self.node))
        if self.schedd:
            parts.append(self.schedd)
        parts.append(self.suffix)
        return ".".join(parts)


def expected_form(suffix: str = DEFAULT_SUFFIX) -> str:
    return (f"expected CLUSTER[.PROC[.NODE]][.SCHEDD].{suffix} or PROFILE[.SCHEDD].{suffix}, "
            f"e.g. 32.0.{suffix} or gpu.{suffix}")


def _shown(text: str) -> str:
    """The name as it is safe to print on one line: control characters escaped, long names cut."""
    shown = text if len(text) <= 80 else text[:77] + "..."
    return repr(shown)


def _refuse(text: str, why: str, suffix: str) -> HostnameError:
    return HostnameError(f"{_shown(text)} is not a job host name: {why}; {expected_form(suffix)}")


def _check_suffix(suffix: str) -> str:
    suffix = suffix.strip(".").lower()
    labels = suffix.split(".")
    if not suffix or not all(_is_label(label) for label in labels):
        raise HostnameError(f"{_shown(suffix)} is not a usable host name suffix: use DNS labels such as job.condor")
    return suffix


def parse(text: str, suffixes: Iterable[str] = (DEFAULT_SUFFIX,)) -> JobAddress:
    """Turn ``32.0.job.condor`` into a JobAddress, or raise HostnameError with one line that says why."""
    wanted = sorted({_check_suffix(s) for s in suffixes}, key=len, reverse=True) or [DEFAULT_SUFFIX]
    main = wanted[-1] if DEFAULT_SUFFIX not in wanted else DEFAULT_SUFFIX
    if not isinstance(text, str) or not text:
        raise _refuse(str(text or ""), "it is empty", main)
    if text.endswith(".") and text != ".":  # a fully qualified name: the same host (ssh keeps the dot in %h)
        text = text[:-1]
    if len(text) > MAX_HOSTNAME:
        raise _refuse(text, f"it is longer than {MAX_HOSTNAME} characters", main)
    bad = next((c for c in text if c not in _ALLOWED), None)
    if bad is not None:
        what = "whitespace" if bad.isspace() else repr(bad)
        raise _refuse(text, f"{what} is not allowed in a host name", main)
    name = text.lower()
    if name.startswith("-"):
        raise _refuse(text, "it starts with '-'", main)
    suffix = next((s for s in wanted if name.endswith("." + s)), None)
    if suffix is None:
        raise _refuse(text, f"it does not end in .{main}", main)
    head = name[: -len(suffix) - 1]
    labels = head.split(".")
    if any(label == "" for label in labels):
        raise _refuse(text, "it has an empty label (two dots in a row, or a dot at the start)", suffix)
    if labels[0][:1].isalpha():
        return _profile_address(text, labels, suffix)
    numbers = []
    while labels and labels[0].isdigit() and len(numbers) < 3:
        label = labels.pop(0)
        if not _is_number(label):
            raise _refuse(text, f"{label!r} has a leading zero", suffix)
        value = int(label)
        if value > MAX_ID:
            raise _refuse(text, f"{label} is out of range (at most {MAX_ID})", suffix)
        numbers.append(value)
    if not numbers:
        raise _refuse(text, "it does not start with a cluster number", suffix)
    if numbers[0] == 0:
        raise _refuse(text, "cluster 0 does not exist (clusters start at 1)", suffix)
    schedd = _schedd(text, labels, suffix)
    proc = numbers[1] if len(numbers) > 1 else 0
    node = numbers[2] if len(numbers) > 2 else None
    return JobAddress(cluster=numbers[0], proc=proc, node=node, schedd=schedd, suffix=suffix)


def _schedd(text: str, labels: list, suffix: str) -> Optional[str]:
    """The schedd part (the labels after the job id or profile), None when there is none."""
    if not labels:
        return None
    if labels[0].isdigit():
        raise _refuse(text, "a schedd name cannot start with an all-digit label", suffix)
    for label in labels:
        if len(label) > MAX_LABEL:
            raise _refuse(text, f"a label is longer than {MAX_LABEL} characters", suffix)
        if not _is_label(label):
            raise _refuse(text, f"{label!r} is not a DNS label (letters, digits and inner '-')", suffix)
    return ".".join(labels)


def _profile_address(text: str, labels: list, suffix: str) -> JobAddress:
    name = labels[0]
    if len(name) > MAX_LABEL:
        raise _refuse(text, f"a label is longer than {MAX_LABEL} characters", suffix)
    if not _is_profile(name):
        raise _refuse(text, f"{name!r} is not a profile name (a letter, then letters, digits and inner '-')",
                      suffix)
    return JobAddress(cluster=0, proc=0, schedd=_schedd(text, labels[1:], suffix), suffix=suffix, profile=name)


def is_profile_name(name: str) -> bool:
    """True for a usable profile name: ``gpu``, ``big-mem2`` (lower case, as host names are compared)."""
    return isinstance(name, str) and _is_profile(name)


def parse_job_id(text: str) -> JobAddress:
    """Parse a classic job id: ``32``, ``32.0`` or ``32.0.1``."""
    parts = text.split(".") if isinstance(text, str) else []
    if not 1 <= len(parts) <= 3 or not all(_is_number(p) and int(p) <= MAX_ID for p in parts) or int(parts[0]) == 0:
        raise HostnameError(f"{_shown(str(text))} is not a job id: expected CLUSTER[.PROC[.NODE]], e.g. 32.0")
    nums = [int(p) for p in parts]
    return JobAddress(cluster=nums[0], proc=nums[1] if len(nums) > 1 else 0, node=nums[2] if len(nums) > 2 else None)
