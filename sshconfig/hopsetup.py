"""What `setup --via DEST` tells the user, and `doctor`'s check of the hop (proxycmd/backends/hop)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional


def hop_config(config: Path) -> Optional[str]:
    """The ssh config file the hop (--via) must read: the one we write, when it is not the one ssh reads by
    default.  ssh finds ~/.ssh/config through the password database, not $HOME; and -F would also make it
    skip /etc/ssh/ssh_config, so the default file is never named."""
    import pwd

    ssh_default = Path(pwd.getpwuid(os.geteuid()).pw_dir) / ".ssh" / "config"
    return None if config.absolute() == ssh_default else str(config.absolute())


def advice(dest: str) -> str:
    """The suggestion printed by `setup --via`: share one connection to DEST among job connections."""
    host = dest.rpartition("@")[2]
    return (f"Jobs are reached through {dest}: each connection to a job opens an ssh connection to {dest}.\n"
            f"So that it does not log in again each time (password, 2FA), let ssh share one; add to your ssh "
            f"config, below the managed block:\n"
            f"    Host {host}\n"
            f"        ControlMaster auto\n"
            f"        ControlPath ~/.ssh/cm-%C\n"
            f"        ControlPersist 30m\n"
            f"Check the hop with `condor-job-ssh doctor`.")


def check_hop(dest: str, config: Optional[str] = None, timeout: float = 30.0):
    """(ok, one line) for doctor: DEST reachable without a prompt, condor_ssh_to_job and condor_q there."""
    from proxycmd.errors import ProxyError
    from proxycmd.backends.hop import run

    script = ("for t in condor_ssh_to_job condor_q; do command -v $t >/dev/null 2>&1 || echo missing $t; done; "
              "condor_version 2>/dev/null | sed -n 1p")
    try:
        done = run(dest, ["/bin/sh", "-c", script], config=config, batch=True, timeout=timeout)
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


def doctor_check(dest: str, config: Path):
    """`condor-job-ssh doctor`'s line for the hop."""
    from proxycmd.checkresult import FAIL, OK, Check

    ok, line = check_hop(dest, hop_config(config))
    return Check("access point", OK if ok else FAIL, line,
                 "" if ok else f"make this work (see docs/laptop.md): `ssh -o BatchMode=yes {dest} condor_version`")
