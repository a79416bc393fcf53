"""The simulated pool's root directory: ours and private, or refused (issue 8, item 8).

The daemon writes a forced-command script, job sandboxes and session keys under its root, and the
ProxyCommand trusts whatever answers on ``<root>/pool.sock``.  So a root must be a real directory (never
a symbolic link, checked with lstat) that belongs to us and that no one else may write; and the directory
it sits in must not let another user rename it away or plant it before us (ours or root's, and not
writable by others unless sticky, like /tmp).  Directories we make are made with mode 0700 and checked
again after mkdir; files are created with O_NOFOLLOW (see `write_file`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .. import safefs
from ..errors import ProxyError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import List


class PoolError(ProxyError):
    """The simulated pool cannot be used (re-exported by `client`)."""


class RootError(PoolError):
    """The pool's root is not ours and private, or cannot be made."""


def _lstat(path: Path) -> os.stat_result:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        raise RootError(f"the simulated pool's root {path} does not exist") from None
    except OSError as exc:
        raise RootError(f"cannot use {path} as the simulated pool's root: {exc.strerror}") from None


def check_ours(path: Path, what: str = "the simulated pool's root") -> None:
    """Raise RootError unless *path* is a directory (not a symlink) of ours that group and others cannot write."""
    safefs.check_own_dir(path, others=0o022, what=what, error=RootError, st=_lstat(path))


def check_parent(parent: Path, child: Path) -> None:
    """The directory *child* lives in must not let another user replace or pre-create *child*."""
    try:
        st = os.stat(parent)  # may be a symlink such as macOS's /tmp -> private/tmp: its target counts
    except FileNotFoundError:
        raise RootError(f"cannot create {child}: its parent {parent} does not exist") from None
    except OSError as exc:
        raise RootError(f"cannot use {child}: {parent}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise RootError(f"cannot create {child}: {parent} is not a directory")
    if st.st_uid not in (0, os.getuid()):
        raise RootError(f"refusing {child}: its parent {parent} belongs to uid {st.st_uid}, who could replace it")
    if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
        raise RootError(f"refusing {child}: its parent {parent} (mode {stat.S_IMODE(st.st_mode):o}) lets others "
                        "replace it")


def check_root(root: Path) -> None:
    """What a client checks before it trusts ``<root>/pool.sock``."""
    check_ours(root)
    check_parent(root.parent, root)


def make_dir(path: Path, what: str = "the simulated pool's root") -> bool:
    """Create *path* with mode 0700 in a parent that passes `check_parent`, or verify the one that is
    there; True when this call created it."""
    check_parent(path.parent, path)
    try:
        os.mkdir(path, 0o700)
        created = True
    except FileExistsError:
        created = False
    except OSError as exc:
        raise RootError(f"cannot create {path}: {exc.strerror}") from None
    check_ours(path, what)
    return created


def make_root(root: Path, create_parents: bool = False) -> bool:
    """Create or verify a pool root; True when this call created the root itself.

    An explicit root must have an existing parent (a typo should not build a tree of directories); the
    default root (under the state directory) gets its missing parents, each made 0700 and checked."""
    if create_parents:
        missing: List[Path] = []
        parent = root.parent
        while not os.path.lexists(parent) and parent != parent.parent:
            missing.append(parent)
            parent = parent.parent
        for directory in reversed(missing):
            make_dir(directory, "a parent of the simulated pool's root")
    return make_dir(root)


def write_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace *path* with *data*: a fresh temporary file (O_EXCL|O_NOFOLLOW) renamed over it, so a symlink
    planted at either name is replaced, never written through (safefs.write_atomic)."""
    safefs.write_atomic(path, data, mode=mode)


def open_append(path: Path, mode: int = 0o600) -> int:
    """An O_APPEND descriptor on *path*, refusing to follow a symlink planted there."""
    try:
        return safefs.open_append(path, mode)
    except OSError as exc:
        raise RootError(f"cannot write {path}: {exc.strerror}") from None
