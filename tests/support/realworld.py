"""A test user on a real HTCondor pool: the same face as conftest.World, with real jobs.

Jobs are submitted with condor_submit and reached through the real condor_ssh_to_job, with an ssh config
written by the real `condor-job-ssh setup --condor`.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from conftest import World, _short_tmp, stop_agent, tool, user_env, wait_for
from proxycmd import condorargs
from realpool import RealPool

# An idle job: its requirements match no slot until the test flips this attribute with condor_qedit.
HELD_BACK = "CJPHeldBack"


@dataclass
class RealWorld(World):
    pool: Optional[RealPool] = None
    jobs: Dict[str, Path] = field(default_factory=dict)  # job id -> its initial directory

    def submit(self, *cmd: str, idle: bool = False, env: Optional[Dict[str, str]] = None,
               extra: str = "", wait: bool = True) -> str:
        return submit_job(self.pool, self.base / "jobs", self.jobs, *cmd, idle=idle, env=env, extra=extra,
                          wait=wait)

    def sandbox(self, job: str) -> Path:
        """Where the job's sessions start (the starter cds to the job's initial directory)."""
        return self.jobs[job]

    def session_dirs(self, job: str) -> List[Path]:
        """The job's live session directories, in its scratch directory (not its initial directory)."""
        pid = program_pid(job)
        if pid is None:
            return []
        scratch = _environ(pid).get("_CONDOR_SCRATCH_DIR")
        return sorted(Path(scratch).glob(".condor_ssh_to_job_*")) if scratch else []

    def hold(self, job: str, reason: str) -> None:
        self.pool.hold(job, reason)
        self.pool.wait_status(job, "held")

    def release(self, job: str) -> None:
        if self.pool.status(job) == "held":
            self.pool.release(job)
        else:
            self.pool.qedit(job, HELD_BACK, "false")

    def rm(self, job: str) -> None:
        self.pool.rm(job)

    def job_pid(self, job: str) -> int:
        pid = program_pid(job)
        assert pid is not None, f"job {job} has no process"
        return pid

    def job_status(self, job: str) -> str:
        return self.pool.status(job)

    def wait_completed(self, job: str) -> None:
        self.pool.wait_status(job, "gone")

    def other_users_job(self) -> Optional[str]:
        return None  # a real pool runs jobs as their owner: another user's job needs another account

    def proxy_args(self) -> List[str]:
        return []

    def sim(self, *args: str, check: bool = True):
        raise AssertionError("a real pool has no `condor-job-ssh sim`: use the world's own job methods")


def program_pid(job: str) -> Optional[int]:
    """The job's own program: the starter's child whose job ad (_CONDOR_JOB_AD) names this job and that
    is no ssh session's sshd."""
    cluster, proc = job.split(".")[:2]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if Path(f"/proc/{ppid}/comm").read_text().strip() != "condor_starter":
                continue
            if Path(f"/proc/{entry}/comm").read_text().strip() == "sshd":
                continue
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            ad_path = next(v[len(b"_CONDOR_JOB_AD="):] for v in environ if v.startswith(b"_CONDOR_JOB_AD="))
            ad = Path(ad_path.decode()).read_text().splitlines()
        except (OSError, StopIteration, ValueError, IndexError):
            continue
        if f"ClusterId = {cluster}" in ad and f"ProcId = {proc}" in ad:
            return int(entry)
    return None


def _environ(pid: int) -> Dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return {}
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


def wait_reachable(pool: RealPool, job: str, timeout: float = 60) -> None:
    """Until condor_ssh_to_job can open a session: a starter answers "not ready yet" for a few seconds
    after the job is Running (seen: 5 s on 25.14, 6 to 12 s for a docker job, whose starter does not answer
    while `docker start` runs), which the proxy would report as a wait.  A failure says what the tool last
    said, the job's state and its starter's last log lines."""
    last = []

    def reached() -> bool:
        last[:] = [pool.condor("condor_ssh_to_job", "-ssh", "true", job, check=False)]
        return last[0].returncode == 0

    if wait_for(reached, timeout=timeout, interval=0.5):
        return
    said = " / ".join((last[0].stderr or last[0].stdout).strip().splitlines()[-3:]) if last else ""
    raise AssertionError(f"condor_ssh_to_job could not reach job {job} in {timeout} s; the job is "
                         f"{pool.status(job)}; the tool last said: {said or '(nothing)'}\n"
                         f"its starter's log ends:\n{pool.starter_log_tail(job) or '(no starter log names it)'}")


def submit_job(pool: RealPool, parent: Path, jobs: Dict[str, Path], *cmd: str, idle: bool = False,
               env: Optional[Dict[str, str]] = None, extra: str = "", wait: bool = True) -> str:
    """Submit a job running *cmd* in a fresh initial directory under *parent* (recorded in *jobs*); wait
    until its program runs and condor_ssh_to_job reaches it, unless it is to stay idle (until released
    with condor_qedit) or *wait* is false."""
    iwd = parent / f"j{len(jobs) + 1}"
    iwd.mkdir(parents=True)
    program = shutil.which(cmd[0]) or cmd[0]
    lines = [f"executable = {program}", f"arguments = {condorargs.quote(list(cmd[1:]))}",
             "transfer_executable = false", f"initialdir = {iwd}", "log = job.log",
             "output = job.out", "error = job.err"]
    if env:
        lines.append("environment = " + condorargs.quote([f"{k}={v}" for k, v in env.items()]))
    if idle:
        lines += [f"+{HELD_BACK} = true", f"requirements = (MY.{HELD_BACK} =!= true)"]
    if extra:
        lines.append(extra)
    job = pool.submit("\n".join(lines) + "\n", cwd=iwd)
    jobs[job] = iwd
    if wait and not idle:
        pool.wait_status(job, "running")
        assert wait_for(lambda: program_pid(job) is not None, timeout=30), f"job {job} has no process"
        wait_reachable(pool, job)
    return job


def make_real_world(pool: RealPool, multiplex: bool = False):
    base = _short_tmp("rw-")
    home, env = user_env(base)
    tmp = base / "tmp"  # condor_ssh_to_job's session directories: checked for left-over keys
    tmp.mkdir(mode=0o700)
    env = pool.full_env(dict(env, TMP=str(tmp)))
    w = RealWorld(base=base, env=env, sim_root=base / "no-sim-pool", ssh_config=home / "ssh_config",
                  rundir=home / ".ssh" / "cjp", backend="real", pool=pool)
    try:
        setup = [tool("condor-job-ssh"), "setup", "--ssh-config", str(w.ssh_config), "--condor", "--yes"]
        if not multiplex:
            setup.append("--no-multiplex")
        w.run(setup)
        yield w
    finally:
        for cleanup in w.extra_cleanup:
            cleanup()
        for job in w.jobs:
            pool.condor("condor_rm", job, check=False)
        stop_agent(w.rundir)
        shutil.rmtree(base, ignore_errors=True)
