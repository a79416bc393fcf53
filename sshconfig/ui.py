"""What the user of `condor-job-ssh` sees: one-line errors and warnings, prompts, the exact bytes of a diff,
plain help, and doctor's table.

Every failure of a command is one line on stderr, `condor-job-ssh: error: ...`, and a non-zero exit status
(`fail`, `one_line_errors`); warnings and notes are one line too.  The ProxyCommand speaks through ssh's
disconnect message instead (proxycmd/cli.py), and the classic `condor-ssh-to-job` in its own name
(sshconfig/commands/classic/shim.py).

Doctor's table keeps every line within 80 columns, commands whole.  A check's detail and fix are prose in
which a command is written in backticks (`condor-job-ssh setup`).  Prose is wrapped at spaces, and a path
longer than the room left is broken after a `/`, never inside a word.  Every backticked text with a space in
it is a command: it gets a line of its own, as it must be typed, indented under the fix; one too long for
any indent goes on over several lines joined by ` \\` at spaces (sh, bash, zsh and tcsh all read that as
one command).  A backticked single word (an option, a file name) stays in the prose.  A line break in a
detail starts a new line (one failure per line).
"""

from __future__ import annotations

import os

import re
import sys
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence, Tuple

import typer
from typer.core import TyperCommand

from proxycmd import ourcommands
from proxycmd.errors import ProxyError, one_line
from proxycmd.hostname import HostnameError

from .block.quoting import RenderError
from .block.settings import SettingsError
from .block.splice import ManagedBlockError
from .block.write import ConfigFileError

PROG = "condor-job-ssh"
WIDTH = 80  # doctor's table fits a terminal of this many columns
_STATE_WIDTH = 6  # "RESULT", "WARN", "fix:"
_COMMAND = re.compile(r"`([^`]*)`")
# the errors a command turns into its one line (with Failure and OSError)
ERRORS = (ConfigFileError, ManagedBlockError, SettingsError, RenderError, ProxyError, HostnameError)


class Failure(Exception):
    """A one-line error for the user; the command exits with status 1."""


def fail(message: str, code: int = 1) -> "typer.Exit":
    """Say *message* as the command's one error line; returns the Exit to raise (status *code*)."""
    typer.echo(f"{PROG}: error: {one_line(message)}", err=True)
    return typer.Exit(code)


def warn(message: str) -> None:
    typer.echo(f"{PROG}: warning: {one_line(message)}", err=True)


def note(message: str) -> None:
    typer.echo(f"{PROG}: note: {message}", err=True)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn our errors into one line on stderr and exit status 1."""
    try:
        yield
    except (Failure,) + ERRORS as exc:
        raise fail(str(exc)) from None
    except BrokenPipeError:
        raise  # the reader went away (`setup --dry-run | head`): click stops quietly, status 1
    except OSError as exc:
        raise fail(f"{exc.filename or 'I/O error'}: {exc.strerror or exc}") from None


def output_lost(exc: OSError) -> str:
    """Standard output refused our text (a full disk, a closed pipe): point it at /dev/null, so that Python's
    last flush at exit raises nothing more, and return the one line to say on stderr."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):
        pass
    return f"cannot write the output: {exc.strerror or exc}"


def cjs() -> str:
    """condor-job-ssh as a message must spell it to work as printed (its absolute path when not on PATH)."""
    return ourcommands.command_word(PROG)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


# ----- asking and showing ----------------------------------------------------------------------------------
def stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def confirm(question: str, yes: bool) -> None:
    """Go on when *yes* or the user says so; Failure without a terminal to ask, exit 1 when the answer is no."""
    if yes:
        return
    if not stdin_is_terminal():
        raise Failure("standard input is not a terminal, so there is no one to ask: add --yes to apply the "
                      "changes shown above, or --dry-run to only show them")
    if not typer.confirm(question, default=True):
        typer.echo("Nothing was changed.")
        raise typer.Exit(1)


def echo_exact(text: str) -> None:
    """Print text taken from the user's file with its bytes as they are (a stray Latin-1 byte in a comment
    must neither stop us under a strict UTF-8 locale nor be changed)."""
    data = text.encode("utf-8", "surrogateescape")
    stream = sys.stdout
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        typer.echo(data.decode("utf-8", "replace"), nl=False)
        return
    stream.flush()
    buffer.write(data)
    buffer.flush()


def usage_line(exc: BaseException) -> str:
    """A usage error as our one line: `condor-job-ssh: error: MESSAGE (see COMMAND --help)`, the style of
    every other refusal, not click's three-line block."""
    message = " ".join(exc.format_message().split()) if hasattr(exc, "format_message") else str(exc)
    message = message.rstrip(".")
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None and getattr(ctx, "command_path", "") else "condor-job-ssh"
    return f"condor-job-ssh: error: {message} (see {where} --help)"


# ----- plain help ------------------------------------------------------------------------------------------
# Typer prints a positional argument as ``{JOB}`` in the usage line and as ``JOB <str>`` (or ``<list[str]>``)
# in its Arguments section, whatever metavar it was given.  A command made with ``cls=PlainCommand`` shows
# ``JOB`` in both places, and the argument's help beside it.
def _shown(param) -> str:
    return param.metavar or (param.name or "").upper()


class PlainCommand(TyperCommand):
    def collect_usage_pieces(self, ctx) -> List[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(_shown(param) if param.required else f"[{_shown(param)}]")
        return pieces

    def format_options(self, ctx, formatter) -> None:
        args, opts = [], []
        for param in self.get_params(ctx):
            if getattr(param, "hidden", False):
                continue
            if param.param_type_name == "argument":
                args.append((_shown(param), param.help or ""))
            elif param.param_type_name == "option":
                record = param.get_help_record(ctx)
                if record is not None:
                    opts.append(record)
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        if opts:
            with formatter.section("Options"):
                formatter.write_dl(opts)


# ----- doctor's table --------------------------------------------------------------------------------------
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


def _cell(text: str, indent: int, width: int) -> List[str]:
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


def table(rows: Sequence[Tuple[str, str, str, str]], width: int = WIDTH) -> List[str]:
    """The table's lines for (name, state, detail, fix) rows; the fix is shown only when given."""
    names = max([len("CHECK")] + [len(name) for name, _, _, _ in rows])
    indent = names + 2 + _STATE_WIDTH + 2
    out = [f"{'CHECK'.ljust(names)}  {'RESULT'.ljust(_STATE_WIDTH)}  DETAILS".rstrip()]
    for name, state, detail, fix in rows:
        for n, line in enumerate(_cell(detail, indent, width)):
            head = f"{name.ljust(names)}  {state.upper().ljust(_STATE_WIDTH)}  " if n == 0 else None
            out += _place(head, indent, line)
        if fix:
            for n, line in enumerate(_cell(fix, indent, width)):
                head = f"{' ' * names}  {'fix:'.ljust(_STATE_WIDTH)}  " if n == 0 else None
                out += _place(head, indent, line)
    return out
