"""A real HTCondor personal pool for the real-pool test tier.

The pool is started with `personal-pool.sh` (a real HTCondor release: collector, negotiator, schedd, startd,
starter, condor_ssh_to_job) from, in this order, `$CJP_HTCONDOR` (a directory that holds personal-pool.sh,
or the script itself) or `../shared/htcondor/` beside this repository.  HTCondor runs no jobs as root, so
the tier runs as an ordinary user: as root, `sh scripts/test-real-pool.sh` runs it as an unprivileged user.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[2]
REQUIRE_ENV = "CJP_REQUIRE_REAL_POOL"  # set by CI: a missing pool fails the tier instead of skipping it
HTCONDOR_ENV = "CJP_HTCONDOR"

# condor_q's JobStatus numbers (HTCondor's job ad)
STATUS = {1: "idle", 2: "running", 3: "removed", 4: "completed", 5: "held", 6: "transferring", 7: "suspended"}


def pool_script() -> Optional[Path]:
    """personal-pool.sh from $CJP_HTCONDOR, else ../shared/htcondor beside the repository; None when absent."""
    named = os.environ.get(HTCONDOR_ENV)
    candidates = [Path(named), Path(named) / "personal-pool.sh"] if named else []
    candidates.append(REPO.parent / "shared" / "htcondor" / "personal-pool.sh")
    return next((c for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)


def why_unavailable() -> Optional[str]:
    """One line saying why the real tier cannot run here, or None when it can."""
    if os.geteuid() == 0:
        return ("real HTCondor tier: HTCondor runs no jobs as root; run it as an unprivileged user with "
                "`sh scripts/test-real-pool.sh`")
    if pool_script() is None:
        return (f"real HTCondor tier: no HTCondor found; set {HTCONDOR_ENV} to a directory holding "
                "personal-pool.sh (or put ../shared/htcondor beside the repository)")
    return None


class RealPool:
    """One running personal pool: its directory, the environment that reaches it, and small job helpers."""

    def __init__(self, directory: Path, schedd_name: Optional[str] = None, config: Optional[Dict[str, str]] = None):
        self.dir = directory
        self.config = dict(config or {})  # extra configuration (KNOB: value), as _CONDOR_KNOB variables
        self.script = pool_script()
        self.env: Dict[str, str] = {}
        self.schedd = ""
        self.collector = ""
        self._schedd_name = schedd_name
        self._jobs = 0

    # ----- life cycle ----------------------------------------------------------------------------------
    def start(self) -> "RealPool":
        env = dict(os.environ)
        env.pop("CONDOR_CONFIG", None)
        # room for the jobs tests keep running at once (personal-pool.sh's slot has 4 CPUs); the daemons
        # read _CONDOR_* variables over their configuration
        env.update({"_CONDOR_NUM_CPUS": "24", "_CONDOR_MEMORY": "24576"})
        if self._schedd_name:
            env["SCHEDD_NAME"] = self._schedd_name
        env.update({f"_CONDOR_{knob}": value for knob, value in self.config.items()})
        done = subprocess.run(["sh", str(self.script), "start", str(self.dir)], env=env, capture_output=True,
                              text=True, timeout=180, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"personal-pool.sh start failed ({done.returncode}): {done.stderr.strip()}")
        release = self.dir / "release"
        self.env = {"CONDOR_CONFIG": str(self.dir / "condor_config"),
                    "PATH": f"{release / 'bin'}:{release / 'sbin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        self.schedd = self.condor("condor_status", "-schedd", "-af", "Name").stdout.split()[0]
        self.collector = (self.dir / "local" / "log" / ".collector_address").read_text().split("?")[0].strip("<>\n")
        return self

    def stop(self) -> None:
        subprocess.run(["sh", str(self.script), "stop", str(self.dir)], capture_output=True, timeout=120,
                       stdin=subprocess.DEVNULL)
        # leave no process: anything still running from the pool's directory (a daemon, a job, a session)
        for pid in _pids_under(self.dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    # ----- tools ---------------------------------------------------------------------------------------
    def full_env(self, base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        env = dict(base if base is not None else os.environ)
        env.update(self.env)
        if base is not None and "PATH" in base:
            env["PATH"] = f"{self.dir / 'release' / 'bin'}:{self.dir / 'release' / 'sbin'}:{base['PATH']}"
        return env

    def condor(self, *argv: str, check: bool = True, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        done = subprocess.run(list(argv), env=self.full_env(kw.pop("env", None)), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, **kw)
        if check and done.returncode != 0:
            raise AssertionError(f"{argv} exited {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}")
        return done

    def submit(self, text: str, cwd: Optional[Path] = None) -> str:
        """Submit a description (a `queue` is added when it has none); returns "CLUSTER.0"."""
        if not any(line.strip().lower().startswith("queue") for line in text.splitlines()):
            text = text.rstrip("\n") + "\nqueue\n"
        self._jobs += 1
        where = cwd or self.dir / "submit"
        where.mkdir(parents=True, exist_ok=True)
        path = where / f"job{self._jobs}.sub"
        path.write_text(text)
        out = self.condor("condor_submit", "-terse", str(path), cwd=str(where)).stdout
        first = out.split()[0]  # "32.0 - 32.0"
        return first

    def submit_sleep(self, seconds: int = 3600, extra: str = "", cwd: Optional[Path] = None) -> str:
        return self.submit(f"executable = /bin/sleep\narguments = {seconds}\ntransfer_executable = false\n"
                           f"{extra}\n", cwd=cwd)

    def ad(self, job: str) -> Optional[dict]:
        out = self.condor("condor_q", job, "-json", "-attributes", "JobStatus,HoldReason,Iwd,RemoteHost").stdout
        ads = json.loads(out) if out.strip() else []
        return ads[0] if ads else None

    def status(self, job: str) -> str:
        ad = self.ad(job)
        return "gone" if ad is None else STATUS.get(ad.get("JobStatus"), "unknown")

    def wait_status(self, job: str, status: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        seen = ""
        while time.monotonic() < deadline:
            seen = self.status(job)
            if seen == status:
                return
            time.sleep(0.5)
        raise AssertionError(f"job {job} is {seen}, not {status}, after {timeout} s")

    def starter_log_tail(self, job: str, lines: int = 12) -> str:
        """The last lines of the log of the starter that runs *job* (its "with ID: JOB" line names it), for a
        failure's message; empty when none does."""
        for log in sorted((self.dir / "local" / "log").glob("StarterLog.slot*")):
            try:
                text = log.read_text(errors="replace").splitlines()
            except OSError:
                continue
            starts = [i for i, line in enumerate(text) if line.endswith(f" job with ID: {job}")]
            if starts:
                return "\n".join(text[starts[-1]:][-lines:])
        return ""

    def rm(self, job: str) -> None:
        self.condor("condor_rm", job)

    def hold(self, job: str, reason: str = "held by the test") -> None:
        self.condor("condor_hold", "-reason", reason, job)

    def release(self, job: str) -> None:
        self.condor("condor_release", job)

    def qedit(self, job: str, attr: str, value: str) -> None:
        self.condor("condor_qedit", job, attr, value)

    def remove_all(self) -> None:
        self.condor("condor_rm", "-all", check=False)


def _pids_under(directory: Path) -> List[int]:
    """Processes of this user whose executable or working directory lies under *directory*."""
    mine, found = os.getuid(), []
    prefix = str(directory) + "/"
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != mine:
                continue
            exe = os.readlink(f"/proc/{entry}/exe")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if exe.startswith(prefix) or cwd.startswith(prefix):
            found.append(int(entry))
    return found


def start_pool(root: Path, name: str, schedd_name: Optional[str] = None,
               config: Optional[Dict[str, str]] = None) -> RealPool:
    directory = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
    directory.chmod(0o700)
    return RealPool(directory, schedd_name, config).start()


def remove_pool_dir(pool: RealPool) -> None:
    shutil.rmtree(pool.dir, ignore_errors=True)
