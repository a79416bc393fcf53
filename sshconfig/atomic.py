"""Replace a file's content at once, leaving nothing behind when we are stopped.

The new content goes into a temporary file beside the target, named ``.<name>.cjp-<pid>-<random>.tmp``,
which is then renamed over the target.  SIGTERM, SIGINT and SIGHUP during the write remove the
temporary file before the signal takes its usual course; a SIGKILL cannot be caught, so the next run
(``safefs.sweep_temps``, under the config lock) removes temporary files of ours whose process is gone.  Shared by
the ssh config and settings.toml.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional, Union

from proxycmd import safefs


class ConfigFileError(Exception):
    """Reading or writing a file of the user's failed; str() is one line and says nothing was changed."""


def write_atomic(path: Union[str, os.PathLike], content: Union[str, bytes], *, mode: int = 0o600,
                 before_rename: Optional[Callable[[], None]] = None) -> Path:
    """Replace the file's content at once (safefs.write_atomic: temporary file in the same directory, then
    rename), with ConfigFileError's one line that says nothing was changed.

    A symlink is followed and its target written, so the link stays.  An existing file keeps its mode and
    owner; a new one gets *mode*, and a missing parent directory is made 0700.  *before_rename* runs when
    the new content is safely on disk, just before the rename; whatever it raises aborts the write (the
    temporary file is removed).  Returns the path written.
    """
    data = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
    try:
        return Path(safefs.write_atomic(path, data, mode=mode, follow_symlink=True, keep_mode_and_owner=True,
                                        make_parent=True, durable=True, remove_on_signals=True,
                                        before_rename=before_rename))
    except safefs.SafeWriteError as exc:
        if exc.step == "not-regular":
            raise ConfigFileError(f"cannot write {path}: it is not a regular file; nothing was changed") from None
        if exc.step in ("mkdir", "create"):
            parent = Path(os.path.realpath(path)).parent
            raise ConfigFileError(f"cannot write {path}: {exc.strerror} (in {parent}); nothing was changed") from None
        raise ConfigFileError(f"cannot write {path}: {exc.strerror}; nothing was changed") from None
