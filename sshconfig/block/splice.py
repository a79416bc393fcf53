"""The managed block inside an ssh_config file: find it, splice it in, take it out, diff.  Pure (the file
on disk is write.py's).

Text here is what ``read_text`` returns: the file's bytes decoded as UTF-8 with ``surrogateescape``, so a
file with a stray Latin-1 byte in a comment is written back exactly as it was.  Only the lines between
the two markers (the markers included) ever change.  Line ends follow the file: a CRLF file gets a CRLF
block, and a file without a final newline keeps lacking one.

The block as ``render`` makes it, always with ``\\n`` line ends here::

    BEGIN marker
    [CREATED_NOTE]                   only when `setup` created the file
    Host 32.0.job.condor             one entry a synced job (only `sync` writes these)
        # batch: ... | cmd: ...
    Match host "*.job.condor" ...    the rules (only `setup` writes these) ...
    Match all
    END marker
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple, Union

from proxycmd.errors import shown


BEGIN = ("# >>> condor-job-ssh managed block: generated, do not edit; change with `condor-job-ssh setup`, "
         "refresh jobs with `condor-job-ssh sync`, take out with `condor-job-ssh remove` >>>")
END = "# <<< condor-job-ssh managed block <<<"
CREATED_NOTE = ("# `condor-job-ssh setup` created this file; `condor-job-ssh remove` deletes it "
                "if nothing else is left in it")

# A marker is a whole line; the text after the fixed head may change between versions.
_MARKER = re.compile(r"^[ \t]*# (>>>|<<<) condor-job-ssh managed block\b[^\n]*(?:\n|\Z)", re.M)
_LINE = re.compile(r"[^\n]*\n|[^\n]+")


class ManagedBlockError(ValueError):
    """The file's markers are broken (duplicated, unpaired, out of order) or the block was hand-edited."""


@dataclass(frozen=True)
class Span:
    """Where the block is: ``text[start:end]``, from its first marker to the end of its last marker line."""

    start: int
    end: int


# ----- finding ----------------------------------------------------------------------------------------
def _line_no(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def find_block(text: str) -> Optional[Span]:
    """The managed block's span, None when there is none, ManagedBlockError when the markers are broken."""
    begins: List[re.Match] = []
    ends: List[re.Match] = []
    for match in _MARKER.finditer(text):
        (begins if match.group(1) == ">>>" else ends).append(match)
    if not begins and not ends:
        return None
    for found, what in ((begins, "start"), (ends, "end")):
        if len(found) > 1:
            lines = ", ".join(str(_line_no(text, m.start())) for m in found)
            raise ManagedBlockError(f"the managed block's {what} marker appears {len(found)} times (lines {lines}); "
                                    "keep one block, delete the rest by hand, then run the command again")
    if not ends:
        raise ManagedBlockError(f"the managed block starts at line {_line_no(text, begins[0].start())} but has no "
                                "end marker; delete the partial block by hand, then run the command again")
    if not begins:
        raise ManagedBlockError(f"the managed block's end marker (line {_line_no(text, ends[0].start())}) has no "
                                "start marker; delete it by hand, then run the command again")
    start, end = begins[0], ends[0]
    if end.start() < start.start():
        raise ManagedBlockError(f"the managed block's end marker (line {_line_no(text, end.start())}) comes before "
                                f"its start marker (line {_line_no(text, start.start())}); fix the file by hand")
    return Span(start.start(), end.end())


def newline_of(text: str) -> str:
    """The file's line end: CRLF when its first line ends so, else LF."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def _to_lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def block_text(text: str) -> Optional[str]:
    """The managed block as found in *text*, with LF line ends, or None."""
    span = find_block(text)
    if span is None:
        return None
    block = _to_lf(text[span.start:span.end])
    return block if block.endswith("\n") else block + "\n"


def lines_before(text: str) -> List[str]:
    """The lines before the block that mean something to ssh (neither blank nor a comment)."""
    span = find_block(text)
    head = text[: span.start] if span else ""
    return [line.strip() for line in head.split("\n") if line.strip() and not line.strip().startswith("#")]


# ----- the block's parts --------------------------------------------------------------------------------
@dataclass(frozen=True)
class BlockParts:
    head: str  # the start marker and the comment lines right after it
    hosts: str  # the synced job entries ("Host NAME" plus indented comment lines)
    rules: str  # from the first Match line to the end marker, included


def split_block(block: str) -> BlockParts:
    """Cut a block (LF line ends) into its parts; ManagedBlockError when it is not the shape we write."""
    lines = block.split("\n")
    i = 1
    while i < len(lines) and lines[i].startswith("#") and not _MARKER.match(lines[i]):
        i += 1
    j = i
    while j < len(lines) and (lines[j].startswith("Host ") or lines[j].startswith((" ", "\t"))):
        j += 1
    if j >= len(lines) or not lines[j].startswith("Match "):
        raise ManagedBlockError("the managed block was changed by hand (no Match line after the job hosts); "
                                "run `condor-job-ssh setup` to write it again")
    return BlockParts("\n".join(lines[:i]) + "\n", "".join(line + "\n" for line in lines[i:j]),
                      "\n".join(lines[j:]))


def host_entries(block: str) -> List[Tuple[str, str]]:
    """The synced job entries of a block as (host name, entry text) pairs, in order."""
    entries: List[Tuple[str, str]] = []
    for line in _LINE.findall(split_block(block).hosts):
        if line.startswith("Host "):
            entries.append((line[5:].strip(), line))
        elif entries:
            entries[-1] = (entries[-1][0], entries[-1][1] + line)
    return entries


def replace_hosts(block: str, hosts: str) -> str:
    """The block with its job entries replaced by *hosts* (rendered text, LF line ends)."""
    parts = split_block(block)
    return parts.head + hosts + parts.rules


def was_created(block: str) -> bool:
    """True when `setup` created the file this block lives in (CREATED_NOTE among its first comment lines)."""
    for line in block.split("\n")[1:]:
        if line == CREATED_NOTE:
            return True
        if not line.startswith("#") or _MARKER.match(line):
            return False
    return False


# ----- splicing -------------------------------------------------------------------------------------------
def splice(text: str, block: str) -> str:
    """Put *block* (LF line ends) in place of the current block, or at the very top when there is none."""
    span = find_block(text)
    if span is None:
        newline = newline_of(text)
        return block.replace("\n", newline) + text
    old = text[span.start:span.end]
    newline = newline_of(old)
    new = block.replace("\n", newline)
    if not old.endswith("\n"):  # the end marker was the file's last line, without a line end: keep it so
        new = new[: -len(newline)]
    return text[: span.start] + new + text[span.end:]


def remove(text: str) -> Tuple[str, bool]:
    """*text* without the block, and whether the block says `setup` created the file."""
    span = find_block(text)
    if span is None:
        return text, False
    created = was_created(_to_lf(text[span.start:span.end]))
    return text[: span.start] + text[span.end:], created


def unified_diff(old: str, new: str, path: Union[str, os.PathLike]) -> str:
    """A unified diff of the two texts, git-style for a missing final newline; empty when they are equal."""
    if old == new:
        return ""
    out = []
    for line in difflib.unified_diff(_LINE.findall(old), _LINE.findall(new), f"{shown(path)} (now)",
                                     f"{shown(path)} (after)", n=3):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
