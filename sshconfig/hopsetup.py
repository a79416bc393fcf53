"""What `setup --via DEST` tells the user (doctor's check of the hop: proxycmd/backends/hop/checks.py)."""

from __future__ import annotations


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
