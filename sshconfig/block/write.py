"""The user's ssh config on disk: what we may read and write, one writer of ours at a time, no edit lost.

* Only a regular file is read: a FIFO, device, socket or directory is refused after a stat, before any
  open (and the open itself is non-blocking, in case the name changed in between).
* We refuse to write a read-only file (its mode says the user wants it left alone), a file with more than
  one hard link (a rename would split the link: the other names would keep the old text) and a symbolic
  link to a file that does not exist (we would create its directories somewhere unexpected).
* Every run of ours that writes the file holds one lock (``paths.config_lock``, keyed by the file's real
  path, in our private state directory).  Programs of the user's (an editor, ``echo >>``) take no lock,
  so just before the rename we check that the file is still what we read (inode, size and mtime first,
  then the bytes).  Lines appended meanwhile (``echo >> ~/.ssh/config``) pass the check: after the rename
  we read the old file through the descriptor we read it with, until it has been quiet for a moment, and
  append whatever was added to it to the new file.  Any other change (an editor saving the file) makes us
  start again from the new text; a file that keeps changing is refused with one line, nothing written.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import stat
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional, Tuple, Union

from proxycmd import paths, safefs

from .splice import block_text


LOCK_WAIT = 30.0  # seconds to wait for another run of ours to finish writing
ATTEMPTS = 5  # read-render-write rounds before we give up on a file that keeps changing
LATE_PAUSE = 0.05  # how long after the rename we look at the old file again

_sleep = time.sleep  # our own reference: tests that replace time.sleep to drive `sync --watch` keep ours

UNCHANGED, WRITTEN, DELETED = "unchanged", "written", "deleted"
DELETE = object()  # a transform's answer meaning "delete the file"

Transform = Callable[[Optional[str]], object]  # text (None: no file) -> new text, or DELETE


class ConfigFileError(Exception):
    """Reading or writing a file of the user's failed; str() is one line and says nothing was changed."""


class _Changed(Exception):
    """The file changed between our read and our rename."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _refuse_kind(path, mode: int) -> ConfigFileError:
    return ConfigFileError(f"{path} is {_kind(mode)}, not an ssh config file; nothing was read or changed")


def resolve(path: Union[str, os.PathLike]) -> Path:
    """The file to read and write for *path*: the path itself, or a symlink's final target.

    A symlink to a missing file is refused: writing would create the target (and its directories)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return Path(os.path.abspath(path))
    except OSError as exc:
        raise ConfigFileError(f"cannot read {path}: {exc.strerror}; nothing was changed") from None
    target = Path(os.path.realpath(path))
    if stat.S_ISLNK(st.st_mode) and not os.path.exists(target):
        raise ConfigFileError(f"{path} is a symbolic link to {os.readlink(path)}, which does not exist: create that "
                              "file (or remove the link) and run the command again; nothing was created")
    return target


def check_writable(path: Union[str, os.PathLike]) -> None:
    """ConfigFileError (one line) unless we may replace the file at *path* (a missing file is fine) and
    take the lock of writers of ours (in the state directory, which must pass the safe-chain rule)."""
    try:
        paths.check_state_dir()
    except paths.PathError as exc:
        raise ConfigFileError(f"cannot lock {path}: {exc}; nothing was changed") from None
    target = resolve(path)
    directory = os.path.dirname(target) or "."
    if os.path.isdir(directory) and not os.access(directory, os.W_OK | os.X_OK):  # the new text goes there first
        raise ConfigFileError(f"cannot write {path}: Permission denied in its directory {directory} (the new "
                              f"text is written beside it, then renamed over it); run `chmod u+w "
                              f"{shlex.quote(directory)}` and then the command again; nothing was changed")
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ConfigFileError(f"cannot read {path}: {exc.strerror}; nothing was changed") from None
    _check_stat(path, st)


def _check_stat(path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise _refuse_kind(path, st.st_mode)
    if not st.st_mode & stat.S_IWUSR:
        raise ConfigFileError(f"{path} is read-only (mode {stat.S_IMODE(st.st_mode):o}): to let condor-job-ssh "
                              f"change it, run `chmod u+w {shlex.quote(str(path))}` and then the command again; nothing was changed")
    if st.st_nlink > 1:
        raise ConfigFileError(f"{path} has {st.st_nlink} hard links, and writing it would split them (the other "
                              "names would keep the old text): make it one file, or a symbolic link, and run the "
                              "command again; nothing was changed")


# ----- reading ---------------------------------------------------------------------------------------------
class _Snapshot:
    """What we read: the bytes (None: no file), their stat, and the open descriptor (to see late writes)."""

    def __init__(self, data: Optional[bytes], st: Optional[os.stat_result], fd: Optional[int]) -> None:
        self.data, self.st, self.fd = data, st, fd

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _read_fd(fd: int) -> bytes:
    chunks = []
    offset = 0
    while True:
        chunk = os.pread(fd, 1 << 16, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


def _snapshot(path: Union[str, os.PathLike], shown: Union[str, os.PathLike, None] = None) -> _Snapshot:
    shown = path if shown is None else shown
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return _Snapshot(None, None, None)
    except OSError as exc:
        raise ConfigFileError(f"cannot read {shown}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise _refuse_kind(shown, st.st_mode)  # before any open: opening a FIFO to read waits for a writer
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        return _Snapshot(None, None, None)
    except OSError as exc:
        raise ConfigFileError(f"cannot read {shown}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse_kind(shown, st.st_mode)
        data = _read_fd(fd)
    except OSError as exc:
        os.close(fd)
        raise ConfigFileError(f"cannot read {shown}: {exc.strerror}") from None
    except BaseException:
        os.close(fd)
        raise
    if b"\0" in data:
        os.close(fd)
        raise ConfigFileError(f"{shown} is not a text file (it holds NUL bytes); nothing was changed")
    return _Snapshot(data, st, fd)


def decode(data: bytes) -> str:
    """Bytes as text that encodes back to exactly the same bytes (stray non-UTF-8 bytes survive)."""
    return data.decode("utf-8", "surrogateescape")


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def read_text(path: Union[str, os.PathLike]) -> Optional[str]:
    """The file's text (a symlink is followed), None when it does not exist; ConfigFileError otherwise."""
    snap = _snapshot(path)
    snap.close()
    return None if snap.data is None else decode(snap.data)


# ----- the lock ----------------------------------------------------------------------------------------------
def read_block(config: Union[str, os.PathLike]) -> Tuple[Optional[str], Optional[str]]:
    """The file's text (None when missing) and its managed block (LF line ends, None when absent)."""
    resolve(config)  # a symlink to nothing is refused here, before anything is shown or made
    text = read_text(config)
    block = block_text(text) if text is not None else None
    return text, block


@contextmanager
def locked(target: Path, wait: float = LOCK_WAIT) -> Iterator[Path]:
    """Hold the lock of the ssh config *target* (its real path) while the block runs."""
    try:
        lock_path = paths.config_lock(target)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except paths.PathError as exc:
        raise ConfigFileError(f"cannot lock {target}: {exc}") from None
    except OSError as exc:
        raise ConfigFileError(f"cannot lock {target}: {exc.strerror} ({exc.filename})") from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ConfigFileError(f"another condor-job-ssh run has been writing {target} for {wait:.0f} s "
                                          f"(it holds {lock_path}): try again when it is done; nothing was "
                                          "changed") from None
                _sleep(0.02)
        yield lock_path
    finally:
        os.close(fd)


# ----- writing ---------------------------------------------------------------------------------------------
def _key(st: os.stat_result) -> Tuple[int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _require_unchanged(target: Path, snap: _Snapshot, appends_ok: bool = False) -> None:
    """Raise _Changed unless *target* is still what *snap* read.  With *appends_ok*, lines appended to the
    same file pass: they stay readable through our descriptor and are carried over after the rename."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    if snap.st is None or st is None:
        if snap.st is not None or st is not None:
            raise _Changed()
        return
    if _key(st) == _key(snap.st):
        now = _snapshot(target)
        now.close()
        if now.data == snap.data:
            return
        raise _Changed()
    if not appends_ok or (st.st_dev, st.st_ino) != (snap.st.st_dev, snap.st.st_ino) or st.st_size < snap.st.st_size:
        raise _Changed()
    if _read_fd(snap.fd)[: len(snap.data)] != snap.data:
        raise _Changed()


def update(path: Union[str, os.PathLike], transform: Transform, attempts: int = ATTEMPTS) -> str:
    """Under the lock, read the file, give its text to *transform* and write the answer (DELETE: delete
    the file), without losing what anyone else writes meanwhile.  Returns UNCHANGED, WRITTEN or DELETED."""
    target = resolve(path)
    with locked(target):
        safefs.sweep_temps(target)
        return _update_locked(path, target, transform, attempts)


def _update_locked(path, target: Path, transform: Transform, attempts: int) -> str:
    for _ in range(attempts):
        snap = _snapshot(target, path)
        try:
            text = None if snap.data is None else decode(snap.data)
            new = transform(text)
            if new is not DELETE and new == text:
                return UNCHANGED
            if snap.st is not None:
                _check_stat(path, snap.st)
            try:
                if new is DELETE:
                    _require_unchanged(target, snap)  # strictly: a line added since means the file stays
                    os.unlink(target)
                    outcome = DELETED
                else:
                    write_file(target, encode(new),
                                        before_rename=lambda: _require_unchanged(target, snap, appends_ok=True))
                    outcome = WRITTEN
            except _Changed:
                continue
            except OSError as exc:
                raise ConfigFileError(f"cannot change {path}: {exc.strerror}; nothing was changed") from None
            _carry_over(path, target, snap)
            return outcome
        finally:
            snap.close()
    raise ConfigFileError(f"{path} kept changing while we tried to write it ({attempts} times): nothing was "
                          "changed; run the command again when the other program is done")


def _carry_over(path, target: Path, snap: _Snapshot, rounds: int = 40) -> None:
    """Lines appended to the old file after we read it (before our rename, or by a program that opened it
    before the rename and wrote after) are in the old file only: append them to the new one, until the old
    file has been quiet for a moment."""
    if snap.fd is None:
        return
    carried = snap.data
    quiet = False
    for _ in range(rounds):
        now = _read_fd(snap.fd)
        if now == carried:
            if quiet:
                return
            quiet = True
            _sleep(LATE_PAUSE)
            continue
        quiet = False
        if not now.startswith(carried):
            rescued = _rescue(target, now)
            raise ConfigFileError(f"{path} was rewritten by another program while we wrote it; that version is in "
                                  f"{rescued}: merge it by hand")
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            tail = memoryview(now)[len(carried):]
            while tail:
                tail = tail[os.write(fd, tail):]
            os.fsync(fd)
        finally:
            os.close(fd)
        carried = now


def _rescue(target: Path, data: bytes, tries: int = 100) -> Path:
    """Keep *data* in a new file beside *target*, ``NAME.rescued-TIME[-N]``: created with O_EXCL|O_NOFOLLOW,
    so a name planted there (the directory may be shared), a symbolic link above all, is never written
    through or replaced; the next free name is taken instead."""
    stamp = int(time.time())
    for n in range(tries):
        rescued = target.with_name(f"{target.name}.rescued-{stamp}" + (f"-{n}" if n else ""))
        try:
            safefs.write_new(rescued, data, durable=True)
        except FileExistsError:
            continue
        except OSError as exc:
            raise ConfigFileError(f"{target} was rewritten by another program while we wrote it, and its version "
                                  f"cannot be kept in {rescued}: {exc.strerror}") from None
        return rescued
    raise ConfigFileError(f"{target} was rewritten by another program while we wrote it, and {tries} names for "
                          f"its version beside it are taken already ({target.name}.rescued-{stamp}-N)")


# ----- writing and deleting (safefs.write_atomic, with the ssh config's texts) ---------------------------
def write_file(path: Union[str, os.PathLike], content: Union[str, bytes], *, mode: int = 0o600,
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


def delete_file(path: Union[str, os.PathLike]) -> Path:
    """Delete the file (the target, when *path* is a symlink: the link itself stays, as it was before)."""
    target = Path(os.path.realpath(path))
    try:
        os.unlink(target)
    except OSError as exc:
        raise ConfigFileError(f"cannot delete {path}: {exc.strerror}; nothing was changed") from None
    return target
