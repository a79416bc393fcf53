"""Who is on the other end of a unix socket, and is that process still the one we saw.

Linux reads SO_PEERCRED; macOS reads LOCAL_PEERPID and LOCAL_PEERCRED.  A *start token* tells a live
process from a later one that got the same pid: on Linux the start time from /proc/PID/stat (field 22);
elsewhere there is none and liveness is just ``kill(pid, 0)``.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from typing import NamedTuple, Optional

_SOL_LOCAL = 0  # macOS <sys/un.h>
_LOCAL_PEERCRED = 1
_LOCAL_PEERPID = 2
_XUCRED = struct.Struct("=Ii")  # struct xucred starts with u_int cr_version, uid_t cr_uid
_XUCRED_SIZE = 76  # the whole struct: version, uid, short ngroups (padded), gid_t groups[16]
_UCRED = struct.Struct("=3i")  # Linux struct ucred: pid, uid, gid
_INT = struct.Struct("=i")
_STARTTIME_FIELD = 22
_GONE_STATES = ("Z", "X", "x")  # zombie or dead: exited, only waiting to be reaped


class Peer(NamedTuple):
    pid: int
    uid: int


def peer_credentials(sock: socket.socket) -> Peer:
    """The pid and uid of the process that connected *sock*; OSError where the platform cannot tell."""
    if sys.platform.startswith("linux"):
        pid, uid, _gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
        return Peer(pid, uid)
    if sys.platform == "darwin":
        pid = _INT.unpack(sock.getsockopt(_SOL_LOCAL, _LOCAL_PEERPID, _INT.size))[0]
        raw = sock.getsockopt(_SOL_LOCAL, _LOCAL_PEERCRED, _XUCRED_SIZE)
        _version, uid = _XUCRED.unpack_from(raw)
        return Peer(pid, uid)
    raise OSError(f"reading a socket peer's process id is not supported on {sys.platform}")


def _proc_stat(pid: int) -> Optional[list]:
    """Fields 3.. of /proc/PID/stat (after the command name), or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces or ')'.
    return raw[raw.rfind(b")") + 2:].split()


def start_token(pid: int) -> Optional[str]:
    """A value that changes when *pid* is reused (Linux: process start time); None if unknown or gone."""
    if not sys.platform.startswith("linux"):
        return None
    return _token_of(_proc_stat(pid))


def _token_of(fields: Optional[list]) -> Optional[str]:
    index = _STARTTIME_FIELD - 3  # fields[0] is field 3
    return fields[index].decode() if fields and len(fields) > index else None


def process_alive(pid: int, token: Optional[str]) -> bool:
    """Is *pid* running and, when *token* is given, still the process that had that start token?"""
    if pid <= 0:
        return False
    if sys.platform.startswith("linux"):
        fields = _proc_stat(pid)
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
