"""The simulated pool's daemon: a one-machine schedd and starter.

It owns the queue (ids, states, hold reasons), runs each running job as its own process group in its own
sandbox, and opens ssh sessions on request (`starter.open_session`).  Clients speak `protocol` over
`<root>/pool.sock`.  Job states use HTCondor's words and rules: idle and held jobs have no starter, so a
session request is refused (idle: retry-able; held: with the reason); completed and removed jobs are gone.
"""

from __future__ import annotations

import argparse
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
from typing import Dict, List, Optional

from .. import condorargs
from . import protocol, rootdir, starter, tracking

POOL_SOCKET = "pool.sock"
POOL_PID = "pool.pid"
POOL_LOG = "pool.log"
NEXT_CLUSTER = "next-cluster"  # cluster ids are never reused, as a schedd's job queue log keeps them
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

    def describe(self) -> dict:
        return {"id": self.job_id, "cluster": self.cluster, "proc": self.proc, "status": self.status,
                "cmd": shlex.join(self.cmd), "owner": self.owner, "batch_name": self.batch_name,
                "hold_reason": self.hold_reason, "exit_code": self.exit_code, "submitted": self.submitted,
                "started": self.started, "pid": self.program_pid,
                "program_running": self.process is not None,
                "sandbox": str(self.sandbox), "remote_host": "slot1@" + socket.gethostname(),
                "ad": dict(self.ad), "submit": dict(self.submit_lines)}


class Pool:
    def __init__(self, root: Path, keygen_options: List[str], created_root: bool = False,
                 idle_delay: float = 0.0) -> None:
        self.root = root
        self.keygen_options = keygen_options
        self.created_root = created_root  # `sim start` made the root: `sim stop` removes it (if empty then)
        self.idle_delay = idle_delay  # seconds a new job stays idle before it runs, as matchmaking takes
        self.jobs: Dict[int, Job] = {}
        self.lock = threading.RLock()
        rootdir.check_root(root)
        self.execute = root / "execute"
        self.created_execute = rootdir.make_dir(self.execute, "the pool's execute directory")
        self.next_cluster = _next_free_cluster(root)  # ids are never reused, even across restarts
        self.stopping = threading.Event()  # set when shutdown begins
        self.stopped = threading.Event()  # set when every job has been ended
        self.libexec = root / "libexec"
        self.created_libexec = rootdir.make_dir(self.libexec, "the pool's libexec directory")
        self.shell_setup = starter.install_shell_setup(self.libexec)
        self.user = pwd.getpwuid(os.geteuid()).pw_name

    # ----- queue operations -----------------------------------------------------------------------
    def submit(self, cmd: List[str], env: Dict[str, str], idle: bool, owner: Optional[str],
               batch_name: str) -> Job:
        if not cmd:
            raise ValueError("nothing to run: give a command after --")
        with self.lock:
            cluster = self.next_cluster
            self.next_cluster += 1
            rootdir.write_file(self.root / NEXT_CLUSTER, f"{self.next_cluster}\n".encode())
            sandbox = self.execute / f"dir_{cluster}.0"
            os.mkdir(sandbox, 0o700)
            job = Job(cluster=cluster, proc=0, cmd=cmd, env=env, owner=owner or self.user,
                      batch_name=batch_name, sandbox=sandbox)
            self.jobs[cluster] = job
            if not idle and self.idle_delay > 0:
                threading.Timer(self.idle_delay, self._start_if_idle, args=(job,)).start()
            elif not idle:
                self._start(job)
            return job

    def _start_if_idle(self, job: Job) -> None:
        with self.lock:
            if job.status == "idle" and not self.stopping.is_set():
                self._start(job)

    def submit_description(self, description: Dict[str, str], owner: Optional[str]) -> Job:
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
            elif key.lower() in _RESOURCE_ATTRIBUTES:  # strings quoted, as the schedd's ad has them
                quoted = key.lower() in _STRING_COMMANDS and not value.startswith('"')
                ad[_RESOURCE_ATTRIBUTES[key.lower()]] = '"' + value.replace('"', '\\"') + '"' if quoted else value
        job = self.submit([program] + args, {}, True, owner, _unquoted(ad.get("JobBatchName", "")))
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
            tracking.MARKER: tracking.marker_value(str(self.root), job.job_id),  # every process of the job
        })
        return env

    def _start(self, job: Job) -> None:
        rootdir.write_file(job.sandbox / ".job.ad", (
            f"ClusterId = {job.cluster}\nProcId = {job.proc}\nOwner = \"{job.owner}\"\n"
            f"Cmd = \"{job.cmd[0]}\"\nJobStatus = 2\n" + "".join(f"{k} = {_ad_text(v)}\n" for k, v in job.ad.items())).encode())
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
            tracking.end(tracking.of_job(tracking.marker_value(str(self.root), job.job_id)))
            return
        try:
            os.kill(process.pid, _signal_number(job.ad.get(kill_sig_attr) or job.ad.get("KillSig", "")))
        except ProcessLookupError:
            pass
        grace = min(MACHINE_MAX_VACATE_TIME, _seconds(job.ad.get("JobMaxVacateTime"), MACHINE_MAX_VACATE_TIME))
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
        tracking.end(tracking.of_job(tracking.marker_value(str(self.root), job.job_id)))

    def find(self, cluster: int, proc: int) -> Job:
        job = self.jobs.get(cluster)
        if job is None or job.proc != proc:
            raise LookupError(f"job {cluster}.{proc} is not in the queue")
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
                raise _Refused(f"job {job.job_id} stopped running while the session was being set up", False,
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
            raise _Refused(f"job {job.job_id} is idle: it has not started running yet", True, "idle")
        if job.status == "held":
            raise _Refused(f"job {job.job_id} is held: {job.hold_reason}", False, "held")
        if job.status == "completed":
            raise _Refused(f"job {job.job_id} has completed (exit code {job.exit_code}); there is nothing to "
                           "connect to", False, "completed")
        if job.status == "removed":
            raise _Refused(f"job {job.job_id} was removed", False, "removed")
        if self.stopping.is_set():
            raise _Refused("the simulated pool is stopping", False, "stopping")
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
        _remove_entries(self.libexec, [self.shell_setup.name], rmdir=self.created_libexec or self.created_root)
        _remove_entries(self.execute, [], rmdir=True)

    # ----- requests -------------------------------------------------------------------------------
    def handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                request, fds = protocol.recv(conn)
            except (protocol.ProtocolError, OSError):
                return
            for fd in fds:
                os.close(fd)
            try:
                reply, send_fds, keep = self._dispatch(request)
            except _Refused as exc:
                reply, send_fds, keep = {"ok": False, "error": str(exc), "retryable": exc.retryable,
                                         "status": exc.status}, [], None
            except (LookupError, ValueError, PermissionError, starter.StarterError) as exc:
                status = {LookupError: "unknown", PermissionError: "not-yours"}.get(type(exc), "error")
                message = exc.args[0] if exc.args else str(exc)
                reply, send_fds, keep = {"ok": False, "error": message, "retryable": False, "status": status}, [], None
            except OSError as exc:  # the execute side failed (disk full, ...): say so rather than hang up
                reply, send_fds, keep = {"ok": False, "error": f"the simulated pool failed: {exc}", "retryable": False,
                                         "status": "error"}, [], None
            try:
                protocol.send(conn, reply, send_fds)
            except OSError:
                pass
            finally:
                if keep is not None:
                    keep.close()

    def _dispatch(self, request: dict):
        op = request.get("op")
        if op == "ping":
            return {"ok": True, "pid": os.getpid()}, [], None
        if op == "submit":
            job = self.submit(list(request.get("cmd") or []), dict(request.get("env") or {}),
                              bool(request.get("idle")), request.get("owner"), request.get("batch_name") or "")
            return {"ok": True, "job": job.describe()}, [], None
        if op == "submit_description":
            job = self.submit_description({str(k): str(v) for k, v in dict(request.get("description") or {}).items()},
                                          request.get("owner"))
            return {"ok": True, "job": job.describe()}, [], None
        if op == "list":
            with self.lock:
                return {"ok": True, "jobs": [j.describe() for j in self.jobs.values()]}, [], None
        if op == "stop":
            self.shutdown()
            return {"ok": True}, [], None
        job = self.find(int(request.get("cluster", 0)), int(request.get("proc", 0)))
        if op == "session":
            started = self.session(job, list(request.get("keygen_options") or []), list(request.get("shells") or []))
            reply = {"ok": True, "user": started.user, "host_key": started.host_key,
                     "private_key": started.private_key, "directory": str(started.directory)}
            return reply, [started.sock.fileno()], started.sock
        with self.lock:
            if op == "hold":
                self.hold(job, request.get("reason") or "")
            elif op == "release":
                self.release(job)
            elif op == "rm":
                self.remove(job)
            elif op == "status":
                pass
            else:
                raise ValueError(f"unknown request {op!r}")
            return {"ok": True, "job": job.describe()}, [], None


def _next_free_cluster(root: Path) -> int:
    used = [0]
    try:
        used.append(int((root / NEXT_CLUSTER).read_text().strip()) - 1)
    except (OSError, ValueError):
        pass
    execute = root / "execute"
    if execute.is_dir():
        for entry in execute.iterdir():
            number = entry.name[len("dir_"):].split(".")[0]
            if entry.name.startswith("dir_") and number.isdigit():
                used.append(int(number))
    return max(used) + 1


_RESOURCE_ATTRIBUTES = {"request_cpus": "RequestCpus", "request_memory": "RequestMemory", "request_disk": "RequestDisk",
                        "request_gpus": "RequestGPUs", "container_image": "ContainerImage",
                        "requirements": "Requirements", "accounting_group": "AcctGroup", "batch_name": "JobBatchName",
                        "kill_sig": "KillSig", "remove_kill_sig": "RemoveKillSig", "hold_kill_sig": "HoldKillSig",
                        "job_max_vacate_time": "JobMaxVacateTime"}

_STRING_COMMANDS = {"container_image", "accounting_group", "batch_name", "kill_sig", "remove_kill_sig",
                    "hold_kill_sig"}


def _ad_text(value: str) -> str:
    """A value as the starter writes it into the job ad file: ClassAd's booleans in lower case (the
    schedd parses `MY.InteractiveJob = True` into the literal `true`, which is what scripts grep for)."""
    return value.lower() if value.strip().lower() in ("true", "false") else value


def _signal_number(text: str) -> int:
    """A KillSig value ("SIGUSR1", "USR1", 10; quoted as in the ad) as a number; SIGTERM when unset."""
    name = _unquoted(text.strip()).upper()
    if name.isdigit():
        return int(name)
    try:
        return int(getattr(signal, name if name.startswith("SIG") else "SIG" + name))
    except (AttributeError, TypeError):
        return int(signal.SIGTERM)


def _seconds(text: Optional[str], default: float) -> float:
    try:
        return max(0.0, float(text)) if text is not None else default
    except ValueError:
        return default


def _unquoted(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


class _Refused(Exception):
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


def _remove_entries(directory: Path, names: List[str], rmdir: bool) -> None:
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


def serve(root: Path, keygen_options: List[str], created_root: bool = False, idle_delay: float = 0.0) -> int:
    try:
        pool = Pool(root, keygen_options, created_root, idle_delay)
    except (rootdir.RootError, OSError) as exc:
        print(f"the simulated pool cannot start: {exc}", file=sys.stderr)
        return 1
    path = root / POOL_SOCKET
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.lexists(path):
        os.unlink(path)
    old = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old)
    listener.listen(socket.SOMAXCONN)  # a burst of 200 ssh at once must not find the queue full
    rootdir.write_file(root / POOL_PID, f"{os.getpid()}\n".encode())
    signal.signal(signal.SIGTERM, lambda *_: pool.shutdown())
    listener.settimeout(0.5)
    handlers: List[threading.Thread] = []
    try:
        while not pool.stopped.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            conn.settimeout(None)
            handler = threading.Thread(target=pool.handle, args=(conn,), daemon=True)
            handler.start()
            handlers = [h for h in handlers if h.is_alive()] + [handler]
    finally:
        pool.shutdown()
        listener.close()
        deadline = time.monotonic() + 5
        for handler in handlers:  # the `stop` request among them still has to say it is done
            handler.join(max(0.0, deadline - time.monotonic()))
        pool.clean_up()
        _remove_entries(root, [POOL_PID, POOL_SOCKET], rmdir=False)  # the socket last: `stop` waits for it
        if created_root:
            _remove_entries(root, [POOL_LOG, NEXT_CLUSTER], rmdir=True)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proxycmd.sim.daemon",
                                     description="Run the simulated pool's daemon in the foreground.")
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--keygen-options", default="", help="extra ssh-keygen options for every session")
    parser.add_argument("--created-root", action="store_true", help="the root is ours to remove at stop")
    parser.add_argument("--idle-delay", type=float, default=0.0, help="seconds a new job stays idle before it runs")
    args = parser.parse_args(argv)
    root = Path(os.path.abspath(args.root))  # not resolve(): a symlinked root is refused, not followed
    try:
        options = starter.parse_keygen_options(args.keygen_options)
    except starter.StarterError as exc:
        print(f"the simulated pool cannot start: {exc}", file=sys.stderr)
        return 1
    return serve(root, options, args.created_root, args.idle_delay)


if __name__ == "__main__":
    sys.exit(main())
