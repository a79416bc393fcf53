"""Who is on the other end of a unix socket, and is that process still the one we saw.

Linux reads SO_PEERCRED; macOS reads LOCAL_PEERPID and LOCAL_PEERCRED.  A *start token* tells a live
process from a later one that got the same pid: on Linux the start time from /proc/PID/stat (field 22);
elsewhere there is none and liveness is just ``kill(pid, 0)``.
"""

from __future__ import annotations

import socket
import struct
import sys
from typing import NamedTuple, Optional

# liveness is one check for every caller (safefs); the agent still asks it here
from ..safefs import pid_alive as process_alive, proc_stat as _proc_stat, start_token  # noqa: F401

_SOL_LOCAL = 0  # macOS <sys/un.h>
_LOCAL_PEERCRED = 1
_LOCAL_PEERPID = 2
_XUCRED = struct.Struct("=Ii")  # struct xucred starts with u_int cr_version, uid_t cr_uid
_XUCRED_SIZE = 76  # the whole struct: version, uid, short ngroups (padded), gid_t groups[16]
_UCRED = struct.Struct("=3i")  # Linux struct ucred: pid, uid, gid
_INT = struct.Struct("=i")


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


# -- the parent of a process: is the registering proxy still the child of the ssh it registers? -----------------

_PROC_PIDTBSDINFO = 3  # macOS <sys/proc_info.h>
_BSDINFO_SIZE = 136  # sizeof(struct proc_bsdinfo)
_BSDINFO_PPID = struct.Struct("=I")  # pbi_ppid, after pbi_flags, pbi_status, pbi_xstatus, pbi_pid
_BSDINFO_PPID_OFFSET = 16


def parent_method(platform: Optional[str] = None) -> str:
    """How this platform tells a process's parent: "proc" (Linux), "libproc" (macOS) or "ps" (the rest)."""
    platform = sys.platform if platform is None else platform
    if platform.startswith("linux"):
        return "proc"
    if platform == "darwin":
        return "libproc"
    return "ps"


def parent_pid(pid: int) -> Optional[int]:
    """The parent process id of *pid*, or None when it cannot be told (no such process)."""
    method = parent_method()
    if method == "proc":
        fields = _proc_stat(pid)
        return int(fields[1]) if fields and len(fields) > 1 else None
    if method == "libproc":
        found = _libproc_parent(pid)
        if found is not None:
            return found
    return _ps_parent(pid)


def _libproc_parent(pid: int) -> Optional[int]:
    """macOS: proc_pidinfo(PROC_PIDTBSDINFO), the call ps itself uses; None when it fails."""
    import ctypes
    import ctypes.util

    try:
        libproc = ctypes.CDLL(ctypes.util.find_library("proc") or "libproc.dylib", use_errno=True)
    except OSError:
        return None
    buf = ctypes.create_string_buffer(_BSDINFO_SIZE)
    got = libproc.proc_pidinfo(ctypes.c_int(pid), ctypes.c_int(_PROC_PIDTBSDINFO), ctypes.c_uint64(0), buf,
                               ctypes.c_int(_BSDINFO_SIZE))
    if got != _BSDINFO_SIZE:
        return None
    return _BSDINFO_PPID.unpack_from(buf.raw, _BSDINFO_PPID_OFFSET)[0]


def _ps_parent(pid: int) -> Optional[int]:
    import subprocess

    try:
        done = subprocess.run(["ps", "-o", "ppid=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    text = done.stdout.strip()
    return int(text) if done.returncode == 0 and text.isdigit() else None


def command_line(pid: int) -> Optional[str]:
    """*pid*'s command line as one line (its words joined by blanks), or None when it cannot be read.  A
    process may rewrite it (ssh's ControlMaster titles itself "ssh: <ControlPath> [mux]")."""
    if sys.platform.startswith("linux"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                raw = handle.read(8192)
        except OSError:
            return None
        return " ".join(word.decode("utf-8", "replace") for word in raw.split(b"\0") if word)
    import subprocess

    try:
        done = subprocess.run(["ps", "-ww", "-o", "args=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None
