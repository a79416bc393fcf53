"""Whether a session's sshd can give the user a terminal on this machine.

A simulated pool's sshd runs as the user, as a real starter's does.  When it allocates a pty for an
interactive shell, OpenSSH makes the terminal the user's and group `tty` (sshd.c pty_setowner: chown to
the user and the tty group, unless it already has them).  Where /dev/pts is mounted without `gid=5`, a
new terminal gets the user's own group, and only root, or a member of group tty, may change it: sshd then
gives up and ssh shows only "Connection ... closed".  Commands, scp, rsync and sftp need no terminal and
work.  `pty_problem` probes exactly that with one pty of its own and says it in one sentence.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import Optional


def pty_problem() -> Optional[str]:
    """One sentence when an sshd running as this user cannot set up a terminal here, else None."""
    if os.getuid() == 0:
        return None  # root's sshd may chown anything
    try:
        import grp

        tty_gid = grp.getgrnam("tty").gr_gid
    except (ImportError, KeyError):
        return None  # no tty group: sshd keeps the user's own group, which needs no chown
    try:
        leader, follower = os.openpty()
    except OSError as exc:
        return (f"interactive shells cannot work here: no terminal can be opened ({exc.strerror}); "
                "commands, scp, rsync and sftp still work")
    try:
        gid = os.fstat(follower).st_gid
    finally:
        os.close(follower)
        os.close(leader)
    if gid == tty_gid or tty_gid in os.getgroups():
        return None
    return (f"interactive shells fail on this machine: new terminals in /dev/pts get group {gid}, not tty "
            f"({tty_gid}), and a job's sshd running as you cannot change that, so a shell (ssh with no command) "
            "only says the connection closed; commands, scp, rsync and sftp work (an admin fixes it by "
            "mounting devpts with gid=5,mode=620)")
