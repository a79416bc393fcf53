"""What `setup` can see, once the block is written, that will make job hosts fail, and a job to try.

- a `User NAME` that ssh applies to job hosts (a `Host *` below the block) when no `setup --user` says
  otherwise: a job of another account refuses every connection (the same test as doctor's login row);
- HTCondor chosen (`--condor`, the default) where no `condor_ssh_to_job` can be found;
- one of the user's running jobs, for the success line (`ssh 1.0.job.condor`), when they can be listed.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional
import shlex

from proxycmd import ourcommands
from proxycmd.checkresult import FAIL
from proxycmd.errors import ProxyError
from proxycmd.sim.client import SimPool

from .block.resolved import resolve_block
from .checks.block import check_login_user, local_user
from .places import backend_for


def problems(config: Path, chosen) -> List[str]:
    """One line for each problem that will make connections fail (empty when none is seen)."""
    out = []
    resolved = resolve_block(config, chosen.suffix)
    if resolved is not None:
        login = check_login_user(resolved, chosen.user, local_user())
        if login.state == FAIL:
            out.append(f"{login.detail}; fix: {login.fix.replace('`', '')}")

    try:
        rows = backend_for(chosen, config).checks(quick=True)  # HTCondor's: is condor_ssh_to_job there?
    except (ProxyError, ImportError):
        rows = []
    for row in rows:
        out.append(f"{row.detail}: ssh to job hosts fails until it is there (or use `setup --sim DIR` to try the "
                   "simulated pool)")
    return out


def a_running_job(chosen, config: Optional[Path] = None) -> Optional[str]:
    """The host name of one of the user's running jobs where the settings point, or None (none, or they
    cannot be listed)."""
    try:
        jobs = backend_for(chosen, config).list_jobs()
    except Exception:  # noqa: BLE001 -- only a nicer success line is lost
        return None
    for job in sorted(jobs, key=lambda j: (j.cluster, j.proc)):
        if job.status == "running":
            return f"{job.cluster}.{job.proc}.{chosen.suffix}"
    return None


def pool_warning(root: str) -> Optional[str]:
    """For `setup --sim ROOT`: one line when no simulated pool answers there (None when one does).
    Only a warning: the pool may be started after setup, and ssh then works."""
    pool = SimPool(root)
    if pool.running():
        return None
    why = "no such directory" if not pool.root.exists() else (
        "not a directory" if not pool.root.is_dir() else "nothing answers there")
    return (f"--sim {pool.root}: no simulated pool runs there ({why}); ssh to job hosts fails until you "
            f"start one with `{ourcommands.command_word('condor-job-ssh')} sim start --root {shlex.quote(str(pool.root))}`")
