"""The layout of `doctor`'s table: every line within 80 columns, commands whole.

A check's detail and fix are prose in which a command is written in backticks (`condor-job-ssh setup`).
Prose is wrapped at spaces, and a path longer than the room left is broken after a `/`, never inside a
word.  Every backticked text with a space in it is a command: it gets a line of its own, as it must be
typed, indented under the fix; one too long for any indent goes on over several lines joined by ` \\`
at spaces (sh, bash, zsh and tcsh all read that as one command).  A backticked single word (an option,
a file name) stays in the prose.  A line break in a detail starts a new line (one failure per line).
"""

from __future__ import annotations

import re
from typing import List, Optional, Sequence, Tuple

WIDTH = 80
_STATE_WIDTH = 6  # "RESULT", "WARN", "fix:"
_COMMAND = re.compile(r"`([^`]*)`")


def _breaks(word: str, first_room: int, width: int) -> List[str]:
    """*word* cut into pieces after a `/`: the first fits *first_room*, the others *width* (a piece with
    no `/` to cut at stays whole)."""
    parts = re.split(r"(?<=/)(?=.)", word)
    pieces, current, room = [], "", first_room
    for part in parts:
        if current and len(current) + len(part) > room:
            pieces.append(current)
            current, room = part, width
        else:
            current += part
    pieces.append(current)
    return pieces


def wrap(text: str, width: int) -> List[str]:
    """*text* in lines of at most *width* columns, broken at spaces, and inside a long path after a `/`."""
    lines: List[str] = []
    line = ""
    for word in text.split():
        sep = " " if line else ""
        if len(line) + len(sep) + len(word) <= width:
            line += sep + word
            continue
        if len(word) <= width or "/" not in word:
            if line:
                lines.append(line)
            line = word
            continue
        room = width - len(line) - len(sep)
        if room < 10:  # too little left on this line to start a path
            if line:
                lines.append(line)
            line, sep, room = "", "", width
        pieces = _breaks(word, room, width)
        line += sep + pieces[0]
        for piece in pieces[1:]:
            lines.append(line)
            line = piece
    if line:
        lines.append(line)
    return lines


def command_lines(command: str, indent: int, width: int) -> List[str]:
    """One command as it must be typed: on one line at *indent* when it fits, else at the smallest indent
    (4), else over several lines joined by ` \\` at spaces."""
    command = " ".join(command.split())
    for at in (indent, 4):
        if at + len(command) <= width:
            return [" " * at + command]
    words, lines, line = command.split(" "), [], ""
    for word in words:
        if line and 4 + len(line) + 1 + len(word) + 2 > width:
            lines.append(line + " \\")
            line = "  " + word  # continuation lines two further in
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return ["    " + item for item in lines]


def segments(text: str) -> List[Tuple[str, str]]:
    """*text* as ("prose", ...) and ("command", ...) parts, in order; line breaks as ("break", "")."""
    out: List[Tuple[str, str]] = []
    for n, paragraph in enumerate(text.split("\n")):
        if n:
            out.append(("break", ""))
        pieces = _COMMAND.split(paragraph)
        prose = ""
        for i, piece in enumerate(pieces):
            if i % 2 and " " in piece.strip():
                if prose.strip():
                    out.append(("prose", prose))
                out.append(("command", piece))
                prose = ""
            else:
                prose += f"`{piece}`" if i % 2 else piece
        if prose.strip() or not out or out[-1][0] == "break":
            out.append(("prose", prose))
    return out


def block(text: str, indent: int, width: int) -> List[str]:
    """The lines of one detail or fix, without the first *indent* columns (commands carry their own)."""
    lines: List[str] = []
    for kind, value in segments(text):
        if kind == "command":
            lines += [line[indent:] if line.startswith(" " * indent) else "\0" + line
                      for line in command_lines(value, indent + 2, width)]
        elif kind == "prose":
            lines += wrap(value, width - indent) or ([] if lines else [""])
    return lines or [""]


def _place(head: Optional[str], indent: int, line: str) -> List[str]:
    if line.startswith("\0"):  # a command placed left of the column (it needs the room)
        return ([head.rstrip()] if head else []) + [line[1:]]
    return [((head if head is not None else " " * indent) + line).rstrip()]


def render(rows: Sequence[Tuple[str, str, str, str]], width: int = WIDTH) -> List[str]:
    """The table's lines for (name, state, detail, fix) rows; the fix is shown only when given."""
    names = max([len("CHECK")] + [len(name) for name, _, _, _ in rows])
    indent = names + 2 + _STATE_WIDTH + 2
    out = [f"{'CHECK'.ljust(names)}  {'RESULT'.ljust(_STATE_WIDTH)}  DETAILS".rstrip()]
    for name, state, detail, fix in rows:
        for n, line in enumerate(block(detail, indent, width)):
            head = f"{name.ljust(names)}  {state.upper().ljust(_STATE_WIDTH)}  " if n == 0 else None
            out += _place(head, indent, line)
        if fix:
            for n, line in enumerate(block(fix, indent, width)):
                head = f"{' ' * names}  {'fix:'.ljust(_STATE_WIDTH)}  " if n == 0 else None
                out += _place(head, indent, line)
    return out
