"""Talk to a simulated pool: start and stop it, change its queue, and ask it for ssh sessions."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection

from ..errors import ProxyError, SessionRefused
from . import protocol

if TYPE_CHECKING:
    from typing import List, Optional, Sequence, Tuple

POOL_SOCKET = "pool.sock"


class PoolError(ProxyError):
    pass


class SimPool:
    """A handle on the pool under *root* (nothing is contacted until a request is made)."""

    def __init__(self, root: "str | os.PathLike[str]") -> None:
        self.root = Path(os.path.abspath(os.path.expanduser(str(root))))
        self.socket_path = self.root / POOL_SOCKET

    # ----- plumbing -------------------------------------------------------------------------------
    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self.socket_path))
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            raise PoolError(f"no simulated pool runs in {self.root}; start one with "
                            f"`condor-job-ssh sim start --root {self.root}`") from None
        except OSError as exc:
            sock.close()
            raise PoolError(f"cannot reach the simulated pool in {self.root}: {exc.strerror}") from None
        return sock

    def request(self, op: str, **args) -> Tuple[dict, List[int]]:
        with self._connect() as sock:
            protocol.send(sock, {"op": op, **args})
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
    def start(self, keygen_options: str = "", timeout: float = 10.0, idle_delay: float = 0.0) -> bool:
        """Start the daemon unless one answers already; True when this call started it."""
        if self.running():
            return False
        if len(os.fsencode(str(self.socket_path))) > 103:
            raise PoolError(f"pool root {self.root} is too long for a unix socket path; use a shorter --root")
        import subprocess

        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        log = open(self.root / "pool.log", "ab")
        with log:
            subprocess.Popen([sys.executable, "-m", "proxycmd.sim.daemon", "--root", str(self.root),
                              "--keygen-options", keygen_options] + (["--idle-delay", str(idle_delay)] if idle_delay else []),
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                             close_fds=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.running():
                return True
            time.sleep(0.05)
        raise PoolError(f"the simulated pool did not start; see {self.root / 'pool.log'}")

    def stop(self, timeout: float = 15.0) -> bool:
        """Stop the daemon and every job; False when none was running."""
        try:
            self.call("stop")
        except PoolError:
            return False
        deadline = time.monotonic() + timeout
        while self.socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return True

    # ----- queue ----------------------------------------------------------------------------------
    def submit(self, cmd: Sequence[str], *, idle: bool = False, env: Optional[dict] = None,
               owner: Optional[str] = None, batch_name: str = "") -> dict:
        return self.call("submit", cmd=list(cmd), idle=idle, env=env or {}, owner=owner,
                         batch_name=batch_name)["job"]

    def submit_description(self, description: dict, owner: Optional[str] = None) -> dict:
        """Submit one job from a submit description (a dict of commands), as condor_submit would."""
        return self.call("submit_description", description=dict(description), owner=owner)["job"]

    def jobs(self) -> List[dict]:
        return self.call("list")["jobs"]

    def change(self, op: str, cluster: int, proc: int = 0, **args) -> dict:
        return self.call(op, cluster=cluster, proc=proc, **args)["job"]

    def open_session(self, cluster: int, proc: int, *, keygen_options: Sequence[str] = (),
                     shells: Sequence[str] = ()) -> Tuple[dict, socket.socket]:
        """Ask the pool's starter for a session; raise SessionRefused as a real pool would."""
        reply, fds = self.request("session", cluster=cluster, proc=proc, keygen_options=list(keygen_options),
                                  shells=list(shells))
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
