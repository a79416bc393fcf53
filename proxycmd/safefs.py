"""Every careful file operation, in one place: private directories, the safe parent chain, is-this-pid-alive,
and (below) temporary names of ours and their sweeping.

``paths`` says *where* things are; this module says *how* a directory or a file is made or trusted.  The
rules (docs/security.md):

* A private directory is a real directory (lstat: never a symlink), ours, that nobody else can enter
  (``check_own_dir``; a simulated pool's root only needs that nobody else can write in it: ``others``).
* The safe chain: every directory above a path, from ``/`` down, symlinks followed and their targets checked
  too, belongs to root or to us and is writable by nobody else, sticky or not (``check_ancestors``): after a
  reboot anyone may create a name again in /tmp.
* A process is alive while it runs and, given its start token, is still the process that had it
  (``pid_alive``): a zombie has ended.

It runs on every connection (paths imports it), so its own imports stay ``os``, ``stat`` and ``sys``.
"""

from __future__ import annotations

import os
import stat
import sys

from .errors import ProxyError, shown

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import List, Optional

_SYMLINK_DEPTH = 40  # as the kernel's ELOOP limit
_STARTTIME_FIELD = 22
_GONE_STATES = ("Z", "X", "x")  # zombie or dead: exited, only waiting to be reaped
_TEMP_MARK = ".cjp-"  # our temporary files: ".NAME.cjp-PID-HEX.tmp"


class PathError(ProxyError):
    pass


def _mode(st) -> str:
    return f"{stat.S_IMODE(st.st_mode):o}"


# ----- directories -------------------------------------------------------------------------------------------
def check_own_dir(path, *, others: int = 0o077, what: "Optional[str]" = None, error=PathError,
                  st: "Optional[os.stat_result]" = None) -> None:
    """Raise *error* unless *path* is a real directory (not a symlink) owned by us whose mode has none of the
    bits *others*: 0o077, nobody else may enter (a private directory); 0o022, nobody else may write in it.
    *what* names the directory in the message ("refusing P as WHAT: ..."); *st*, its lstat when the caller
    has it (and words a missing path itself)."""
    if st is None:
        try:
            st = os.lstat(path)
        except OSError as exc:
            raise error(f"cannot use {path}: {exc.strerror}") from None
    refusing = f"refusing {path} as {what}" if what else f"refusing to use {path}"
    if stat.S_ISLNK(st.st_mode):
        raise error(f"{refusing}: it is a symbolic link")
    if not stat.S_ISDIR(st.st_mode):
        raise error(f"{refusing}: it is not a directory")
    if st.st_uid != os.getuid():
        raise error(f"{refusing}: it belongs to uid {st.st_uid}, not to you")
    if st.st_mode & others:
        lets = "lets others in (want 700)" if others == 0o077 else "lets others write in it"
        raise error(f"{refusing}: mode {_mode(st)} {lets}")


def mkdir_private(path) -> None:
    """Create the directory *path* with mode 0700 unless something is there already (checked by the caller)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise PathError(f"cannot create {shown(path)}: {exc.strerror}") from None


def make_private_dir(path):
    """Create *path* as a 0700 directory (its parent must exist) or verify the one that is there."""
    mkdir_private(path)
    check_own_dir(path)
    return path


def _check_ancestor(path: str, st, below: str, fix: str) -> None:
    """One directory above *below*: it must belong to root or to us and be writable by nobody else."""
    below, path = shown(below), shown(path)
    if st.st_uid not in (0, os.getuid()):
        raise PathError(f"refusing to use {below}: {path} belongs to uid {st.st_uid}, who could replace what is "
                        f"inside it; pick a directory that only you and root can write to, all the way up {fix}")
    if st.st_mode & 0o022:
        if st.st_mode & 0o002:
            who, why = "other users", ", sticky or not: after a reboot anyone may create the name again"
        else:
            who, why = "its group", ""
        import shlex  # a refusal only

        chmod = f"run `chmod go-w {shlex.quote(str(path))}`, or " if st.st_uid == os.getuid() and st.st_uid != 0 else ""
        raise PathError(f"refusing to use {below}: {path} is writable by {who} (mode {_mode(st)}{why}); "
                        f"{chmod}pick a directory that only you and root can write to, all the way up {fix}")


def check_ancestors(path: str, below: str, *, fix: str, depth: int = 0, missing_ok: bool = False) -> None:
    """The safe chain: check every directory from / down to *path* itself (included), following symlinks
    step by step: the directory holding a symlink is checked, and so is the chain of its target.  With
    *missing_ok*, a missing directory ends the check (we would create it, privately).  *below* is what the
    message refuses; *fix*, how the user picks another (a parenthesis)."""
    if depth > _SYMLINK_DEPTH:
        raise PathError(f"refusing to use {below}: too many symbolic links above it")
    current = "/"
    parts = [part for part in path.split("/") if part]
    for part in [""] + parts:
        current = os.path.join(current, part) if part else "/"
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            if missing_ok:
                return
            raise PathError(f"cannot use {below}: {current} does not exist") from None
        except OSError as exc:
            raise PathError(f"cannot use {below}: {current}: {exc.strerror}") from None
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(current)
            check_ancestors(os.path.join(os.path.dirname(current), target), below, fix=fix, depth=depth + 1,
                            missing_ok=missing_ok)
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise PathError(f"cannot use {shown(below)}: {shown(current)} is not a directory")
        _check_ancestor(current, st, below, fix)


# ----- processes -------------------------------------------------------------------------------------------
def proc_stat(pid: int) -> "Optional[list]":
    """Fields 3.. of /proc/PID/stat (after the command name), or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces or ')'.
    return raw[raw.rfind(b")") + 2:].split()


def _token_of(fields: "Optional[list]") -> "Optional[str]":
    index = _STARTTIME_FIELD - 3  # fields[0] is field 3
    return fields[index].decode() if fields and len(fields) > index else None


def start_token(pid: int) -> "Optional[str]":
    """A value that changes when *pid* is reused (Linux: process start time); None if unknown or gone."""
    if not sys.platform.startswith("linux"):
        return None
    return _token_of(proc_stat(pid))


def pid_alive(pid: int, token: "Optional[str]" = None) -> bool:
    """Is *pid* running (a zombie has ended) and, when *token* is given, still the process that had that start
    token?  Linux reads /proc; elsewhere ``kill(pid, 0)`` (a process of another user counts as alive)."""
    if pid <= 0:
        return False
    if sys.platform.startswith("linux"):
        fields = proc_stat(pid)
        if not fields or fields[0].decode() in _GONE_STATES:
            return False
        return token is None or _token_of(fields) == token
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


# ----- temporary files ---------------------------------------------------------------------------------------
def temp_name(target) -> str:
    """A temporary name of ours beside *target*: ``.NAME.cjp-PID-HEX.tmp`` (``sweep_temps`` knows it)."""
    return f".{os.path.basename(target)}{_TEMP_MARK}{os.getpid()}-{os.urandom(4).hex()}.tmp"


def _temp_writer(name: str, target_name: str) -> "Optional[int]":
    """The pid in *name* when it is one of our temporary names for *target_name*, else None."""
    if not (name.startswith(".") and name.endswith(".tmp")):
        return None
    base, mark, rest = name[1:-len(".tmp")].rpartition(_TEMP_MARK)
    pid, dash, hexpart = rest.partition("-")
    if not mark or base != target_name or not dash or not pid.isdigit() or not hexpart:
        return None
    if any(c not in "0123456789abcdef" for c in hexpart):
        return None
    return int(pid)


def sweep_temps(target) -> "List[str]":
    """Remove our temporary files for *target* whose writer is gone (a SIGKILL left them); returns what was
    removed.  Only regular files of ours with our name pattern are touched."""
    directory = os.path.dirname(os.fspath(target))
    name = os.path.basename(os.fspath(target))
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for entry in names:
        pid = _temp_writer(entry, name)
        if pid is None or pid_alive(pid):
            continue
        path = os.path.join(directory, entry)
        try:
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid():
                os.unlink(path)
                removed.append(path)
        except OSError:
            pass
    return removed


# ----- writing files -----------------------------------------------------------------------------------------
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class SafeWriteError(OSError):
    """A write that changed nothing: the OSError, with the *step* that failed ("stat", "not-regular", "mkdir",
    "create" or "write") so that a caller can word it (the ssh config's messages say where)."""

    def __init__(self, step: str, exc: "Optional[OSError]" = None, filename=None) -> None:
        if exc is not None:
            super().__init__(exc.errno, exc.strerror, filename if filename is not None else exc.filename)
        else:
            super().__init__(filename)
        self.step = step


def _unlink_quietly(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _sync_dir(directory) -> None:
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


class _Unguarded:
    """The context of a write that signals need not clean up after (contextlib stays off the hot path)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        return None


def _removed_on_signals(temp):
    """A context in which SIGTERM/SIGINT/SIGHUP first remove *temp*, then act as they would have."""
    import contextlib  # the ssh config and settings only: never on a connection's path
    import signal
    import threading

    @contextlib.contextmanager
    def guarded():
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

        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
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

    return guarded()


def write_atomic(path, data: bytes, *, mode: int = 0o600, follow_symlink: bool = False,
                 keep_mode_and_owner: bool = False, make_parent: bool = False, durable: bool = False,
                 remove_on_signals: bool = False, before_rename=None) -> str:
    """Replace the file's content at once: a fresh temporary file beside it (``temp_name``, O_EXCL|O_NOFOLLOW,
    so a symlink planted at either name is never written through), then a rename over it.  Returns the path
    written.  SafeWriteError (an OSError with its *step*) when nothing was changed.

    *follow_symlink*: a symlink at *path* is followed and its target written, so the link stays (else the
    link is replaced).  *keep_mode_and_owner*: an existing file keeps its mode and owner (and must be a
    regular file); a new one gets *mode*.  *make_parent*: a missing parent is made 0700.  *durable*: the
    file and its directory are fsynced.  *remove_on_signals*: SIGTERM/INT/HUP during the write remove the
    temporary file first (a SIGKILL cannot be caught: ``sweep_temps``).  *before_rename* runs when the new
    content is safely written, just before the rename; whatever it raises aborts the write."""
    target = os.path.realpath(path) if follow_symlink else os.fspath(path)
    parent = os.path.dirname(target) or "."
    old = None
    if keep_mode_and_owner:
        try:
            old = os.stat(target)
        except FileNotFoundError:
            old = None
        except OSError as exc:
            raise SafeWriteError("stat", exc) from None
        if old is not None and not stat.S_ISREG(old.st_mode):
            raise SafeWriteError("not-regular", filename=target)
    if make_parent:
        try:
            if not os.path.isdir(parent):
                os.makedirs(parent, mode=0o700)
        except OSError as exc:
            raise SafeWriteError("mkdir", exc) from None
    temp = os.path.join(parent, temp_name(target))
    with _removed_on_signals(temp) if remove_on_signals else _Unguarded():
        _write_temp(temp, target, data, mode if old is None else stat.S_IMODE(old.st_mode), old, durable,
                    before_rename)
    if durable:
        _sync_dir(parent)
    return target


def _write_temp(temp: str, target: str, data: bytes, mode: int, old, durable: bool, before_rename) -> None:
    try:
        fd = os.open(temp, _NEW_FILE, 0o600)
    except OSError as exc:
        raise SafeWriteError("create", exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            if old is not None:
                now = os.fstat(handle.fileno())
                if (now.st_uid, now.st_gid) != (old.st_uid, old.st_gid):
                    os.fchown(handle.fileno(), old.st_uid, old.st_gid)
            if durable:
                os.fsync(handle.fileno())
        if before_rename is not None:
            before_rename()
        os.replace(temp, target)
    except OSError as exc:
        _unlink_quietly(temp)
        raise SafeWriteError("write", exc) from None
    except BaseException:
        _unlink_quietly(temp)
        raise


def write_new(path, data: bytes, mode: int = 0o600, *, truncate: bool = False, durable: bool = False) -> None:
    """Write *data* to a file that did not exist (O_EXCL: FileExistsError when something is there), never
    through a symlink (O_NOFOLLOW); with *truncate*, an existing regular file of that name is overwritten
    instead.  *durable*: fsynced.  OSError as it comes."""
    flags = (_NEW_FILE & ~os.O_EXCL) | os.O_TRUNC if truncate else _NEW_FILE
    with os.fdopen(os.open(path, flags, mode), "wb") as out:
        out.write(data)
        if durable:
            out.flush()
            os.fsync(out.fileno())


def open_append(path, mode: int = 0o600) -> int:
    """An O_APPEND descriptor on *path* (created *mode* when missing), refusing to follow a symlink there."""
    return os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode)
