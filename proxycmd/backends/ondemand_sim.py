"""Profile jobs on the simulated pool (proxycmd/ondemand.py's ProfileJobs)."""

from __future__ import annotations

import os
import pwd

from ..ondemand import pick
from ..session import JobInfo
from ..sim.client import SimPool
from ..submitfile import PROFILE_ATTR

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple


def _info(job: dict) -> JobInfo:
    return JobInfo(cluster=job["cluster"], proc=job["proc"], status=job["status"], cmd=job["cmd"],
                   batch_name=job.get("batch_name") or "", remote_host=job.get("remote_host") or "",
                   since=job.get("started") or job.get("submitted"), hold_reason=job.get("hold_reason") or "")


def _profile(job: dict) -> Optional[str]:
    text = (job.get("ad") or {}).get(PROFILE_ATTR, "")
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else None


class SimProfileJobs:
    def __init__(self, root: str) -> None:
        self.pool = SimPool(root)
        self.user = pwd.getpwuid(os.geteuid()).pw_name

    def _mine(self) -> List[Tuple[str, dict]]:
        return [(name, job) for job in self.pool.jobs()
                if job.get("owner") == self.user and (name := _profile(job)) is not None]

    def find_profile_job(self, profile: str) -> Optional[JobInfo]:
        return pick([_info(job) for name, job in self._mine() if name == profile])

    def submit_profile(self, profile: str, description: Dict[str, str]) -> JobInfo:
        return _info(self.pool.submit_description(description))

    def live_profile_jobs(self) -> List[Tuple[str, JobInfo]]:
        return [(name, _info(job)) for name, job in self._mine() if job["status"] in ("idle", "running")]

    def remove(self, job: JobInfo, reason: str) -> None:
        self.pool.change("rm", job.cluster, job.proc)
