"""The session key for a client that reads an IdentityFile itself: handed over once, through a FIFO.

open-remote-ssh (VSCodium's Remote-SSH, and the forks in Windsurf, Antigravity and Positron) speaks SSH with
the ssh2 library, not with OpenSSH: it asks an agent for keys once, BEFORE it starts the ProxyCommand (so
the per-user agent has nothing for it yet), and reads an IdentityFile's private half itself at
authentication time, when a ``.pub`` beside it parses (DESIGN §15).  So its config (the editor config)
names one IdentityFile per job host, ``key_path``, and the proxy started with ``--identity-fifo`` serves
the session's key there, once, instead of registering it with the agent:

1. after the session is open it takes the host's lock (``<name>.lock``), so a second window to the same host
   waits until the first one's hand-over is over (at most ``WAIT`` seconds plus a margin), and two hosts
   never share a path;
2. it removes whatever a killed proxy left at the path and makes a fresh FIFO there, 0600, in
   ``<host dir>/editor`` (0700, in the runtime directory that passes the safe-chain rule of paths.py: no
   other user can create, replace or open anything in it);
3. it relays (the client gave socketpairs, not OpenSSH's descriptor passing) while one thread waits, at
   most ``WAIT`` seconds, for the reader.  On Linux the proxy holds the FIFO open for writing from the
   start, so every open(2) of it returns at once (a reader's descriptor exists as soon as its open has
   returned), and it watches ``/proc/<ppid>/fd`` until the process that started it holds the FIFO.
   Elsewhere (no /proc) it opens the FIFO for writing without blocking, which fails with ENXIO until some
   reader has it open.  Either way the descriptor must be our FIFO (same device and inode), and the path is
   removed at once: nobody can open it any more;
4. it checks: no other name is left (link count 0), we are still the child of the process that started us
   (so that pid is still that process), and, on Linux, after a short grace for an open that looked the path
   up before it went, no other process whose ``/proc/<pid>/fd`` we may read holds the FIFO;
5. only then it writes the private key (as the starter made it: OpenSSH format) and closes: the reader gets
   the key, then EOF.  Anything else (no reader in time, another holder, a replaced file) writes nothing,
   leaves nothing at the path, says one line and ends the session.

What a check can and cannot see (docs/security.md): another user cannot reach the directory at all.  A
process of the same user that opens the FIFO while it exists is seen and refused (the editor's connection
then fails) unless it made itself undumpable (prctl(PR_SET_DUMPABLE, 0), which hides its /proc/PID/fd from
its own user; ssh-agent and our agent are such processes, so they cannot simply be refused), opened it from
a thread with a descriptor table of its own, was stopped for longer than the grace between looking the path
up and getting its descriptor, or is root; and nothing stops it from opening the FIFO again after the check
through the editor's /proc/<pid>/fd/<n> (the same user may open a dumpable process's descriptors there,
removed path or not; the proxy itself is made undumpable, as a relay holding a key is) and racing the
editor's read.  On macOS there is no /proc: the directory, the fresh FIFO, its identity, the single window
(removed at the first reader, no other link) and the parent are checked, not which process reads, so a
same-user process that opens the FIFO before the editor gets the key.  Such a reader gets a key that opens
only this session's sshd, which serves nothing but the connection we relay: it cannot reach the job with it.

``write_pub_files`` writes the ``.pub`` halves that must exist before any connection: open-remote-ssh reads
a ``.pub`` only to decide that the key file is worth reading at authentication time (gatherIdentityFiles)
and to log its fingerprint; it authenticates with the key it then reads from the file.  A session's key is
new every time, so a ``.pub`` can never match it: the same placeholder public key (whose private half was
thrown away) serves every host.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

from . import paths, safefs
from .errors import ProxyError, shown

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import Callable, Iterable, List, Optional, Tuple

EDITOR_DIR = "editor"
WAIT = 60.0  # seconds the client has to read the key once the relay runs: open-remote-ssh's own default limit
# (remote.SSH.connectTimeout, its ssh2 readyTimeout), so the hand-over never gives up before the editor does
LOCK_MARGIN = 5.0  # a second proxy for the host waits WAIT plus this for the first one's hand-over
PARENT_GRACE = 2.0  # seconds for the reader's descriptor to show in /proc/<ppid>/fd once its open returned
SETTLE = 0.01  # an open woken with the editor's gets this long to finish before everyone else is looked at
PUB_SUFFIX = ".pub"
LOCK_SUFFIX = ".lock"
_NAME_MAX = 200  # a name plus ".lock" or ".pub" stays under NAME_MAX (255)
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
# A public key whose private half nobody holds (made with ssh-keygen -t ed25519 and thrown away): it only
# has to parse, see the module's docstring.
PLACEHOLDER_PUB = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINfHE674jDOi2NBIsVHQ5jj7bPiLt0O3EGL1jv34FIZF "
                   "condor-job-proxy placeholder: the session key is handed over at connection time\n")


class HandoverError(ProxyError):
    """The key could not be handed over (one line)."""


# ----- names -----------------------------------------------------------------------------------------------
def key_name(host: str) -> str:
    """The file name of *host*'s key: the host name in lower case (a long one hashed, to fit a file name)."""
    host = host.lower()
    if not host or not set(host) <= _HOST_CHARS or host[0] in ".-":
        raise HandoverError(f"{shown(host)!r} cannot name a key file (letters, digits, '.' and '-' only)")
    if len(host) <= _NAME_MAX:
        return host
    import hashlib

    return "h-" + hashlib.sha256(host.encode()).hexdigest()[:40]


def key_dir(rundir: Path, node: Optional[str] = None) -> Path:
    """The directory of the editor config's IdentityFiles: ``editor`` in this host's (or *node*'s) directory,
    since a FIFO, like a socket, only joins processes of one kernel."""
    return paths.host_dir(rundir, node) / EDITOR_DIR


def key_path(rundir: Path, host: str, node: Optional[str] = None) -> Path:
    """The IdentityFile the editor config names for *host*; the proxy serves the key there."""
    return key_dir(rundir, node) / key_name(host)


def pub_path(rundir: Path, host: str, node: Optional[str] = None) -> Path:
    return key_dir(rundir, node) / (key_name(host) + PUB_SUFFIX)


def ensure_key_dir(rundir: Path) -> Path:
    """Create (0700) or verify this host's key directory; *rundir* must be a checked runtime directory."""
    paths.ensure_host_dir(rundir)
    return safefs.make_private_dir(key_dir(rundir))


# ----- the .pub files (for setup and sync) -------------------------------------------------------------------
def write_pub_files(rundir: Path, hosts: Iterable[str], prune: bool = False) -> List[Path]:
    """Make the placeholder ``.pub`` of every host in *hosts* exist (written atomically, left alone when it
    is already right); with *prune*, remove the other ``.pub`` files in the directory.  Returns the paths
    written or removed.  *rundir* must be a checked runtime directory (paths.ensure_runtime_dir)."""
    directory = ensure_key_dir(rundir)
    wanted = {key_name(host) + PUB_SUFFIX for host in hosts}
    changed = []
    for name in sorted(wanted):
        target = directory / name
        try:
            if target.read_text() == PLACEHOLDER_PUB and not target.is_symlink():
                continue
        except (OSError, UnicodeDecodeError):
            pass
        safefs.write_atomic(target, PLACEHOLDER_PUB.encode())
        changed.append(target)
    if prune:
        for entry in os.scandir(directory):
            if entry.name.endswith(PUB_SUFFIX) and entry.name not in wanted and not entry.name.startswith("."):
                try:
                    os.unlink(entry.path)
                    changed.append(Path(entry.path))
                except FileNotFoundError:
                    pass
    return changed


# ----- the hand-over ---------------------------------------------------------------------------------------
class Handover:
    """One key, served once at *path* to the process *parent* (see the module's docstring).

    ``prepare`` (lock, fresh FIFO) runs before the relay; ``serve`` runs in a thread while it relays and
    returns None once the key went to the parent, else the reason as one line; ``close`` removes what is
    left and releases the lock (idempotent, also after a failed ``prepare``).

    *watch*: "proc" (Linux) holds the FIFO open for writing from the start, so every open(2) of it returns at
    once and a reader's descriptor exists when its open returns, and watches /proc/<parent>/fd for the
    parent's; "open" (elsewhere: no /proc) learns that a reader came by opening for writing without blocking,
    which fails with ENXIO until one has it open, and cannot tell which process it is."""

    def __init__(self, path: Path, parent: int, wait: float = WAIT, lock_wait: Optional[float] = None,
                 proc: str = "/proc", watch: Optional[str] = None) -> None:
        self.path = Path(path)
        self.parent = parent
        self.wait = wait
        self.lock_wait = wait + LOCK_MARGIN if lock_wait is None else lock_wait
        self.proc = proc
        self.watch = watch or ("proc" if sys.platform.startswith("linux") else "open")
        self._lock_fd = -1
        self._fd = -1  # our end ("proc": held from prepare on)
        self._identity: Optional[Tuple[int, int]] = None  # (st_dev, st_ino) of our FIFO while it is on disk
        self._key = b""

    # -- before the relay
    def prepare(self, private_key: bytes) -> None:
        self._key = bytes(private_key)
        self._take_lock()
        self._remove_ours(any_fifo=True)  # a killed proxy's FIFO (we hold the lock: nobody else serves here)
        if os.path.lexists(self.path):
            raise HandoverError(f"refusing to serve the session key at {shown(self.path)}: something that is not "
                                "a FIFO of ours is there; remove it")
        try:
            os.mkfifo(self.path, 0o600)
            st = os.lstat(self.path)
        except OSError as exc:
            raise HandoverError(f"cannot make the key FIFO {shown(self.path)}: {exc.strerror}") from None
        if not stat.S_ISFIFO(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            raise HandoverError(f"refusing to serve the session key at {shown(self.path)}: it was replaced")
        self._identity = (st.st_dev, st.st_ino)
        if self.watch == "proc":
            self._fd = self._open(os.O_RDWR)
            if self._fd < 0:
                raise HandoverError(f"refusing to serve the session key at {shown(self.path)}: it was replaced")

    def _take_lock(self) -> None:
        import fcntl

        lock = self.path.with_name(self.path.name + LOCK_SUFFIX)
        try:
            self._lock_fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise HandoverError(f"cannot open the lock {shown(lock)}: {exc.strerror}") from None
        deadline = time.monotonic() + self.lock_wait
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise HandoverError(f"another connection to this host is still handing over its key at "
                                        f"{shown(self.path)} after {self.lock_wait:g} seconds; try again") from None
                time.sleep(0.01)

    def _open(self, flags: int) -> int:
        """Our FIFO opened by its path without blocking; -1 when the path holds another file now (replaced).
        OSError (ENXIO: no reader yet, for a write-only open) passes on."""
        fd = os.open(self.path, flags | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != self._identity:
            os.close(fd)
            return -1
        return fd

    # -- while relaying
    def serve(self) -> Optional[str]:
        """Wait for the reader, check it, write the key once; None when it was handed over, else why not."""
        try:
            problem = self._wait_for_parent() if self.watch == "proc" else self._wait_for_reader()
            if problem:
                return problem
            problem = self._check_reader()
            if problem:
                return problem
            self._write(self._fd, self._key)
            return None
        except OSError as exc:
            return f"cannot hand over the session key at {shown(self.path)}: {exc.strerror or exc}"
        finally:
            self._key = b""
            self._close_fd()  # the reader gets EOF (after the key, when it was written)
            self._remove_ours()

    def _timed_out(self) -> str:
        return (f"nothing read the session key from {shown(self.path)} within {self.wait:g} seconds (is the "
                "editor's IdentityFile this path?); removed it")

    def _wait_for_parent(self) -> Optional[str]:
        """("proc") Until /proc/<parent>/fd holds our FIFO; then the path is removed."""

        def attempt() -> Optional[str]:
            held = _holds(self.proc, self.parent, self._identity)
            if held is None:
                return (f"refusing to hand over the session key: cannot see the descriptors of process "
                        f"{self.parent}, which started the proxy ({self.proc}/{self.parent}/fd)")
            return "" if held else None

        return self._poll(attempt)

    def _wait_for_reader(self) -> Optional[str]:
        """("open") Until some process has the FIFO open for reading; then the path is removed."""
        import errno

        def attempt() -> Optional[str]:
            try:
                self._fd = self._open(os.O_WRONLY)
            except OSError as exc:  # ENXIO: no reader yet; anything else (ENOENT: removed): give up
                if exc.errno != errno.ENXIO:
                    return f"cannot hand over the session key at {shown(self.path)}: {exc.strerror}"
                return None
            return "" if self._fd >= 0 else f"refusing to hand over the session key: {shown(self.path)} was replaced"

        return self._poll(attempt)

    def _poll(self, attempt: Callable[[], Optional[str]]) -> Optional[str]:
        """Call *attempt* until it answers, at most ``wait`` seconds: "" (the reader is there: the path is
        removed, so nobody can open it any more, and None returned), or the problem."""
        deadline = time.monotonic() + self.wait
        pause = 0.001
        while True:
            outcome = attempt()
            if outcome == "":
                self._remove_ours()
                return None
            if outcome is not None:
                return outcome
            if time.monotonic() >= deadline:
                return self._timed_out()
            time.sleep(pause)
            pause = min(pause * 2, 0.01)

    def _check_reader(self) -> Optional[str]:
        """After the path is gone: no other name, our parent unchanged, and (with /proc) nobody else holds it."""
        st = os.fstat(self._fd)
        where = shown(self.path)
        if st.st_nlink != 0:
            return f"refusing to hand over the session key: {where} has another name (a hard link)"
        if os.getppid() != self.parent:
            return "refusing to hand over the session key: the process that started the proxy is gone"
        if self.watch != "proc":
            return None  # no /proc: see the module's docstring for what is checked there
        identity = (st.st_dev, st.st_ino)
        time.sleep(SETTLE)  # an open that looked the path up before it went finishes
        others = [pid for pid in _pids(self.proc) if pid not in (self.parent, os.getpid())
                  and _holds(self.proc, pid, identity)]
        if others:
            return (f"refusing to hand over the session key: process {others[0]} also opened {where} (only the "
                    f"process that started the proxy, pid {self.parent}, may read it)")
        return None

    @staticmethod
    def _write(fd: int, data: bytes) -> None:
        import select

        view = memoryview(data)
        while view:
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                select.select([], [fd], [], 1.0)

    # -- after
    def _close_fd(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _remove_ours(self, any_fifo: bool = False) -> None:
        """Remove the path when it is our FIFO (or, with *any_fifo*, any FIFO of ours: a killed proxy's).
        Afterwards our FIFO is off the path for good, so its identity is forgotten: once freed, its inode
        number may be the next proxy's FIFO's, which a later look must not take for ours."""
        identity, self._identity = self._identity, None
        try:
            st = os.lstat(self.path)
        except OSError:
            return
        ours = identity is not None and (st.st_dev, st.st_ino) == identity
        if ours or (any_fifo and stat.S_ISFIFO(st.st_mode) and st.st_uid == os.getuid()):
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def close(self) -> None:
        self._key = b""
        self._close_fd()
        if self._identity is not None:
            self._remove_ours()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = -1


def _pids(proc: str) -> List[int]:
    try:
        return [int(name) for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return []


def _holds(proc: str, pid: int, identity: Tuple[int, int]) -> Optional[bool]:
    """Whether process *pid* has a descriptor on the file *identity* (st_dev, st_ino); None when its
    descriptors cannot be seen (another user's process, an undumpable one, or it is gone)."""
    try:
        entries = os.scandir(f"{proc}/{pid}/fd")
    except OSError:
        return None
    with entries:
        for entry in entries:
            try:
                st = os.stat(entry.path)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == identity:
                return True
    return False


# ----- the proxy's side --------------------------------------------------------------------------------------
class Serving:
    """What connect.py holds while it relays: the hand-over thread; ``close`` ends what is left of it."""

    binds = False  # nothing for the relay to bind to the connection (connect.relay_watch): no agent here

    def __init__(self, handover: Handover, thread) -> None:
        self.handover = handover
        self.thread = thread

    def close(self) -> None:
        self.handover.close()


def serve_key(rundir: Path, host: str, parent: int, private_key: bytes,
              on_failure: Callable[[str], None]) -> Serving:
    """Prepare the FIFO for *host* (waiting for another proxy's hand-over to that host) and serve
    *private_key* on it from a thread; *on_failure* gets the one-line reason when it could not be handed
    over.  Raises HandoverError when the FIFO cannot be prepared."""
    import threading

    directory = ensure_key_dir(rundir)
    write_pub_files(rundir, [host])  # the next connection finds it even if sync has not written it yet
    handover = Handover(directory / key_name(host), parent)
    try:
        handover.prepare(private_key)
    except BaseException:
        handover.close()
        raise
    _remove_on_term(handover)

    def run() -> None:
        problem = handover.serve()
        handover.close()
        if problem:
            on_failure(problem)

    thread = threading.Thread(target=run, name="identity-fifo", daemon=True)
    thread.start()
    return Serving(handover, thread)


def _remove_on_term(handover: Handover) -> None:
    """The client ends the proxy with SIGTERM (open-remote-ssh does, when a window closes): leave no FIFO."""
    import signal

    def on_term(signum, frame):
        handover.close()
        os._exit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGHUP, on_term)
    except ValueError:  # not the main thread (tests)
        pass
