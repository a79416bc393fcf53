"""Replace a file's content at once, leaving nothing behind when we are stopped.

The new content goes into a temporary file beside the target, named ``.<name>.cjp-<pid>-<random>.tmp``,
which is then renamed over the target.  SIGTERM, SIGINT and SIGHUP during the write remove the
temporary file before the signal takes its usual course; a SIGKILL cannot be caught, so the next run
(``safefs.sweep_temps``, under the config lock) removes temporary files of ours whose process is gone.  Shared by
the ssh config and settings.toml.
"""

from __future__ import annotations

import os
import signal
import stat
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

from proxycmd import safefs

_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class ConfigFileError(Exception):
    """Reading or writing a file of the user's failed; str() is one line and says nothing was changed."""


@contextmanager
def _removed_on_signals(temp: Path) -> Iterator[None]:
    """While the block runs, SIGTERM/SIGINT/SIGHUP first remove *temp*, then act as they would have."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def handler(signum, frame):
        _unlink_quietly(temp)
        before = previous.get(signum, signal.SIG_DFL)
        signal.signal(signum, before if before is not None else signal.SIG_DFL)
        if callable(before):
            before(signum, frame)  # Python's SIGINT handler raises KeyboardInterrupt, sync --watch's too
        else:
            os.kill(os.getpid(), signum)  # the default action: end the process with this signal

    for signum in _SIGNALS:
        current = signal.getsignal(signum)
        if current is signal.SIG_IGN:
            continue  # ignored before: keep ignoring, and the write goes on
        previous[signum] = current
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before if before is not None else signal.SIG_DFL)


def write_atomic(path: Union[str, os.PathLike], content: Union[str, bytes], *, mode: int = 0o600,
                 before_rename: Optional[Callable[[], None]] = None) -> Path:
    """Replace the file's content at once (temporary file in the same directory, then rename).

    A symlink is followed and its target written, so the link stays.  An existing file keeps its mode and
    owner; a new one gets *mode*, and a missing parent directory is made 0700.  *before_rename* runs when
    the new content is safely on disk, just before the rename; whatever it raises aborts the write (the
    temporary file is removed).  Returns the path written.
    """
    data = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
    target = Path(os.path.realpath(path))
    try:
        old = os.stat(target)
    except FileNotFoundError:
        old = None
    except OSError as exc:
        raise ConfigFileError(f"cannot write {path}: {exc.strerror}; nothing was changed") from None
    if old is not None and not stat.S_ISREG(old.st_mode):
        raise ConfigFileError(f"cannot write {path}: it is not a regular file; nothing was changed")
    try:
        if not target.parent.is_dir():
            os.makedirs(target.parent, mode=0o700)
    except OSError as exc:
        raise ConfigFileError(f"cannot write {path}: {exc.strerror} (in {target.parent}); nothing was changed") from None
    temp = target.parent / safefs.temp_name(target)
    with _removed_on_signals(temp):
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise ConfigFileError(f"cannot write {path}: {exc.strerror} (in {target.parent}); "
                             "nothing was changed") from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fchmod(handle.fileno(), stat.S_IMODE(old.st_mode) if old else mode)
                if old is not None:
                    now = os.fstat(handle.fileno())
                    if (now.st_uid, now.st_gid) != (old.st_uid, old.st_gid):
                        os.fchown(handle.fileno(), old.st_uid, old.st_gid)
                os.fsync(handle.fileno())
            if before_rename is not None:
                before_rename()
            os.replace(temp, target)
        except OSError as exc:
            _unlink_quietly(temp)
            raise ConfigFileError(f"cannot write {path}: {exc.strerror}; nothing was changed") from None
        except BaseException:
            _unlink_quietly(temp)
            raise
    _sync_dir(target.parent)
    return target


def _unlink_quietly(path: Union[str, os.PathLike]) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _sync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
