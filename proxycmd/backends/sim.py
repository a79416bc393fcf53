"""The simulated pool as a session backend (same interface as the HTCondor backend)."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection

from ..errors import SessionRefused
from ..session import JobInfo, Session
from ..sim.client import SimPool

if TYPE_CHECKING:
    from typing import List, Sequence

    from ..hostname import JobAddress


class SimBackend:
    name = "sim"
    retry_interval = 1.0  # the pool is local: asking is cheap

    def __init__(self, root: str) -> None:
        self.pool = SimPool(root)

    def open_session(self, addr: JobAddress, *, keygen_options: Sequence[str] = (),
                     shells: Sequence[str] = ()) -> Session:
        if addr.schedd:
            raise SessionRefused(f"the simulated pool has a single schedd; drop {addr.schedd!r} from the host name")
        if addr.node is not None:
            raise SessionRefused(f"the simulated pool runs no parallel jobs; job {addr.classic_id} has no nodes")
        reply, sock = self.pool.open_session(addr.cluster, addr.proc, keygen_options=keygen_options, shells=shells)
        return Session(sock=sock, private_key=reply["private_key"].encode(), host_key=reply["host_key"],
                       user=reply["user"], workdir=reply.get("directory"))

    def list_jobs(self, *, include_idle: bool = False) -> List[JobInfo]:
        wanted = {"running", "idle"} if include_idle else {"running"}
        return [JobInfo(cluster=j["cluster"], proc=j["proc"], status=j["status"], cmd=j["cmd"],
                        batch_name=j.get("batch_name") or "", remote_host=j.get("remote_host") or "",
                        since=j.get("started") or j.get("submitted"), hold_reason=j.get("hold_reason") or "")
                for j in self.pool.jobs() if j["status"] in wanted]

    def remove_job(self, addr: JobAddress, reason: str = "") -> None:
        self.pool.change("rm", addr.cluster, addr.proc)
