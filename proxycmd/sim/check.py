"""What `condor-job-ssh doctor` shows about the simulated pool (SimBackend.checks): it answers, with its jobs,
and whether this machine can give its sessions a terminal."""

from __future__ import annotations

import shlex

from ..checkresult import FAIL, OK, WARN, Check
from ..ourcommands import command_word
from .client import PoolError, SimPool
from .ptycheck import pty_problem


def pool_check(root: str) -> Check:
    name = "simulated pool"
    try:
        jobs = SimPool(root).jobs()
    except PoolError as exc:
        return Check(name, FAIL, str(exc), f"start it: `{command_word('condor-job-ssh')} sim start --root "
                                           f"{shlex.quote(root)}`")
    running = sum(1 for job in jobs if job.get("status") == "running")
    detail = f"{root} answers: {len(jobs)} job{'s' * (len(jobs) != 1)}, {running} running"
    problem = pty_problem()
    if problem:
        return Check(name, WARN, f"{detail}; but {problem}",
                     "run commands instead of a shell, for example: `ssh 1.0.job.condor 'cd; ls'`")
    return Check(name, OK, detail)
