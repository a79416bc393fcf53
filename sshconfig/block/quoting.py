"""Values written into the ssh config, safely: one ProxyCommand word (`shell_word`), one path option value
(`config_path`); `RenderError` for a value that cannot be written (one line)."""

from __future__ import annotations


class RenderError(ValueError):
    """A value that cannot be written into ssh_config safely; str() is one line."""


# ----- quoting ----------------------------------------------------------------------------------------------
def _check_line(value: str, what: str) -> str:
    if not value.isprintable():
        raise RenderError(f"{what} {value!r} holds a control character and cannot go into ssh_config")
    return value


def shell_word(value: str, what: str = "value") -> str:
    """One ProxyCommand word: ssh expands %-tokens, then the user's shell reads it, so escape both."""
    value = _check_line(value, what).replace("%", "%%")
    return "'" + value.replace("'", "'\\''") + "'"


def config_path(directory: str, name: str, what: str = "path") -> str:
    """*directory*/*name* as an ssh_config option value: the directory %-escaped (the name may hold
    tokens such as %C), double-quoted when it has blanks."""
    _check_line(directory, what)
    if not directory.startswith("/") or '"' in directory or "\\" in directory or "${" in directory:
        raise RenderError(f"{what} {directory!r} must be absolute and free of '\"', '\\' and '${{'")
    path = directory.rstrip("/").replace("%", "%%") + "/" + name
    return f'"{path}"' if any(c in path for c in " \t#'") else path
