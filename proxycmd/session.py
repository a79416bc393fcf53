"""What every backend returns: one live connection to the job's sshd and the key that opens it."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class Session:
    sock: socket.socket  # connected to `sshd -i` on the execute side
    private_key: bytes = field(repr=False)  # OpenSSH private key: client key and host key at once
    host_key: str  # "ssh-rsa AAAA..." (public host key, no host name, no comment)
    user: str  # the remote user name the starter reported
    workdir: Optional[str] = None  # the session directory on the execute side, when known

    def close(self) -> None:
        self.sock.close()


@dataclass(frozen=True)
class JobInfo:
    """One line of a job listing (for `sync` and `sim list`)."""

    cluster: int
    proc: int
    status: str  # idle, running, held, completed, removed, transferring
    cmd: str = ""
    batch_name: str = ""
    remote_host: str = ""
    since: Optional[float] = None  # epoch seconds the job started running (or was submitted)
    schedd: Optional[str] = None
    hold_reason: str = ""

    @property
    def job_id(self) -> str:
        return f"{self.cluster}.{self.proc}"
