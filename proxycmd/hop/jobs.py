"""The user's jobs on the access point, for `condor-job-ssh sync`: ``condor_q -json`` run there.

condor_q lists the current user's jobs by default; -json prints their ads as one JSON array (nothing
at all when there are none).  Each ad becomes a JobInfo with the same rules as the bindings' listing
(`backends.condor_jobs.job_info`, which reads any mapping).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Sequence

from ..errors import ProxyError
from ..session import JobInfo
from .command import run

ATTRIBUTES = ("ClusterId,ProcId,JobStatus,Owner,Cmd,Args,Arguments,JobBatchName,RemoteHost,JobCurrentStartDate,"
              "JobStartDate,QDate,HoldReason,TransferringInput,TransferringOutput,ExitCode,ExitBySignal,ExitSignal")


def condor_q_argv(*, schedd: Optional[str] = None, pool: Optional[str] = None, ids: Sequence[str] = ()) -> List[str]:
    return ["condor_q"] + (["-name", schedd] if schedd else []) + (["-pool", pool] if pool else []) + \
        ["-json", "-attributes", ATTRIBUTES] + list(ids)


def parse_ads(text: str) -> List[Dict[str, Any]]:
    """condor_q -json's output -> the ads; ValueError when it is not such output."""
    if not text.strip():
        return []
    ads = json.loads(text)
    if not isinstance(ads, list) or not all(isinstance(ad, dict) for ad in ads):
        raise ValueError("not a JSON array of job ads")
    return ads


def parse_condor_q_json(text: str, schedd: Optional[str] = None) -> List[JobInfo]:
    """condor_q -json's output -> JobInfo list; ValueError when it is not such output."""
    from ..backends.condor_jobs import job_info

    return [info for info in (job_info(ad, schedd) for ad in parse_ads(text)) if info is not None]


def condor_q_ads(dest: str, ids: Sequence[str] = (), *, config: Optional[str] = None, schedd: Optional[str] = None,
                 pool: Optional[str] = None) -> List[Dict[str, Any]]:
    """The ads condor_q on *dest* prints (the user's jobs, or the jobs *ids*); ProxyError with one line."""
    done = run(dest, condor_q_argv(schedd=schedd, pool=pool, ids=ids), config=config)
    if done.returncode == 255:
        said = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
        raise ProxyError(f"cannot list your jobs: cannot reach the access point {dest} with ssh: {said}")
    if done.returncode == 127:
        raise ProxyError(f"cannot list your jobs: the access point {dest} has no condor_q on PATH")
    if done.returncode != 0:
        said = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        raise ProxyError(f"cannot list your jobs: condor_q on {dest} failed: {said}")
    try:
        return parse_ads(done.stdout)
    except ValueError as exc:
        raise ProxyError(f"cannot list your jobs: condor_q on {dest} printed something else than JSON ({exc})") \
            from None


def list_jobs(dest: str, *, config: Optional[str] = None, schedd: Optional[str] = None, pool: Optional[str] = None,
              include_idle: bool = False) -> List[JobInfo]:
    from ..backends.condor_jobs import job_info

    ads = condor_q_ads(dest, config=config, schedd=schedd, pool=pool)
    jobs = [info for info in (job_info(ad, schedd) for ad in ads) if info is not None]
    wanted = ("running", "transferring") + (("idle",) if include_idle else ())
    return [job for job in jobs if job.status in wanted]
