"""Profile jobs on an access point reached with ssh (`setup --via DEST`): condor_q, condor_submit and
condor_rm run there through `proxycmd.hop.run` (proxycmd/ondemand.py's ProfileJobs).

Nothing of ours runs on the access point: the submit description goes to `condor_submit -terse -` on its
standard input (the watchdog is part of the description, see proxycmd/watchdog.py), and the look-up is
`condor_q -json` with a constraint, which lists the ssh user's own jobs.
"""

from __future__ import annotations

import json
import re

from ..errors import ProxyError
from ..ondemand import pick
from ..session import JobInfo
from ..submitfile import PROFILE_ATTR
from . import condor_jobs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional, Sequence, Tuple

LIVE_STATES = f"(JobStatus == {condor_jobs.IDLE} || JobStatus == {condor_jobs.RUNNING})"
_SUBMITTED = re.compile(r"^\s*(\d+)\.(\d+)\s*-|submitted to cluster (\d+)", re.MULTILINE)


def _where(schedd: Optional[str], pool: Optional[str]) -> List[str]:
    return (["-name", schedd] if schedd else []) + (["-pool", pool] if pool else [])


def condor_q_argv(profile: Optional[str], schedd: Optional[str] = None, pool: Optional[str] = None) -> List[str]:
    which = f'{PROFILE_ATTR} == "{profile}"' if profile else f"{PROFILE_ATTR} =!= undefined"
    attributes = ",".join(condor_jobs.PROJECTION + [PROFILE_ATTR])
    return ["condor_q", *_where(schedd, pool), "-json", "-attributes", attributes,
            "-constraint", f"{which} && {LIVE_STATES}"]


def submit_text(description: Dict[str, str]) -> str:
    """The description as a submit file for condor_submit's standard input, one job."""
    lines = []
    for key, value in description.items():
        if "\n" in key + value or "\r" in key + value:
            raise ProxyError(f"the submit command {key!r} holds a line break")
        lines.append(f"{key} = {value}\n")
    return "".join(lines) + "queue 1\n"


def submitted_cluster(output: str) -> Optional[int]:
    """The cluster condor_submit reported (``-terse``: ``7.0 - 7.0``; else ``... submitted to cluster 7.``)."""
    found = _SUBMITTED.search(output)
    if not found:
        return None
    return int(found.group(1) or found.group(3))


def parse_ads(text: str) -> List[dict]:
    if not text.strip():
        return []  # condor_q -json prints nothing at all when no job matches
    ads = json.loads(text)
    if not isinstance(ads, list) or not all(isinstance(ad, dict) for ad in ads):
        raise ValueError("not a JSON array of job ads")
    return ads


class HopProfileJobs:
    def __init__(self, dest: str, *, config: Optional[str] = None, schedd: Optional[str] = None,
                 pool: Optional[str] = None, run: Optional[Callable] = None) -> None:
        self.dest, self.config, self.schedd, self.pool = dest, config, schedd, pool
        self._run = run

    def _call(self, argv: Sequence[str], what: str, input: Optional[str] = None) -> str:
        run = self._run
        if run is None:
            from ..hop import run
        done = run(self.dest, list(argv), config=self.config, input=input)
        if done.returncode == 255:
            said = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
            raise ProxyError(f"cannot {what}: cannot reach the access point {self.dest} with ssh: {said}")
        if done.returncode == 127:
            raise ProxyError(f"cannot {what}: the access point {self.dest} has no {argv[0]} on PATH")
        if done.returncode != 0:
            said = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
            raise ProxyError(f"cannot {what}: {argv[0]} on {self.dest} failed: {said}")
        return done.stdout

    def _ads(self, profile: Optional[str]) -> List[dict]:
        out = self._call(condor_q_argv(profile, self.schedd, self.pool), "look up your profile jobs")
        try:
            return parse_ads(out)
        except ValueError as exc:
            raise ProxyError(f"condor_q on {self.dest} printed something else than JSON ({exc})") from None

    def find_profile_job(self, profile: str) -> Optional[JobInfo]:
        infos = [condor_jobs.job_info(ad, self.schedd) for ad in self._ads(profile)]
        return pick([info for info in infos if info is not None])

    def submit_profile(self, profile: str, description: Dict[str, str]) -> JobInfo:
        out = self._call(["condor_submit", *_where(self.schedd, self.pool), "-terse", "-"],
                         f"submit the job of profile {profile!r}", input=submit_text(description))
        cluster = submitted_cluster(out)
        if cluster is None:
            raise ProxyError(f"condor_submit on {self.dest} did not say which job it submitted: {out.strip()[:80]!r}")
        return JobInfo(cluster=cluster, proc=0, status="idle", cmd="condor-job-proxy-watchdog",
                       batch_name=f"{profile}.job.condor", schedd=self.schedd)

    def live_profile_jobs(self) -> List[Tuple[str, JobInfo]]:
        out = []
        for ad in self._ads(None):
            info, name = condor_jobs.job_info(ad, self.schedd), ad.get(PROFILE_ATTR)
            if info is not None and isinstance(name, str):
                out.append((name, info))
        return out

    def remove(self, job: JobInfo, reason: str) -> None:
        self._call(["condor_rm", *_where(self.schedd, self.pool), job.job_id], f"remove job {job.job_id}")
