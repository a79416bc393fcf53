"""Talk to a simulated pool: start and stop it, change its queue, and ask it for ssh sessions."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection

from .. import pystart
from ..errors import SessionRefused
from . import protocol, rootdir

if TYPE_CHECKING:
    from typing import List, Optional, Sequence, Tuple

POOL_SOCKET = "pool.sock"
POOL_LOG = "pool.log"
CONNECT_PATIENCE = 30.0  # seconds of EAGAIN (the daemon's accept queue full) before giving up


PoolError = rootdir.PoolError  # RootError is one: every `except PoolError` also catches a refused root


class SimPool:
    """A handle on the pool under *root* (nothing is contacted until a request is made)."""

    def __init__(self, root: "str | os.PathLike[str]") -> None:
        self.root = Path(os.path.abspath(os.path.expanduser(str(root))))
        self.socket_path = self.root / POOL_SOCKET

    # ----- plumbing -------------------------------------------------------------------------------
    def _not_running(self) -> PoolError:
        import shlex

        from ..ourcommands import command_word

        return PoolError(f"no simulated pool runs in {self.root}; start one with "
                         f"`{command_word('condor-job-ssh')} sim start --root {shlex.quote(str(self.root))}`")

    def _connect(self) -> socket.socket:
        # Trust pool.sock only in a root that is ours and private: after a reboot another user could
        # otherwise make /tmp/x/pool.sock and serve us sessions of their choosing.
        if not os.path.lexists(self.root):
            raise self._not_running()
        rootdir.check_root(self.root)
        delay = 0.005
        deadline = time.monotonic() + CONNECT_PATIENCE
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.socket_path))
                return sock
            except BlockingIOError:  # EAGAIN: the accept queue is full for a moment (a burst); wait our turn
                sock.close()
                if time.monotonic() >= deadline:
                    raise PoolError(f"the simulated pool in {self.root} is too busy to accept a connection") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
                continue
            except BaseException:
                sock.close()
                raise

    def _connect_once(self) -> socket.socket:
        try:
            return self._connect()
        except (FileNotFoundError, ConnectionRefusedError):
            raise self._not_running() from None
        except OSError as exc:
            raise PoolError(f"cannot reach the simulated pool in {self.root}: {exc.strerror}") from None

    def request(self, op: str, **args) -> Tuple[dict, List[int]]:
        with self._connect_once() as sock:
            try:
                protocol.send(sock, {"op": op, **args})
            except protocol.ProtocolError as exc:  # a profile with a 2 MB line, say
                raise PoolError(f"cannot ask the simulated pool in {self.root}: {exc}") from None
            except OSError as exc:
                raise PoolError(f"the simulated pool in {self.root} closed the connection: "
                                f"{exc.strerror or exc}") from None
            try:
                return protocol.recv(sock)
            except protocol.ProtocolError as exc:
                raise PoolError(f"the simulated pool in {self.root} failed to answer: {exc}") from None

    def call(self, op: str, **args) -> dict:
        reply, fds = self.request(op, **args)
        for fd in fds:
            os.close(fd)
        if not reply.get("ok"):
            raise PoolError(reply.get("error") or "the simulated pool refused")
        return reply

    def running(self) -> bool:
        try:
            self.call("ping")
            return True
        except PoolError:
            return False

    # ----- lifecycle ------------------------------------------------------------------------------
    def start(self, keygen_options: str = "", timeout: float = 10.0, create_parents: bool = False,
              idle_delay: float = 0.0, schedds: Sequence[str] = ()) -> bool:
        """Start the daemon unless one answers already; True when this call started it.

        The root is created (mode 0700) or verified first: ours, not a symlink, not writable by others, in
        a parent no one else can replace it in (see rootdir).  *create_parents*: make missing parents too
        (the default root); an explicit root's parent must exist.  *schedds*: named schedds the pool serves
        besides its default one (job ids repeat across them)."""
        if len(os.fsencode(str(self.socket_path))) > 103:
            raise PoolError(f"pool root {self.root} is too long for a unix socket path; use a shorter --root")
        created = rootdir.make_root(self.root, create_parents=create_parents)
        if not created and self.running():
            return False
        import subprocess

        log_path = self.root / POOL_LOG
        with open(rootdir.open_append(log_path), "ab") as log:
            log_start = log.seek(0, os.SEEK_END)
            args = ["--root", str(self.root), "--keygen-options", keygen_options] \
                + (["--created-root"] if created else []) + (["--idle-delay", str(idle_delay)] if idle_delay else []) \
                + [word for name in schedds for word in ("--schedd", name)]
            # isolated and in "/": never the caller's working directory on its path (pystart)
            daemon = subprocess.Popen(pystart.module_argv("proxycmd.sim.daemon", *args), cwd=pystart.CWD,
                                      stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                      close_fds=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.running():
                return True
            if daemon.poll() is not None:
                raise PoolError(_last_line(log_path, log_start) or f"the simulated pool did not start; see {log_path}")
            time.sleep(0.05)
        raise PoolError(f"the simulated pool did not start; see {log_path}")

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the daemon and every job; False when none was running."""
        try:
            self.call("stop")
        except rootdir.RootError:
            raise
        except PoolError:
            return False
        deadline = time.monotonic() + timeout
        while self.socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return True

    # ----- queue ----------------------------------------------------------------------------------
    # *schedd*: a named schedd of the pool; None or "": its default one (`jobs`: None lists every schedd's jobs,
    # "" the default one's)
    def submit(self, cmd: Sequence[str], *, idle: bool = False, env: Optional[dict] = None,
               owner: Optional[str] = None, batch_name: str = "", schedd: Optional[str] = None) -> dict:
        return self.call("submit", cmd=list(cmd), idle=idle, env=env or {}, owner=owner,
                         batch_name=batch_name, schedd=schedd)["job"]

    def submit_description(self, description: dict, owner: Optional[str] = None,
                           schedd: Optional[str] = None) -> dict:
        """Submit one job from a submit description (a dict of commands), as condor_submit would."""
        return self.call("submit_description", description=dict(description), owner=owner, schedd=schedd)["job"]

    def jobs(self, schedd: Optional[str] = None) -> List[dict]:
        return self.call("list", schedd=schedd)["jobs"]

    def schedds(self) -> Tuple[str, List[str]]:
        """(the default schedd's name, the names of every schedd of the pool, the default one first)."""
        reply = self.call("schedds")
        return reply["default"], list(reply["schedds"])

    def change(self, op: str, cluster: int, proc: int = 0, schedd: Optional[str] = None, **args) -> dict:
        return self.call(op, cluster=cluster, proc=proc, schedd=schedd, **args)["job"]

    def open_session(self, cluster: int, proc: int, *, keygen_options: Sequence[str] = (),
                     shells: Sequence[str] = (), schedd: Optional[str] = None) -> Tuple[dict, socket.socket]:
        """Ask the pool's starter for a session; raise SessionRefused as a real pool would."""
        reply, fds = self.request("session", cluster=cluster, proc=proc, keygen_options=list(keygen_options),
                                  shells=list(shells), schedd=schedd)
        if not reply.get("ok"):
            for fd in fds:
                os.close(fd)
            raise SessionRefused(reply.get("error") or "the pool refused", retryable=bool(reply.get("retryable")),
                                 status=reply.get("status") or "")
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise PoolError("the simulated pool answered without a connection")
        return reply, socket.socket(fileno=fds[0])


def _last_line(path: Path, offset: int) -> str:
    """The last line the daemon wrote to its log after *offset* (its one-line reason for not starting)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            lines = handle.read(65536).decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""
