"""Telling a user whose shell will die before it starts why, in one sentence (issue 28, item 2).

Where /dev/pts is mounted without `gid=5`, a job's sshd that does not run as root cannot give a session a
terminal (proxycmd/sim/ptycheck.py): it dies at the pty request, and ssh says at most "Connection to HOST
closed by remote host" (over a shared connection, with the block's old `LogLevel ERROR`, nothing at all).
We can know it before the hand-over exactly when the session's sshd runs on this machine as us: always on
the simulated pool, and on a real pool whose starter is here (a personal pool, this project's CI).  The
peer of the session's socket tells: an AF_UNIX socket, or a TCP peer on a loopback or one of this
machine's own addresses.  On the failure path only (the parent ssh wants a terminal) do we look at all.
"""

from __future__ import annotations

import os
import sys

import _socket  # not socket: its import (enum, selectors, functools) costs every connection milliseconds


def sshd_is_here(sock: "_socket.socket") -> bool:
    """Whether the sshd at the other end of *sock* (a starter's connection) runs on this machine."""
    try:
        if sock.family == _socket.AF_UNIX:
            return True
        if sock.family not in (_socket.AF_INET, _socket.AF_INET6):
            return False
        peer = sock.getpeername()[0]
        mine = sock.getsockname()[0]
    except OSError:
        return False
    if peer.startswith("::ffff:"):
        peer = peer[7:]
    # our own end's address is one of this machine's: a starter that answers on it is here too
    return peer.startswith("127.") or peer == "::1" or peer == mine


def say_if_no_terminal(parent: int, sock: "_socket.socket", sim: bool) -> None:
    """Write our one sentence on stderr when the ssh that runs us wants a terminal and the job's sshd,
    running here as us, cannot give one."""
    if os.getuid() == 0:
        return  # root's sshd may chown anything
    from .sshparent import wants_terminal

    if not wants_terminal(parent) or not (sim or sshd_is_here(sock)):
        return
    from .sim.ptycheck import pty_problem

    problem = pty_problem()
    if problem:
        sys.stderr.write(f"condor-job-proxy: {problem}\n")
        sys.stderr.flush()
