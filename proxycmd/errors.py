"""Failures the user sees as one line on stderr."""

from __future__ import annotations


class ProxyError(Exception):
    """A failure with a one-line explanation; the CLI prints it and exits with ``exit_code``."""

    exit_code = 1


class UsageError(ProxyError):
    exit_code = 2


class SessionRefused(ProxyError):
    """The pool would not open an ssh session to the job.

    ``retryable`` is true while the job may still become reachable (idle, transferring input, starter not
    ready); ``status`` is a short word for progress lines ("idle", "held", ...).
    """

    def __init__(self, message: str, *, retryable: bool = False, status: str = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class Interrupted(ProxyError):
    exit_code = 130


def shown(value) -> str:
    """A path or name as a message prints it: its control characters escaped (``\\n``, ``\\r``, ``\\x0c``, as
    Python writes them), so a hostile name can neither break the one line nor move the terminal's cursor."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)


MAX_LINE = 1000  # characters of one message: what another program said, quoted in it, may be a flood


def one_line(message: str, limit: int = MAX_LINE) -> str:
    """*message* as exactly one line: every control character escaped (see ``shown``), line breaks and tabs
    included (a path or name holding one shows it; other programs' output is made one line where it is
    quoted), runs of spaces made one, and at most *limit* characters (cut with "...")."""
    text = str(message)
    if len(text) > 4 * limit:  # never escape and split a flood: only what can be shown
        text = text[:4 * limit]
    line = " ".join(shown(text).split())
    return line if len(line) <= limit else line[:limit - 4].rstrip() + " ..."
