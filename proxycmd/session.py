"""What every backend returns: one live connection to the job's sshd and the key that opens it.

Immutable records built on namedtuple rather than dataclasses: this module is imported on every
connection, and dataclasses cost ~8 ms to import.
"""

from __future__ import annotations

from collections import namedtuple


class Session(namedtuple("Session", "sock private_key host_key user workdir release", defaults=(None, None))):
    """sock: connected to `sshd -i` on the execute side; private_key: OpenSSH private key bytes (client key
    and host key at once); host_key: "ssh-rsa AAAA..." (no host name, no comment); user: the remote user
    name the starter reported; workdir: the session directory on the execute side, when known; release:
    what the backend still has to finish once the session is ours (the condor backend: wait for
    condor_ssh_to_job to exit, which it does while we register the key), run by close(), at most once."""

    __slots__ = ()

    def __repr__(self) -> str:  # never show the key
        return f"Session(sock={self.sock!r}, host_key={self.host_key[:24]!r}..., user={self.user!r})"

    def close(self) -> None:
        self.sock.close()
        if self.release is not None:
            self.release()


class JobInfo(namedtuple("JobInfo", "cluster proc status cmd batch_name remote_host since schedd hold_reason",
                         defaults=("", "", "", None, None, ""))):
    """One line of a job listing (for `sync` and `sim list`).

    status: idle, running, held, completed, removed, transferring; since: epoch seconds the job started
    running (or was submitted); schedd: the schedd's name when the listing spans several.
    """

    __slots__ = ()

    @property
    def job_id(self) -> str:
        return f"{self.cluster}.{self.proc}"
