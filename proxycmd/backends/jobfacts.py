"""What the pool says about one job, for `condor-job-ssh doctor JOB`: pure, the same for every backend.

Each backend asks its pool for the job's ad with ATTRIBUTES (`Backend.job_facts`) and hands it to
`from_ad` with the execute node's HTCondor version where the pool tells it.  The job ad carries no version
of the execute node: the slot's machine ad does (`CondorVersion`, as `condor_status` shows it, and in the
copy the starter writes into the job's scratch directory, `.machine.ad`); a job ad holds it only as
`MachineAttrCondorVersion0` when the admins list CondorVersion in SYSTEM_JOB_MACHINE_ATTRS.

How a job runs, from the ad (HTCondor's submit_utils.cpp and starter.cpp, 25.x):
  docker universe     JobUniverse 5 with WantDocker and DockerImage: Docker, always;
  container universe  JobUniverse 5 with WantContainer and ContainerImage (or DockerImage): a docker://
                      image (WantDockerImage) runs under Docker where the execute node has it (HasDocker),
                      else under Apptainer; a .sif file (WantSIF) or a directory (WantSandboxImage) under
                      Apptainer;
  vanilla             anything else, unless the execute node puts every job in a container
                      (USE_DEFAULT_CONTAINER): only a session in the job can tell (sshconfig/checks/jobprobe.py).
"""

from __future__ import annotations

import enum
from collections import namedtuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Optional, Tuple

# the job ad attributes `from_ad` reads
ATTRIBUTES = ["ClusterId", "ProcId", "JobStatus", "HoldReason", "HoldReasonCode", "Owner", "RemoteHost",
              "TransferringInput", "JobUniverse", "WantDocker", "WantContainer", "WantDockerImage", "WantSIF",
              "WantSandboxImage", "DockerImage", "ContainerImage", "DockerNetworkType",
              "MachineAttrCondorVersion0"]
# the slot ad attribute that gives the execute node's HTCondor version
VERSION_ATTRIBUTE = "CondorVersion"
INVALID_IMAGE_HOLD_CODE = 35  # CONDOR_HOLD_CODE::InvalidDockerImage (condor_holdcodes.h): the image cannot be had
UNIVERSES = {5: "vanilla", 7: "scheduler", 9: "grid", 10: "java", 11: "parallel", 12: "local", 13: "vm"}


class JobFacts(namedtuple("JobFacts", "job_id status hold_reason hold_code remote_host universe runtime image "
                                      "network execute_version simulated ad_known",
                          defaults=("", None, "", "vanilla", "", "", "", None, False, True))):
    """One job as its ad tells it.

    status: idle, running, held, ... (backends.condor.ads.status_word); universe: "docker", "container",
    "vanilla" or another universe's name; runtime: the container runtime the ad asks for ("docker",
    "apptainer", "docker or apptainer": a docker:// image of the container universe, whichever the
    execute node has; "" for no container); image: the image as submitted; network: DockerNetworkType
    ("" when not set); execute_version: "25.14.0" or None; simulated: a job of the simulated pool;
    ad_known: False when the pool could not be asked (only a session in the job can tell more)."""

    __slots__ = ()


def _value(ad: Mapping[str, Any], key: str) -> Any:
    got = ad.get(key)
    return None if isinstance(got, enum.Enum) else got  # classad2's undefined and error values


def _text(ad: Mapping[str, Any], key: str) -> str:
    got = _value(ad, key)
    return " ".join(got.split()) if isinstance(got, str) else ""


def _true(ad: Mapping[str, Any], key: str) -> bool:
    return _value(ad, key) is True


def version_text(text: Any) -> Optional[str]:
    """"25.14.0" from "$CondorVersion: 25.14.0 2026-12-02 ... $" or from "25.14.0"; None otherwise."""
    if not isinstance(text, str):
        return None
    words = text.replace("$", " ").split()
    if words and words[0] == "CondorVersion:":
        words = words[1:]
    if words and version_tuple(words[0]) is not None:
        return words[0]
    return None


def version_tuple(text: Optional[str]) -> Optional[Tuple[int, int, int]]:
    parts = text.split(".") if isinstance(text, str) else []
    if len(parts) != 3 or not all(part.isdigit() and len(part) <= 6 for part in parts):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


def from_ad(ad: Mapping[str, Any], job_id: str, execute_version: Any = None, simulated: bool = False) -> JobFacts:
    """The facts of the job whose ad (any mapping: a classad2.ClassAd, condor_q -json's dict) is *ad*;
    *execute_version*: the slot ad's CondorVersion, when the pool answered."""
    from .condor.ads import status_word

    number = _value(ad, "JobUniverse")
    universe = UNIVERSES.get(number, f"universe {number}") if isinstance(number, int) else "vanilla"
    image = _text(ad, "ContainerImage") or _text(ad, "DockerImage")
    runtime = ""
    if universe == "vanilla" and _true(ad, "WantDocker"):
        universe, runtime = "docker", "docker"
    elif universe == "vanilla" and (_true(ad, "WantContainer") or _text(ad, "ContainerImage")):
        universe = "container"
        if _true(ad, "WantSIF") or _true(ad, "WantSandboxImage"):
            runtime = "apptainer"
        else:
            runtime = "docker or apptainer"
    code = _value(ad, "HoldReasonCode")
    return JobFacts(job_id=job_id, status=status_word(ad), hold_reason=_text(ad, "HoldReason"),
                    hold_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
                    remote_host=_text(ad, "RemoteHost"), universe=universe, runtime=runtime, image=image,
                    network=_text(ad, "DockerNetworkType").lower(),
                    execute_version=version_text(_value(ad, "MachineAttrCondorVersion0"))
                    or version_text(execute_version),
                    simulated=simulated)


_SIM_STATUS = {"idle": 1, "running": 2, "removed": 3, "completed": 4, "held": 5}


def sim_facts(jobs, addr) -> Optional[JobFacts]:
    """The facts of job *addr* among the simulated pool's *jobs* (its `jobs` listing): a vanilla job on
    this host; None when it is not there."""
    job = next((j for j in jobs if j.get("cluster") == addr.cluster and j.get("proc") == addr.proc), None)
    if job is None:
        return None
    ad = {"JobStatus": _SIM_STATUS.get(job.get("status"), 0), "HoldReason": job.get("hold_reason") or "",
          "RemoteHost": (job.get("remote_host") or "") if job.get("status") == "running" else "", "JobUniverse": 5}
    return from_ad(ad, addr.job_id, simulated=True)


def classad_string(text: str) -> str:
    """*text* as a ClassAd string literal (for a constraint), without the bindings (the laptop has none)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
