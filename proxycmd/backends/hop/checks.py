"""What `condor-job-ssh doctor` shows about the access point (HopBackend.checks): reachable without a prompt,
with HTCondor's tools on the PATH that `ssh DEST command` gets."""

from __future__ import annotations

from typing import Optional, Tuple

from ...checkresult import FAIL, OK, Check
from ...errors import ProxyError
from .command import run

_SCRIPT = ("for t in condor_ssh_to_job condor_q; do command -v $t >/dev/null 2>&1 || echo missing $t; done; "
           "condor_version 2>/dev/null | sed -n 1p")


def check_hop(dest: str, config: Optional[str] = None, timeout: float = 30.0) -> Tuple[bool, str]:
    """(ok, one line): DEST reachable without a prompt, condor_ssh_to_job and condor_q there."""
    try:
        done = run(dest, ["/bin/sh", "-c", _SCRIPT], config=config, batch=True, timeout=timeout)
    except ProxyError as exc:
        return False, str(exc)
    if done.returncode == 255:
        said = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
        return False, (f"cannot reach the access point {dest} without a prompt (BatchMode): {said}; set up a key "
                       f"or a ControlMaster for {dest} (docs/laptop.md)")
    lines = done.stdout.splitlines()
    missing = [line.split()[1] for line in lines if line.startswith("missing ")]
    if missing:
        return False, f"{dest} is reachable but has no {' or '.join(missing)} on PATH: HTCondor's tools are needed there"
    version = next((line for line in lines if line.startswith("$CondorVersion")), "").strip("$ ").strip()
    return True, f"{dest} is reachable without a prompt and has HTCondor's tools" + (f" ({version})" if version else "")


def access_point_check(dest: str, config: Optional[str]) -> Check:
    """doctor's row for the hop; *config*: the ssh config the hop reads (None: ssh's own)."""
    ok, line = check_hop(dest, config)
    return Check("access point", OK if ok else FAIL, line,
                 "" if ok else f"make this work (see docs/laptop.md): `ssh -o BatchMode=yes {dest} condor_version`")
