"""Read a file of settings only when it is the user's own: ssh's rule for ~/.ssh/config, applied to profiles
and config.toml.

What such a file says runs as the user (a profile becomes a job the user logs into), so a file that another
user owns or may write is refused, as ssh refuses a config file with "Bad owner or permissions": the file
(and every symbolic link on the way to it) must belong to the user or to root, and the file must not be
writable by its group or by others.  The file opened is the one checked (fstat of the open descriptor), so
a name swapped between the check and the read gains nothing.
"""

from __future__ import annotations

import os
import stat

from .errors import ProxyError, shown

_LINK_DEPTH = 40  # as the kernel's ELOOP limit


class NotOwnFile(ProxyError):
    """A file we refuse to read: str() is one line naming the file, its owner and the fix."""


def _owner(uid: int) -> str:
    import pwd

    try:
        return f"user {pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _trusted(uid: int) -> bool:
    return uid in (0, os.getuid())


def _check_links(path: str, what: str) -> None:
    """Every symbolic link from *path* to the file belongs to the user (or root)."""
    current = path
    for _ in range(_LINK_DEPTH):
        try:
            st = os.lstat(current)
        except OSError:
            return  # the open below says what is wrong
        if not stat.S_ISLNK(st.st_mode):
            return
        if not _trusted(st.st_uid):
            raise NotOwnFile(f"refusing to read {what} {shown(path)}: the symbolic link {shown(current)} belongs to "
                             f"{_owner(st.st_uid)}, not to you")
        current = os.path.join(os.path.dirname(current), os.readlink(current))


def check_own_file(path, what: str) -> None:
    """ssh's ownership rule for a file another program reads (the `ssh -F` file of --via-config: ssh checks
    only its own ~/.ssh/config); FileNotFoundError when missing, NotOwnFile when refused."""
    os.close(_open_own(path, what))


def read_own_text(path, what: str) -> str:
    """The text of *path*, after ssh's ownership rule; FileNotFoundError when missing, NotOwnFile when
    refused, UnicodeDecodeError for text that is not UTF-8, OSError for the rest."""
    fd = _open_own(path, what)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8")


def _open_own(path, what: str) -> int:
    """*path* opened for reading, once it passed ssh's ownership rule (checked on the open descriptor)."""
    text = os.fspath(path)
    _check_links(text, what)
    fd = os.open(text, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        target = os.path.realpath(text)
        if not stat.S_ISREG(st.st_mode):
            raise NotOwnFile(f"refusing to read {what} {shown(path)}: it is not a regular file")
        if not _trusted(st.st_uid):
            link = f" (a link to {shown(target)})" if target != text else ""
            raise NotOwnFile(f"refusing to read {what} {shown(path)}{link}: it belongs to {_owner(st.st_uid)}, "
                             "not to you; use a file of your own")
        if st.st_mode & 0o022:
            raise NotOwnFile(f"refusing to read {what} {shown(path)}: mode {stat.S_IMODE(st.st_mode):o} lets "
                             f"{'others' if st.st_mode & 0o002 else 'its group'} change it; run "
                             f"`chmod go-w {shown(target)}`")
    except BaseException:
        os.close(fd)
        raise
    return fd
