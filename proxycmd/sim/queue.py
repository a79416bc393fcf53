"""The simulated pool's queue: a one-machine schedd and starter (the daemon, daemon.py, serves it).

It owns the queue (ids, states, hold reasons), runs each running job as its own process group in its own
sandbox, and opens ssh sessions on request (`starter.open_session`).  Job states use HTCondor's words and
rules: idle and held jobs have no starter, so a session request is refused (idle: retry-able; held: with the
reason); completed and removed jobs are gone.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .. import condorargs
from . import rootdir, starter, tracking
from .jobad import (NEXT_CLUSTER, RESOURCE_ATTRIBUTES, STRING_COMMANDS, ad_text, next_free_cluster, seconds,
                    signal_number, unquoted)

# A pool may serve named schedds besides its default one (`sim start --schedd NAME`), as a real pool has one per
# access point: each keeps its own queue and cluster numbers, so job ids repeat across them, as they do in
# HTCondor.  A named schedd's sandboxes are dir_C.P.NAME and its counter next-cluster.NAME.
# How long a removed, held or vacated job's program may take to exit after its soft-kill signal before it is
# SIGKILLed: the smaller of the job's JobMaxVacateTime and the machine's MaxVacateTime, whose default is
# 10 minutes (measured on a 25.14 starter: condor_rm sent SIGTERM at once, then SIGKILL after
# job_max_vacate_time = 5 s; a program that ignored SIGTERM without it ran on for minutes).
MACHINE_MAX_VACATE_TIME = 600.0


@dataclass
class SessionProc:
    """One ssh-to-job session on the execute side: its `sshd -i` and its `.condor_ssh_to_job_N` directory."""
    sshd: subprocess.Popen
    directory: Path
    reaper: Optional[threading.Thread] = None


@dataclass
class Job:
    cluster: int
    proc: int
    cmd: List[str]
    env: Dict[str, str]
    owner: str
    batch_name: str
    sandbox: Path
    schedd: str = ""  # the schedd's name
    status: str = "idle"
    hold_reason: str = ""
    exit_code: Optional[int] = None
    submitted: float = field(default_factory=time.time)
    started: Optional[float] = None
    process: Optional[subprocess.Popen] = None  # the job's program while it runs
    program_pid: Optional[int] = None  # its pid, kept after it ended (`describe`)
    sessions: List[SessionProc] = field(default_factory=list)
    ad: Dict[str, str] = field(default_factory=dict)  # extra job ad attributes (name -> ClassAd text)
    submit_lines: Dict[str, str] = field(default_factory=dict)  # a submit description's commands, as given

    @property
    def job_id(self) -> str:
        return f"{self.cluster}.{self.proc}"

    def key(self, default_schedd: str) -> str:
        """Unique in the pool: the job id, with the schedd's name for a named schedd's job."""
        return self.job_id if self.schedd == default_schedd else f"{self.job_id}@{self.schedd}"

    def describe(self) -> dict:
        return {"id": self.job_id, "cluster": self.cluster, "proc": self.proc, "status": self.status,
                "cmd": shlex.join(self.cmd), "owner": self.owner, "batch_name": self.batch_name,
                "hold_reason": self.hold_reason, "exit_code": self.exit_code, "submitted": self.submitted,
                "started": self.started, "pid": self.program_pid, "schedd": self.schedd,
                "program_running": self.process is not None,
                "sandbox": str(self.sandbox), "remote_host": "slot1@" + socket.gethostname(),
                "ad": dict(self.ad), "submit": dict(self.submit_lines)}


class Pool:
    def __init__(self, root: Path, keygen_options: List[str], created_root: bool = False,
                 idle_delay: float = 0.0, schedds: Sequence[str] = ()) -> None:
        self.root = root
        self.keygen_options = keygen_options
        self.created_root = created_root  # `sim start` made the root: `sim stop` removes it (if empty then)
        self.idle_delay = idle_delay  # seconds a new job stays idle before it runs, as matchmaking takes
        self.default_schedd = socket.getfqdn()  # a real pool's local schedd is named for its host
        self.schedds = [self.default_schedd] + [name for name in dict.fromkeys(schedds) if name != self.default_schedd]
        self.jobs: Dict[Tuple[str, int], Job] = {}
        self.lock = threading.RLock()
        rootdir.check_root(root)
        self.execute = root / "execute"
        self.created_execute = rootdir.make_dir(self.execute, "the pool's execute directory")
        self.next_cluster = {name: next_free_cluster(root, self._suffix(name)) for name in self.schedds}
        self.stopping = threading.Event()  # set when shutdown begins
        self.stopped = threading.Event()  # set when every job has been ended
        self.libexec = root / "libexec"
        self.created_libexec = rootdir.make_dir(self.libexec, "the pool's libexec directory")
        self.shell_setup = starter.install_shell_setup(self.libexec)
        self.user = pwd.getpwuid(os.geteuid()).pw_name

    # ----- schedds --------------------------------------------------------------------------------
    def _suffix(self, schedd: str) -> str:
        """What a schedd's file names end with: nothing for the default one, ".NAME" for a named one."""
        return "" if schedd == self.default_schedd else f".{schedd}"

    def schedd(self, name: Optional[str]) -> str:
        """The schedd a request names (None or "": the default one); LookupError when the pool has none."""
        if not name:
            return self.default_schedd
        if name not in self.schedds:
            raise LookupError(f"the simulated pool has no schedd named {name} (its schedds: {', '.join(self.schedds)})")
        return name

    # ----- queue operations -----------------------------------------------------------------------
    def submit(self, cmd: List[str], env: Dict[str, str], idle: bool, owner: Optional[str],
               batch_name: str, schedd: Optional[str] = None) -> Job:
        if not cmd:
            raise ValueError("nothing to run: give a command after --")
        with self.lock:
            name = self.schedd(schedd)
            cluster = self.next_cluster[name]
            self.next_cluster[name] += 1
            rootdir.write_file(self.root / (NEXT_CLUSTER + self._suffix(name)), f"{cluster + 1}\n".encode())
            sandbox = self.execute / f"dir_{cluster}.0{self._suffix(name)}"
            os.mkdir(sandbox, 0o700)
            job = Job(cluster=cluster, proc=0, cmd=cmd, env=env, owner=owner or self.user,
                      batch_name=batch_name, sandbox=sandbox, schedd=name)
            self.jobs[(name, cluster)] = job
            if not idle and self.idle_delay > 0:
                threading.Timer(self.idle_delay, self._start_if_idle, args=(job,)).start()
            elif not idle:
                self._start(job)
            return job

    def _start_if_idle(self, job: Job) -> None:
        with self.lock:
            if job.status == "idle" and not self.stopping.is_set():
                self._start(job)

    def submit_description(self, description: Dict[str, str], owner: Optional[str], schedd: Optional[str] = None) -> Job:
        """condor_submit and the schedd in one: the program from `executable` and `arguments` (new
        syntax), the commands recorded as given, `MY.X`/`+X` and the resource requests in the job ad."""
        commands = {key.lower(): value for key, value in description.items()}
        program = commands.get("executable", "").strip()
        if not program:
            raise ValueError("the submit description has no executable")
        args = condorargs.split(commands["arguments"]) if commands.get("arguments", "").strip() else []
        ad = {}
        for key, value in description.items():
            if key[:3].upper() == "MY." or key.startswith("+"):
                ad[key[3:] if key[:3].upper() == "MY." else key[1:]] = value
            elif key.lower() in RESOURCE_ATTRIBUTES:  # strings quoted, as the schedd's ad has them
                quoted = key.lower() in STRING_COMMANDS and not value.startswith('"')
                ad[RESOURCE_ATTRIBUTES[key.lower()]] = '"' + value.replace('"', '\\"') + '"' if quoted else value
        job = self.submit([program] + args, {}, True, owner, unquoted(ad.get("JobBatchName", "")), schedd)
        with self.lock:
            job.ad, job.submit_lines = ad, dict(description)
            if self.idle_delay > 0:
                threading.Timer(self.idle_delay, self._start_if_idle, args=(job,)).start()
            else:
                self._start(job)
        return job

    def _job_env(self, job: Job) -> Dict[str, str]:
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
        env.update(job.env)
        env.update({
            "_CONDOR_SCRATCH_DIR": str(job.sandbox),
            "_CONDOR_JOB_IWD": str(job.sandbox),
            "_CONDOR_SLOT_NAME": "slot1@" + socket.gethostname(),
            "_CONDOR_JOB_AD": str(job.sandbox / ".job.ad"),
            "_CONDOR_MACHINE_AD": str(job.sandbox / ".machine.ad"),
            "TMPDIR": str(job.sandbox), "TMP": str(job.sandbox), "TEMP": str(job.sandbox),
            "BATCH_SYSTEM": "HTCondor",
            tracking.MARKER: tracking.marker_value(str(self.root), job.key(self.default_schedd)),  # every process of the job
        })
        return env

    def _start(self, job: Job) -> None:
        rootdir.write_file(job.sandbox / ".job.ad", (
            f"ClusterId = {job.cluster}\nProcId = {job.proc}\nOwner = \"{job.owner}\"\n"
            f"Cmd = \"{job.cmd[0]}\"\nJobStatus = 2\n" + "".join(f"{k} = {ad_text(v)}\n" for k, v in job.ad.items())).encode())
        rootdir.write_file(job.sandbox / ".machine.ad", f"Name = \"slot1@{socket.gethostname()}\"\n".encode())
        with open(rootdir.open_append(job.sandbox / "_condor_stdout"), "ab") as out, \
                open(rootdir.open_append(job.sandbox / "_condor_stderr"), "ab") as err:
            try:
                process = subprocess.Popen(job.cmd, cwd=job.sandbox, env=self._job_env(job), stdin=subprocess.DEVNULL,
                                           stdout=out, stderr=err, start_new_session=True, close_fds=True)
            except OSError as exc:
                job.status, job.hold_reason = "held", f"Error from starter: failed to execute {job.cmd[0]}: {exc.strerror}"
                return
        job.process, job.status, job.started, job.hold_reason = process, "running", time.time(), ""
        job.program_pid, job.exit_code = process.pid, None
        threading.Thread(target=self._watch, args=(job, process), daemon=True).start()

    def _watch(self, job: Job, process: subprocess.Popen) -> None:
        """The program ended by itself.  As a starter does, the job stays running while ssh sessions live
        (new ones are still accepted) and completes when the last one ends (`_reap_session`)."""
        code = process.wait()
        with self.lock:
            if job.process is process and job.status == "running":
                job.exit_code, job.process = code, None
                if not job.sessions:
                    self._complete(job)

    def _complete(self, job: Job) -> None:
        job.status = "completed"
        self._end_sessions(job)

    def _kill(self, job: Job) -> None:
        """End the job at once (`sim stop`): SIGTERM, SIGKILL 3 s later."""
        process, job.process = job.process, None
        if process is not None:
            _kill_group(process)
        self._end_sessions(job)

    def _vacate(self, job: Job, kill_sig_attr: str = "KillSig") -> None:
        """What a starter does on condor_rm, condor_hold or a vacate: its ssh sessions end, the program gets
        the job's soft-kill signal (RemoveKillSig on removal, HoldKillSig on hold, else KillSig; default
        SIGTERM) and, if it is still there after the vacate time, SIGKILL; then every process the job or
        its sessions started goes."""
        process, job.process = job.process, None
        for session in job.sessions:
            _kill_group(session.sshd, wait=False)
        if process is None:
            tracking.end(tracking.of_job(tracking.marker_value(str(self.root), job.key(self.default_schedd))))
            return
        try:
            os.kill(process.pid, signal_number(job.ad.get(kill_sig_attr) or job.ad.get("KillSig", "")))
        except ProcessLookupError:
            pass
        grace = min(MACHINE_MAX_VACATE_TIME, seconds(job.ad.get("JobMaxVacateTime"), MACHINE_MAX_VACATE_TIME))
        threading.Thread(target=self._hard_kill, args=(job, process, grace), daemon=True).start()

    def _hard_kill(self, job: Job, process: subprocess.Popen, grace: float) -> None:
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        code = process.wait()
        with self.lock:
            if job.process is None:  # not started again meanwhile (released)
                job.exit_code = code  # negative: the signal that ended it (-9: it outlived the vacate time)
                self._end_sessions(job)

    def _end_sessions(self, job: Job) -> None:
        """The job has ended: end its sessions and every process it or they started (see `tracking`)."""
        for session in job.sessions:
            _kill_group(session.sshd, wait=False)
        tracking.end(tracking.of_job(tracking.marker_value(str(self.root), job.key(self.default_schedd))))

    def find(self, cluster: int, proc: int, schedd: Optional[str] = None) -> Job:
        name = self.schedd(schedd)
        job = self.jobs.get((name, cluster))
        if job is None or job.proc != proc:
            where = "" if name == self.default_schedd else f" of schedd {name}"
            raise LookupError(f"job {cluster}.{proc} is not in the queue{where}")
        return job

    def hold(self, job: Job, reason: str) -> None:
        if job.status in ("completed", "removed"):
            raise ValueError(f"job {job.job_id} has already {job.status}")
        self._vacate(job, "HoldKillSig")
        job.status, job.hold_reason = "held", reason or "via condor-job-ssh sim hold"

    def release(self, job: Job) -> None:
        if job.status not in ("held", "idle"):
            raise ValueError(f"job {job.job_id} is {job.status}, not held or idle")
        self._start(job)

    def remove(self, job: Job) -> None:
        self._vacate(job, "RemoveKillSig")
        job.status = "removed"

    def session(self, job: Job, keygen_options: List[str], shells: List[str]) -> starter.StartedSession:
        with self.lock:
            env = self._session_env(job, shells)
        started = starter.open_session(sandbox=job.sandbox, job_env=env, shell_setup=self.shell_setup,
                                       keygen_options=self.keygen_options + keygen_options)
        with self.lock:
            if job.status != "running" or self.stopping.is_set():  # it ended while the key was being made
                _kill_group(started.sshd, wait=False)
                started.sock.close()
                started.sshd.wait()
                starter.remove_session_dir(started.directory)
                raise Refused(f"job {job.job_id} stopped running while the session was being set up", False,
                               job.status)
            session = SessionProc(started.sshd, started.directory)
            session.reaper = threading.Thread(target=self._reap_session, args=(job, session), daemon=True)
            job.sessions.append(session)
            session.reaper.start()
        return started

    def _session_env(self, job: Job, shells: List[str]) -> Dict[str, str]:
        """Refuse as a starter would, or return the environment the session's shell restores."""
        if job.owner != self.user:
            raise PermissionError(f"job {job.job_id} belongs to {job.owner}, not to you ({self.user})")
        if job.status == "idle":
            raise Refused(f"job {job.job_id} is idle: it has not started running yet", True, "idle")
        if job.status == "held":
            raise Refused(f"job {job.job_id} is held: {job.hold_reason}", False, "held")
        if job.status == "completed":
            raise Refused(f"job {job.job_id} has completed (exit code {job.exit_code}); there is nothing to "
                           "connect to", False, "completed")
        if job.status == "removed":
            raise Refused(f"job {job.job_id} was removed", False, "removed")
        if self.stopping.is_set():
            raise Refused("the simulated pool is stopping", False, "stopping")
        env = self._job_env(job)
        # the program (while it runs), then the sshd of every session that lives now, as a starter lists
        # them (measured on 25.14: '7038' alone, then '7038 7719' while session 7719 lived; after the program
        # ended, only the live sessions' sshd)
        pids = ([job.process.pid] if job.process is not None else []) + [s.sshd.pid for s in job.sessions]
        env["_CONDOR_JOB_PIDS"] = " ".join(str(pid) for pid in pids)
        found = (shutil.which(name, path=env["PATH"]) for name in shells)  # names or paths, in order of preference
        usable = next((path for path in found if path), None)
        if usable:
            env["_CONDOR_SHELL"] = usable
        return env

    def _reap_session(self, job: Job, session: SessionProc) -> None:
        """A starter's JobReaper for a session's sshd: when it exits, its `.condor_ssh_to_job_N` directory
        goes (DESIGN.md §12).  What the session started keeps running, as the job's, until the job ends."""
        session.sshd.wait()
        with self.lock:
            if session in job.sessions:
                job.sessions.remove(session)
            starter.remove_session_dir(session.directory)
            if job.status == "running" and job.process is None and not job.sessions:
                self._complete(job)  # the program ended earlier: the last session's end completes the job

    def shutdown(self) -> None:
        self.stopping.set()  # first: a session request from now on is refused, not set up in a dying sandbox
        with self.lock:
            for job in self.jobs.values():
                if job.status == "running":
                    self._kill(job)
            tracking.end(tracking.of_pool(str(self.root)))  # held or completed jobs' strays, earlier runs'
        self.stopped.set()

    def clean_up(self) -> None:
        """After `shutdown`: remove what this daemon made (docs/simulated-pool.md, "What `sim stop` removes")."""
        with self.lock:
            sessions = [s for job in self.jobs.values() for s in job.sessions]
        for session in sessions:
            if session.reaper is not None:
                session.reaper.join(5)
        for job in self.jobs.values():
            _remove_tree(job.sandbox)
        remove_entries(self.libexec, [self.shell_setup.name], rmdir=self.created_libexec or self.created_root)
        remove_entries(self.execute, [], rmdir=True)


class Refused(Exception):
    """A session the queue will not open (idle: retry-able; held, completed...: not), with the status word."""

    def __init__(self, message: str, retryable: bool, status: str) -> None:
        super().__init__(message)
        self.retryable, self.status = retryable, status


def _kill_group(process: subprocess.Popen, wait: bool = True) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    if not wait:
        return
    try:
        process.wait(timeout=3)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def _remove_tree(path: Path) -> None:
    """Remove a directory tree of ours without following symlinks in it (rmtree refuses a symlinked top and,
    on Linux, walks by file descriptor)."""
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        print(f"could not remove {path}: {exc}", file=sys.stderr)


def remove_entries(directory: Path, names: List[str], rmdir: bool) -> None:
    for name in names:
        try:
            os.unlink(directory / name)
        except FileNotFoundError:
            pass
        except OSError as exc:
            print(f"could not remove {directory / name}: {exc}", file=sys.stderr)
    if rmdir:
        try:
            os.rmdir(directory)  # only when empty: what someone else put there stays
        except OSError:
            pass
