"""`condor-ssh-to-job`: HTCondor's classic command line, on condor-job-proxy's machinery.

    condor-ssh-to-job [OPTIONS] JOB [COMMAND...]

It works as HTCondor's own tool does (docs/design-facts.md: "How condor_ssh_to_job opens a session, step by step"), so it needs no agent and suits every OpenSSH
version: it opens the session first (waiting with -auto-retry), writes the session's key and host key into
a fresh private directory for this one run, serves the connection once on a unix socket there, and runs ssh
(or the -ssh program) with options that use that key and take the connection through
`condor-job-proxy --from-socket`.  The directory goes when the program exits, whatever happened; SIGINT,
SIGTERM and SIGHUP are passed on to the program meanwhile (SIGTERM and SIGHUP again while it still runs, for
ssh before 9.6).  The exit status is the program's.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, List, Optional, Sequence

from proxycmd import ourcommands, paths, safefs, waiting
from proxycmd.errors import Interrupted, ProxyError, SessionRefused, UsageError, one_line
from proxycmd.session import Session

from . import args as classic_args, dirs as classic_dirs
from .args import PROG, ClassicRequest

PROXY = "condor-job-proxy"
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# ssh before 9.6 can miss one SIGTERM or SIGHUP and sleep until its next event, 30 s with ServerAliveInterval 30
# (bz3531; docs/design-facts.md): while the program still runs, these are passed on again, a few times.  Not
# SIGINT: interactive sftp and a remote shell take it as "stop this", and a repeat would stop the next thing.
AGAIN = (signal.SIGTERM, signal.SIGHUP)
AGAIN_AFTER = 1.0  # seconds
AGAIN_TIMES = 5
# ssh reads IdentityFile and UserKnownHostsFile as config words (spaces split them, % and ${ expand):
# the session directory must be a plain path.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_./+,:@=-]+\Z")


def _start_thread(thread: threading.Thread) -> None:
    """Start *thread* with SIGNALS blocked in it (a new thread inherits the mask): the kernel then gives them
    to the main thread, whose wait for the program they must interrupt to be passed on (`_Signals`)."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _say(message: str) -> None:
    sys.stderr.write(f"{PROG}: {one_line(message)}\n")
    sys.stderr.flush()


def _fail(message: str, code: int) -> int:
    _say(message)
    return code


# ----- before the session ------------------------------------------------------------------------------------
_SAVED: list = []  # the settings, read once: their warnings are said once


def _saved_settings():
    """The settings `condor-job-ssh setup` saved (ProxyError, one line, when they cannot be used)."""
    from ..block import settings as settings_mod

    if not _SAVED:
        try:
            _SAVED.append(settings_mod.load())
        except settings_mod.SettingsError as exc:
            raise ProxyError(str(exc)) from None
    return _SAVED[0]


def _backend(request: ClassicRequest):
    """The backend `condor-job-ssh setup` recorded: the simulated pool, else HTCondor (-name/-pool win)."""
    from proxycmd.backends import open_backend

    saved = _saved_settings()
    try:
        return open_backend(sim_root=saved.sim_root, schedd=request.schedd or saved.schedd,
                            pool=request.pool or saved.pool)
    except ImportError as exc:
        raise ProxyError(f"cannot use HTCondor: {exc}; install the htcondor Python bindings, or run "
                         f"`{ourcommands.command_word('condor-job-ssh')} setup --sim DIR` to use a simulated pool") from None


def _advised(open_session, request: ClassicRequest) -> Session:
    """*open_session*, with a held job's sentence naming the command that releases it, as ssh's does."""
    from proxycmd.advice import advise

    try:
        return open_session()
    except SessionRefused as exc:
        try:
            saved = _saved_settings()
        except ProxyError:
            raise exc from None
        raise advise(exc, request.job.classic_id, sim_root=saved.sim_root, schedd=request.schedd or saved.schedd,
                     pool=request.pool or saved.pool) from None


def _check_program(word: str) -> str:
    found = shutil.which(word)
    if not found:
        raise ProxyError(f"cannot run {word}: " + ("no such program" if os.sep in word else "not found on PATH"))
    return found


def _proxy() -> str:
    """condor-job-proxy (see ourcommands.console_script)."""
    found = ourcommands.console_script(PROXY)
    if not found:
        raise ProxyError(f"cannot find {PROXY} next to {sys.executable} or on PATH; reinstall condor-job-proxy")
    return found


def _sessions_dir() -> Path:
    """classic/ in the runtime directory `setup` chose (saved, or the default one), checked as the proxy
    checks it: no other user can create or replace it."""
    chosen = _saved_settings().runtime_dir
    rundir = paths.ensure_runtime_dir(Path(chosen)) if chosen else paths.runtime_dir()
    parent = paths.classic_session_dir(rundir)
    if not _PLAIN_PATH.match(str(parent)):
        raise ProxyError(f"the runtime directory {str(parent)!r} holds characters ssh cannot take in an option "
                         "(spaces, quotes, % or $); pick a plain one with `condor-job-ssh setup --runtime-dir DIR`")
    return parent


def _open(backend, request: ClassicRequest) -> Session:
    """One session; with -auto-retry, retry while the refusal is retry-able, with calm progress."""
    shells = request.shells
    if shells is None:  # HTCondor's tool asks for the user's own shell by default
        shells = (os.environ["SHELL"],) if os.environ.get("SHELL") else ()

    def attempt() -> Session:
        return backend.open_session(request.job, keygen_options=request.keygen_options, shells=shells)

    what = f"job {request.job.classic_id}"
    if request.auto_retry:
        return waiting.open_with_wait(attempt, what=what, wait=True, interval=backend.retry_interval,
                                      progress=waiting.Progress(what, prog=PROG))
    try:
        return attempt()
    except SessionRefused as exc:
        if not exc.retryable:
            raise
        raise SessionRefused(f"{exc} (use -auto-retry to keep trying until it runs)", status=exc.status) from None


# ----- signals -------------------------------------------------------------------------------------------------
class _Remover:
    """-remove-on-interrupt: take the job out of the queue, once, in a thread (never in a signal handler)."""

    def __init__(self, backend, request: ClassicRequest) -> None:
        self.backend = backend
        self.job = request.job
        self.enabled = request.remove_on_interrupt
        self.thread: Optional[threading.Thread] = None

    def start(self, signum: int) -> None:
        if self.enabled and self.thread is None:
            self.thread = threading.Thread(target=self._remove, args=(signum,), daemon=True)
            _start_thread(self.thread)

    def _remove(self, signum: int) -> None:
        name = signal.Signals(signum).name
        _say(f"interrupted by {name}; removing job {self.job.classic_id}")
        try:
            self.backend.remove_job(self.job, reason=f"{PROG} -remove-on-interrupt ({name})")
        except Exception as exc:  # a thread: say it in one line, whatever the backend raised
            _say(f"-remove-on-interrupt failed: {exc}")

    def finish(self) -> None:
        if self.thread is not None:
            self.thread.join(60)


class _PassedOn(Exception):
    """A signal was passed on to the program while we waited for it: wait again, now with a timeout."""


class _Signals:
    """SIGINT, SIGTERM and SIGHUP.  Before the program runs, the first one stops us (KeyboardInterrupt, so
    the directory is cleaned up on the way out); while it runs, each is passed on to it and we wait for it,
    passing a SIGTERM or SIGHUP on again while it still runs (`wait`)."""

    def __init__(self, on_signal: Callable[[int], None]) -> None:
        self.on_signal = on_signal
        self.signum = 0
        self.child: Optional[subprocess.Popen] = None
        self.spawning = False
        self.waiting = False
        self.saved: dict = {}

    def __enter__(self) -> "_Signals":
        for signum in SIGNALS:
            self.saved[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.saved.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame) -> None:
        first = not self.signum
        self.signum = signum
        self.on_signal(signum)
        if self.child is not None:
            self.child.send_signal(signum)
            if self.waiting and signum in AGAIN:
                raise _PassedOn  # out of a wait without a timeout: `wait` waits again with one
        elif first and not self.spawning:
            raise KeyboardInterrupt

    def spawn(self, argv: List[str], env: dict) -> subprocess.Popen:
        self.spawning = True  # a signal now is held for the child, which must not be left behind
        try:
            self.child = subprocess.Popen(argv, env=env)
        except OSError as exc:
            raise ProxyError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
        finally:
            self.spawning = False
        if self.signum:
            self.child.send_signal(self.signum)
        return self.child

    def wait(self) -> int:
        """The program's exit status (Popen's returncode).  After a SIGTERM or SIGHUP passed on, the program
        gets it again each AGAIN_AFTER seconds while it runs, AGAIN_TIMES times at most (see AGAIN)."""
        again = 0
        while True:
            repeat = self.signum in AGAIN and again < AGAIN_TIMES
            try:
                self.waiting = True
                try:
                    code = self.child.wait(AGAIN_AFTER if repeat else None)
                finally:
                    self.waiting = False
            except subprocess.TimeoutExpired:
                self.child.send_signal(self.signum)
                again += 1
                continue
            except _PassedOn:
                continue
            return code


# ----- the session's directory -------------------------------------------------------------------------------
def _make_dir(parent: Path) -> Path:
    """This run's key directory, named for this process (classic_dirs); first sweep those whose process is
    gone (a SIGKILLed run cannot remove its own)."""
    classic_dirs.sweep(parent)
    path = parent / classic_dirs.own_name()
    try:
        os.mkdir(path, 0o700)
    except OSError as exc:
        raise paths.PathError(f"cannot create {path}: {exc.strerror}") from None
    try:
        safefs.check_own_dir(path)
    except paths.PathError:
        os.rmdir(path)
        raise
    return path


def _write_new(path: Path, data: bytes) -> None:
    try:
        safefs.write_new(path, data)
    except OSError as exc:  # a full disk, a quota: one line (the directory goes, with what was written)
        raise ProxyError(f"cannot write {path}: {exc.strerror or exc}") from None


def _remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    if os.path.lexists(path):
        _say(f"warning: could not remove {path}; remove it by hand (it holds a session key)")


class _HandOver:
    """Serve the session's connection once (SCM_RIGHTS, one-byte payload) on a unix socket, to a process of
    ours: what `condor-job-proxy --from-socket` receives and passes on to ssh."""

    def __init__(self, path: Path, session: Session, debug: bool) -> None:
        self.session = session
        self.debug = debug
        self.done = threading.Event()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.listener.bind(str(path))
            os.chmod(path, 0o600)
            self.listener.listen(4)
        except OSError as exc:
            self.listener.close()
            raise ProxyError(f"cannot make the socket {path}: {exc.strerror or exc}") from None
        self.listener.settimeout(0.25)  # so that close() is seen soon
        self.thread = threading.Thread(target=self._serve, daemon=True)
        _start_thread(self.thread)

    def _serve(self) -> None:
        from proxycmd.agent.peer import peer_credentials

        while not self.done.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                try:
                    uid = peer_credentials(conn).uid
                except OSError:
                    uid = os.getuid()  # no peer credentials here: the 0700 directory is the guard
                if uid != os.getuid():
                    if self.debug:
                        _say(f"refused the connection of uid {uid} to the session socket")
                    continue
                try:
                    socket.send_fds(conn, [b"\0"], [self.session.sock.fileno()])
                except OSError as exc:
                    _say(f"could not pass the session on: {exc.strerror or exc}")
                    continue
            if self.debug:
                _say("passed the session's connection to the proxy")
            self.done.set()
            self.listener.close()  # once, as HTCondor's tool: a second taker is refused, not left waiting
            self.session.close()  # the program holds it now

    def close(self) -> None:
        self.done.set()
        self.thread.join(1.0)
        self.listener.close()


def _run_program(request: ClassicRequest, session: Session, parent: Path, proxy: str, signals: _Signals) -> int:
    workdir = _make_dir(parent)
    handover = None
    try:
        _write_new(workdir / "ssh_key", session.private_key)
        _write_new(workdir / "known_hosts", f"* {session.host_key}\n".encode())
        handover = _HandOver(workdir / "fdpass", session, request.debug)
        argv = classic_args.program_argv(request, session_dir=str(workdir), user=session.user, proxy=proxy)
        if request.debug:
            _say(f"session directory {workdir} (removed when {argv[0]} exits)")
            _say(f"running: {shlex.join(argv)}")
        env = {k: v for k, v in os.environ.items() if k != "SHELL"}  # ssh then runs the proxy with /bin/sh
        signals.spawn(argv, env)
        code = signals.wait()
        return 128 - code if code < 0 else code
    finally:
        if handover is not None:
            handover.close()
        _remove_dir(workdir)


# ----- main ------------------------------------------------------------------------------------------------------
def run(request: ClassicRequest) -> int:
    from proxycmd.agent.harden import forbid_inspection

    forbid_inspection()  # we hold the session's key: no core file, no same-user look at our memory
    backend = _backend(request)
    _check_program(request.program[0])
    proxy = _proxy()
    parent = _sessions_dir()
    if request.debug:
        _say(f"job {request.job.classic_id} through the {getattr(backend, 'name', '?')} backend; "
             f"program {classic_args.join_v2(request.program)}")
    remover = _Remover(backend, request)
    code: Optional[int] = None
    with _Signals(remover.start) as signals:
        try:
            session = _advised(lambda: _open(backend, request), request)
            try:
                code = _run_program(request, session, parent, proxy, signals)
            finally:
                session.close()
        except (KeyboardInterrupt, Interrupted):
            signals.signum = signals.signum or signal.SIGINT
        remover.finish()
    if code is None and not request.remove_on_interrupt:  # stopped before the program ran: say why
        _say(f"interrupted by {signal.Signals(signals.signum).name}")
    return 128 + signals.signum if signals.signum else code


def _print(text: str) -> int:
    """*text* on standard output; one line and status 1 when it is refused (>/dev/full)."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        from ..ui import output_lost

        return _fail(output_lost(exc), 1)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    from proxycmd import bindings

    bindings.PROBE = True  # a broken HTCondor configuration is one line of ours, not the end of the process
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        request = classic_args.parse(argv)
    except classic_args.ShowHelp:
        return _print(classic_args.USAGE)
    except classic_args.ShowVersion:
        from proxycmd import __version__

        return _print(f"{PROG} {__version__}\n")
    except UsageError as exc:
        return _fail(str(exc), exc.exit_code)
    try:
        return run(request)
    except ProxyError as exc:
        return _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:  # before our handlers were in place: nothing to clean up yet
        return _fail("interrupted", 128 + signal.SIGINT)
