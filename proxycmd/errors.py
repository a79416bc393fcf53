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
