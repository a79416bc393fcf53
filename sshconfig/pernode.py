"""Whether the block names one runtime directory per login node (``host-%l``) or literal paths.

A unix socket answers only in the kernel that bound it, so a runtime directory that several machines share (a
home on NFS, Lustre, GPFS, ...) needs one agent directory per machine, which ssh names with ``%l``.  No SSH
library or editor that reads ssh_config itself expands ``%l`` (paramiko, asyncssh, Fabric, ssh2's
``ssh-config``, open-remote-ssh), so where one machine owns the runtime directory the block names it
literally (proxycmd/paths.py: ``ONE_HOST_DIR``).  `setup --per-node-paths auto|yes|no` decides; ``auto``:

- laptop mode (``--via``): literal, the runtime directory is this machine's;
- otherwise from the type of the runtime directory's file system, as the kernel reports it for that very
  directory (statfs(2)'s ``f_type``).  That is chosen over a longest-prefix match in
  /proc/self/mountinfo because the kernel answers for the path itself: no mount point to parse (escaped
  blanks, bind mounts, a mount stacked over another, an automounted home not yet listed, symbolic links on
  the way), and nothing to get wrong in another mount namespace.  Its one blind spot is FUSE, which hides
  the file system behind it (sshfs, GlusterFS, ceph-fuse): counted as a network one.

Off Linux (macOS laptops without --via) the type is not read: literal paths, and the line says how to force
per-node ones.
"""

from __future__ import annotations

import os
import sys
from typing import Optional, Tuple

# statfs(2) f_type magic numbers (linux/magic.h, and each file system's own sources for those outside it).
NETWORK = {
    0x6969: "NFS", 0x517B: "SMB", 0xFF534D42: "CIFS", 0xFE534D42: "SMB2", 0x5346414F: "AFS",
    0x6B414653: "AFS", 0x00C36400: "CephFS", 0x0BD00BD0: "Lustre", 0x47504653: "GPFS",
    0x19830326: "BeeGFS", 0x73757245: "Coda", 0x01021997: "9P", 0x564C: "NCP", 0x7461636F: "OCFS2",
    0x01161970: "GFS2", 0xAAD7AAEA: "PanFS", 0x20030528: "OrangeFS", 0x65735546: "FUSE",
}
LOCAL = {
    0xEF53: "ext2/3/4", 0x58465342: "XFS", 0x9123683E: "Btrfs", 0x01021994: "tmpfs", 0x2FC12FC1: "ZFS",
    0x794C7630: "overlayfs", 0xF2F52010: "F2FS", 0xF15F: "eCryptfs", 0x3153464A: "JFS", 0x52654973: "ReiserFS",
    0x4D44: "FAT", 0x5346544E: "NTFS", 0xCA451A4E: "bcachefs",
}


def fs_type(path: str) -> Optional[int]:
    """statfs(2)'s f_type for *path* (its nearest existing directory above when it does not exist yet), or
    None off Linux or when the call fails."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(512)  # struct statfs is 120 bytes on 64-bit Linux; f_type comes first
    if libc.statfs(os.fsencode(path), buf) != 0:
        return None
    # f_type is a C long (__fsword_t), except on s390x, where it is a 32-bit unsigned int
    kind = ctypes.c_uint if os.uname().machine == "s390x" else ctypes.c_long
    return kind.from_buffer(buf).value & 0xFFFFFFFF


def decide(setting: str, rundir: str, via: bool) -> Tuple[bool, str]:
    """(per node?, the one line `setup` prints saying which and why) for ``--per-node-paths`` *setting*."""
    return explain(setting, rundir, via, fs_type(rundir) if setting == "auto" and not via else None)


def explain(setting: str, rundir: str, via: bool, kind: Optional[int]) -> Tuple[bool, str]:
    """``decide`` for a file system of statfs type *kind* (None: not known)."""
    literal = "Runtime paths: literal"
    per_node = "Runtime paths: one directory per login node (host-%l)"
    if setting == "yes":
        return True, f"{per_node}, as --per-node-paths yes asks."
    if setting == "no":
        return False, f"{literal}, as --per-node-paths no asks (use it only where no other machine shares {rundir})."
    if via:
        return False, (f"{literal}: laptop mode (--via), {rundir} is this machine's alone; "
                       "`setup --per-node-paths yes` to change it.")
    if kind is None:
        return False, (f"{literal}: the file system type of {rundir} is not known here; `setup --per-node-paths "
                       "yes` if other machines share it.")
    if kind in NETWORK:
        return True, (f"{per_node}: {rundir} is on {NETWORK[kind]}, which other machines may share; `setup "
                      "--per-node-paths no` writes literal paths (for SSH libraries and editors) if none does.")
    name = LOCAL.get(kind, f"a local file system (type {kind:#x})")
    return False, (f"{literal}: {rundir} is on {name}, this machine's own; `setup --per-node-paths yes` if "
                   "other machines share it.")
