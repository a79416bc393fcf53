"""The HTCondor tools run on the access point for listings and profile jobs, and what they print.  Pure.

condor_q lists the current user's jobs by default; -json prints their ads as one JSON array (nothing at
all when there are none).  Each ad becomes a JobInfo with the same rules as the bindings' listing
(`backends.condor.ads.job_info`, which reads any mapping).  A profile's job goes to `condor_submit -terse -`
on its standard input (the watchdog is part of the description, see proxycmd/watchdog.py), so nothing of
ours runs on the access point.
"""

from __future__ import annotations

import json
import re

from ...errors import ProxyError
from ...session import JobInfo
from ...submitfile import PROFILE_ATTR
from ..condor import ads as condor_ads

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Sequence

ATTRIBUTES = ("ClusterId,ProcId,JobStatus,Owner,Cmd,Args,Arguments,JobBatchName,RemoteHost,JobCurrentStartDate,"
              "JobStartDate,QDate,HoldReason,TransferringInput,TransferringOutput,ExitCode,ExitBySignal,ExitSignal,"
              "GlobalJobId")
LIVE_STATES = f"(JobStatus == {condor_ads.IDLE} || JobStatus == {condor_ads.RUNNING})"
_SUBMITTED = re.compile(r"^\s*(\d+)\.(\d+)\s*-|submitted to cluster (\d+)", re.MULTILINE)


def where(schedd: Optional[str], pool: Optional[str]) -> List[str]:
    return (["-name", schedd] if schedd else []) + (["-pool", pool] if pool else [])


def condor_q_argv(*, schedd: Optional[str] = None, pool: Optional[str] = None, ids: Sequence[str] = ()) -> List[str]:
    return ["condor_q", *where(schedd, pool), "-json", "-attributes", ATTRIBUTES, *ids]


def profile_q_argv(profile: Optional[str], schedd: Optional[str] = None, pool: Optional[str] = None) -> List[str]:
    """condor_q for the user's live jobs from *profile* (from any profile when None)."""
    which = f'{PROFILE_ATTR} == "{profile}"' if profile else f"{PROFILE_ATTR} =!= undefined"
    attributes = ",".join(condor_ads.PROJECTION + [PROFILE_ATTR])
    return ["condor_q", *where(schedd, pool), "-json", "-attributes", attributes,
            "-constraint", f"{which} && {LIVE_STATES}"]


def parse_ads(text: str) -> List[Dict[str, Any]]:
    """condor_q -json's output -> the ads; ValueError when it is not such output."""
    if not text.strip():
        return []  # condor_q -json prints nothing at all when no job matches
    ads = json.loads(text)
    if not isinstance(ads, list) or not all(isinstance(ad, dict) for ad in ads):
        raise ValueError("not a JSON array of job ads")
    return ads


def parse_condor_q_json(text: str, schedd: Optional[str] = None) -> List[JobInfo]:
    """condor_q -json's output -> JobInfo list; ValueError when it is not such output."""
    return [info for info in (condor_ads.job_info(ad, schedd) for ad in parse_ads(text)) if info is not None]


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
