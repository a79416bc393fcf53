"""What every backend returns: one live connection to the job's sshd and the key that opens it.

Immutable records (proxycmd/record.py) rather than dataclasses or namedtuples: this module is imported on
every connection, and either costs milliseconds to import or build.
"""

from __future__ import annotations

from .record import record


class Session(record("Session", "sock private_key host_key user workdir release", defaults=(None, None),
                     module=__name__)):
    """sock: connected to `sshd -i` on the execute side; private_key: OpenSSH private key bytes (client key
    and host key at once); host_key: "ssh-rsa AAAA..." (no host name, no comment); user: the remote user
    name the starter reported; workdir: the session directory on the execute side, when known; release:
    what the backend still has to finish once the session is ours (the condor backend: wait for
    condor_ssh_to_job to exit, which it does while we register the key), run by close(), at most once,
    with close's *wait*."""

    __slots__ = ()

    def __repr__(self) -> str:  # never show the key
        return f"Session(sock={self.sock!r}, host_key={self.host_key[:24]!r}..., user={self.user!r})"

    def close(self, wait: bool = True) -> None:
        """Close the connection and finish what the backend still has to; *wait* false: do not wait for
        what ends on its own (the proxy is about to exit, and ssh waits for that exit)."""
        self.sock.close()
        if self.release is not None:
            self.release(wait)


class JobInfo(record("JobInfo", "cluster proc status cmd batch_name remote_host since schedd hold_reason",
                     defaults=("", "", "", None, None, ""), module=__name__)):
    """One line of a job listing (for `sync` and `sim list`).

    status: idle, running, held, completed, removed, transferring; since: epoch seconds the job started
    running (or was submitted); schedd: the schedd's name when the listing spans several.
    """

    __slots__ = ()

    @property
    def job_id(self) -> str:
        return f"{self.cluster}.{self.proc}"
