"""Opening a session with the real `condor_ssh_to_job`, and reading its failures.

condor_ssh_to_job does the pool's part (schedd, claim session, starter, key exchange), then runs an "ssh
program" with the session's options (DESIGN.md §1.7).  We give it our dialer as that program::

    condor_ssh_to_job -ssh <dialer> [-name S] [-pool P] [-keygen-options O] [-shells A,B] JOB

and talk to the dialer over condor_ssh_to_job's own stdout and stdin, which the dialer inherits:

1. the dialer writes a header line and its arguments (NUL-terminated) to stdout; we read them and learn
   the remote user (-oUser=), the session directory (-oIdentityFile=<dir>/ssh_key) and the fdpass socket
   (the `-proxy` word of -oProxyCommand=);
2. we read the private key and the known_hosts entry (`* <key>`), connect to the fdpass socket and
   receive the starter connection (SCM_RIGHTS, one byte), as `condor_ssh_to_job -proxy` would;
3. we write "done" to stdin and close it: the dialer exits, condor_ssh_to_job removes the session
   directory and exits with the dialer's status, which we wait for.

No file of ours is written, and no Python starts for the dialer.  If we stop early (an error, Ctrl-C),
closing stdin still releases the dialer, and the process group is killed only if it does not finish.

`explain` maps condor_ssh_to_job's exit status and messages (ssh_to_job.cpp, dc_schedd.cpp, dc_starter.cpp
and starter.cpp in htcondor/htcondor) to one-line refusals.
"""

from __future__ import annotations

import os
import select
import socket
import stat
import sys
import time
from collections import namedtuple

from ..bounded import Said
from ..errors import ProxyError, SessionRefused, one_line
from ..session import Session

# This module is on every connection's path: no typing, dataclasses, re or shutil at module level (each
# costs milliseconds per connection; `re` is imported only where a failure is explained).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Mapping, Optional, Sequence, Tuple

    from ..hostname import JobAddress

TOOL = "condor_ssh_to_job"
TOOL_ENV = "CONDOR_SSH_TO_JOB"  # the tool to run, when not the one on PATH
HEADER = b"condor-job-proxy-dialer 1 "
RETRY_HINT = "(Use -auto-retry to keep trying periodically.)"
WAITING_LINE = "Waiting for job to start..."
_OUR_SCRIPTS = (b"sshconfig.classic", b"proxycmd.cli", b"sshconfig.cli")
_SESSION_DIR_MARK = ".condor_ssh_to_job_"  # session directories are <user>.condor_ssh_to_job_<hex>
_HEX = frozenset("0123456789abcdef")
_KEY_TYPE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@._+-")
_BASE64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
MAX_FILE = 64 * 1024
MAX_STDOUT = 1024 * 1024  # what the tool may print on stdout before the dialer's message has come
try:  # the C module: `signal` builds its enums on import
    from _signal import SIGKILL as _SIGKILL, SIGPIPE, SIGTERM as _SIGTERM, SIGXFSZ
except ImportError:  # pragma: no cover - not CPython
    from signal import SIGKILL as _SIGKILL, SIGPIPE, SIGTERM as _SIGTERM, SIGXFSZ
_DEFAULT_SIGNALS = (SIGPIPE, SIGXFSZ)  # Python ignores SIGPIPE; the tool must not inherit that
RELEASE_TIMEOUT = 5.0  # after a failed hand-over: how long condor_ssh_to_job may take to clean up and exit


class ToolError(ProxyError):
    """condor_ssh_to_job or the dialer cannot be used; str() is one line that says what to do."""


# ----- finding the tool and the dialer ---------------------------------------------------------------------
def is_ours(path: str) -> bool:
    """True when *path* is one of our own scripts (the classic shim, say) rather than HTCondor's tool."""
    if os.path.basename(os.path.realpath(path)) == "condor-ssh-to-job":
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return head.startswith(b"#!") and any(mark in head for mark in _OUR_SCRIPTS)


def _usable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _unsafe(path: str) -> bool:
    """Whether condor_ssh_to_job cannot pass *path* on to its ssh program intact: it parses the program
    path again (whitespace and quotes split it) and expands '%' in it."""
    return any(c.isspace() or c in "'\"%" for c in path)


def _which(name: str, path: str) -> Optional[str]:
    """The first executable *name* on *path* (shutil.which without shutil's import cost)."""
    for directory in path.split(os.pathsep):
        candidate = os.path.join(directory or os.curdir, name)
        if _usable(candidate):
            return candidate
    return None


def _from_config() -> Optional[str]:
    """condor_ssh_to_job in HTCondor's BIN directory, asking the bindings (costs their import: only used
    when PATH has no condor_ssh_to_job)."""
    try:
        import htcondor2

        bin_dir = htcondor2.param.get("BIN")
    except Exception:  # noqa: BLE001 - no bindings or no configuration: nothing to find here
        return None
    candidate = os.path.join(bin_dir, TOOL) if bin_dir else None
    return candidate if candidate and _usable(candidate) else None


def find_tool(env: Optional[Mapping[str, str]] = None) -> str:
    """HTCondor's condor_ssh_to_job: $CONDOR_SSH_TO_JOB, else PATH, else HTCondor's BIN; never ours."""
    env = os.environ if env is None else env
    explicit = env.get(TOOL_ENV)
    if explicit:
        if not os.path.isabs(explicit) or not _usable(explicit):
            raise ToolError(f"{TOOL_ENV}={explicit!r} is not an executable file given by its absolute path")
        candidates = [explicit]
    else:
        candidates = [c for c in (_which(TOOL, env.get("PATH", os.defpath)),) if c]
        if not candidates:
            candidates = [c for c in (_from_config(),) if c]
    for candidate in candidates:
        if is_ours(candidate):
            raise ToolError(f"{candidate} is condor-job-proxy's own classic shim, not HTCondor's {TOOL}; "
                            f"remove that link, or set {TOOL_ENV} to HTCondor's tool")
        return os.path.abspath(candidate)
    raise ToolError(f"cannot find HTCondor's {TOOL} on PATH or in HTCondor's BIN directory; install HTCondor's "
                    f"tools, add them to PATH, or set {TOOL_ENV} to the tool's path")


def find_dialer() -> str:
    from ..dialer import NAME, find

    found = find()
    if found is None:
        raise ToolError(f"cannot find {NAME} (it ships with condor-job-proxy); reinstall condor-job-proxy")
    if _unsafe(found):
        raise ToolError(f"{found} has a blank, quote or '%' in its path, which {TOOL} cannot pass on; install "
                        "condor-job-proxy under a plain path")
    return found


def condor_rm(job_id: str, *, schedd: Optional[str] = None, pool: Optional[str] = None, reason: str = "",
              tool: Optional[str] = None, timeout: float = 120.0) -> None:
    """Remove a job with HTCondor's condor_rm (beside condor_ssh_to_job, else on PATH), as the classic tool's
    -remove-on-interrupt does; ProxyError with condor_rm's own words when it fails."""
    import shutil

    beside = os.path.join(os.path.dirname(tool), "condor_rm") if tool else ""
    program = beside if beside and _usable(beside) else shutil.which("condor_rm")
    if not program:
        raise ProxyError(f"cannot remove job {job_id}: HTCondor's condor_rm is not on PATH")
    import subprocess

    from .. import bounded

    argv = [program] + (["-name", schedd] if schedd else []) + (["-pool", pool] if pool else [])
    argv += (["-reason", reason] if reason else []) + [job_id]
    try:
        code, out, err = bounded.run(argv, timeout=timeout, max_output=bounded.KEEP)
    except (OSError, subprocess.TimeoutExpired, bounded.TooMuchOutput) as exc:
        raise ProxyError(f"cannot remove job {job_id}: condor_rm failed ({exc})") from None
    if code != 0:
        said = " ".join((err or out.decode("utf-8", "replace")).split()) or f"exit status {code}"
        raise ProxyError(f"cannot remove job {job_id}: {said}")


# ----- the tool's command line -------------------------------------------------------------------------
def v2_word(word: str) -> str:
    """One word in HTCondor's "new" argument syntax: single quotes group, '' is a quote inside them."""
    from ..condorargs import quote_word

    return quote_word(word)


def tool_argv(tool: str, dialer: str, job_id: str, *, schedd: Optional[str] = None, pool: Optional[str] = None,
              keygen_options: Sequence[str] = (), shells: Sequence[str] = ()) -> List[str]:
    argv = [tool, "-ssh", dialer]
    if schedd:
        argv += ["-name", schedd]
    if pool:
        argv += ["-pool", pool]
    if keygen_options:
        argv += ["-keygen-options", " ".join(v2_word(w) for w in keygen_options)]
    if shells:
        argv += ["-shells", ",".join(shells)]
    return argv + ["--", job_id]


# ----- what the dialer reports -------------------------------------------------------------------------
def split_system_args(text: str) -> List[str]:
    """Undo HTCondor's ArgList::GetArgsStringSystem: double-quoted words, '\\' escaping the next char."""
    words: List[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        word = []
        quoted = False
        while i < n and (quoted or not text[i].isspace()):
            c = text[i]
            if c == "\\" and i + 1 < n:
                word.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                quoted = not quoted
            else:
                word.append(c)
            i += 1
        words.append("".join(word))
    return words


class DialerArgs(namedtuple("DialerArgs", "user identity_file known_hosts fdpass host words", defaults=("", ()))):
    """What condor_ssh_to_job told its ssh program: host is condor-job.<execute host>'s <execute host>,
    words all of the arguments (a namedtuple: dataclasses cost milliseconds to import)."""

    __slots__ = ()

    @property
    def directory(self) -> str:
        return os.path.dirname(self.identity_file)


def _option(word: str) -> Tuple[str, str]:
    name, _, val = word[2:].partition("=")
    return name.lower(), val


def parse_dialer_words(words: Sequence[str]) -> DialerArgs:
    """The session's user, key, known_hosts and fdpass socket, from the ssh program's arguments."""
    opts: Dict[str, str] = {}
    host = ""
    for word in words:
        if word.startswith("-o") and "=" in word:
            name, val = _option(word)
            opts.setdefault(name, val)
        elif word.startswith("condor-job.") and not host:
            host = word[len("condor-job."):]
    missing = [name for name, key in (("-oUser=", "user"), ("-oIdentityFile=", "identityfile"),
                                      ("-oUserKnownHostsFile=", "userknownhostsfile"),
                                      ("-oProxyCommand=", "proxycommand")) if not opts.get(key)]
    if missing:
        raise ToolError(f"{TOOL} gave the dialer no {', '.join(missing)}: it may have been configured to run "
                        "another command line (SSH_TO_JOB_*_CMD); condor-job-proxy needs its standard one")
    proxy = split_system_args(opts["proxycommand"])
    fdpass = proxy[proxy.index("-proxy") + 1] if "-proxy" in proxy[:-1] else ""
    identity, known = opts["identityfile"], opts["userknownhostsfile"]
    directory = os.path.dirname(identity)
    if not fdpass:
        fdpass = os.path.join(directory, "fdpass")
    user = opts["user"]
    if not user.isprintable() or any(c.isspace() for c in user):
        raise ToolError(f"{TOOL} reported an unusable remote user name {user!r}")
    for path in (identity, known, fdpass):
        if not os.path.isabs(path) or os.path.dirname(path) != directory:
            raise ToolError(f"{TOOL}'s session files are not in one directory ({identity}, {known}, {fdpass})")
    return DialerArgs(user=user, identity_file=identity, known_hosts=known, fdpass=fdpass, host=host,
                      words=tuple(words))


def parse_message(buf: bytes) -> Optional[List[str]]:
    """The dialer's words once its whole message is in *buf*, else None (read more)."""
    at = buf.find(HEADER)
    while at > 0 and buf[at - 1:at] != b"\n":
        at = buf.find(HEADER, at + 1)
    if at < 0:
        return None
    end = buf.find(b"\n", at)
    if end < 0:
        return None
    try:
        count = int(buf[at + len(HEADER):end])
    except ValueError:
        raise ToolError("the dialer sent a malformed message") from None
    parts = buf[end + 1:].split(b"\0")
    if len(parts) <= count:
        return None
    return [os.fsdecode(part) for part in parts[:count]]


# ----- the session's files and connection ---------------------------------------------------------------
def _check_session_dir(path: str) -> None:
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise ToolError(f"cannot use {TOOL}'s session directory {path}: {exc.strerror}") from None
    head, mark, tail = os.path.basename(path).rpartition(_SESSION_DIR_MARK)
    if (not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077
            or not (head and mark and tail and _HEX.issuperset(tail))):
        raise ToolError(f"refusing {TOOL}'s session directory {path}: not a private directory of ours")


def _read_private(path: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ToolError(f"cannot read {path}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_size > MAX_FILE:
            raise ToolError(f"refusing {path}: not a small regular file of ours")
        chunks = []
        while True:
            chunk = os.read(fd, MAX_FILE)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def read_session_files(args: DialerArgs) -> Tuple[bytes, str]:
    """The private key and the host key ("type base64") condor_ssh_to_job wrote for this session."""
    _check_session_dir(args.directory)
    private_key = _read_private(args.identity_file)
    if not private_key.lstrip().startswith(b"-----BEGIN "):
        raise ToolError(f"{args.identity_file} does not hold a private key")
    for line in _read_private(args.known_hosts).decode("ascii", "replace").splitlines():
        host_key = _host_key(line)
        if host_key:
            return private_key, host_key
    raise ToolError(f"{args.known_hosts} holds no '* <host key>' line")


def _host_key(line: str) -> Optional[str]:
    """"type base64" from a known_hosts line "* <type> <base64> [comment]", else None."""
    words = line.split(None, 3)
    if len(words) < 3 or words[0] != "*":
        return None
    kind, blob = words[1], words[2]
    if not (_KEY_TYPE_CHARS.issuperset(kind) and _BASE64_CHARS.issuperset(blob)):
        return None
    return f"{kind} {blob}"


def receive_connection(path: str, timeout: float = 30.0) -> socket.socket:
    """Connect to condor_ssh_to_job's fdpass socket and take the starter connection from it."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as channel:
        channel.settimeout(timeout)
        try:
            channel.connect(path)
            data, fds, _flags, _addr = socket.recv_fds(channel, 1, 1)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or "timed out"
            raise ToolError(f"cannot take the session's connection from {path}: {reason}") from None
    if len(fds) != 1 or data != b"\0":
        for fd in fds:
            os.close(fd)
        raise ToolError(f"{TOOL} sent no connection on {path}")
    try:
        conn = socket.socket(fileno=fds[0])
    except OSError:
        os.close(fds[0])
        raise ToolError(f"{TOOL} sent something that is not a connection on {path}") from None
    why = _not_a_connection(conn)
    if why:  # ssh would only say "banner exchange: ... Broken pipe"
        conn.close()
        raise ToolError(f"{TOOL} sent {why} on {path}, not a connection to the job")
    conn.setblocking(True)
    return conn


def _not_a_connection(conn: socket.socket) -> str:
    """What *conn* is when it is no connected stream socket (a listening one, say), else ""."""
    try:
        if conn.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) != socket.SOCK_STREAM:
            return "a socket that is not a stream"
        if getattr(socket, "SO_ACCEPTCONN", None) and conn.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            return "a listening socket"
        conn.getpeername()
    except OSError:
        return "a socket that is connected to nothing"
    return ""


def remove_session_dir(path: str) -> None:
    """Remove a session directory condor_ssh_to_job left behind (it was killed): its files, then itself."""
    try:
        _check_session_dir(path)
        dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except (ToolError, OSError):
        return
    try:
        for name in os.listdir(dir_fd):
            try:
                os.unlink(name, dir_fd=dir_fd)
            except OSError:
                pass
    finally:
        os.close(dir_fd)
    try:
        os.rmdir(path)
    except OSError:
        pass


# ----- running it ------------------------------------------------------------------------------------------
class ToolFailed(Exception):
    """condor_ssh_to_job ended without handing a session over; `explain` says why in one line."""

    def __init__(self, returncode: int, stderr: str) -> None:
        super().__init__(f"{TOOL} exited with status {returncode}")
        self.returncode = returncode
        self.stderr = stderr


class _Run:
    """One condor_ssh_to_job process, its pipes and its clean-up.

    Started with os.posix_spawn rather than subprocess, whose import (with selectors, threading and
    signal's enums) costs milliseconds on every connection; it does what our Popen call did: pipes on 0, 1
    and 2, a new session (so its group can be stopped), no other inherited descriptor, SIGPIPE and
    SIGXFSZ back to their defaults."""

    def __init__(self, argv: List[str], env: Optional[Mapping[str, str]], timeout: float) -> None:
        self.err = Said()  # what the tool says on stderr: a flood is read to its end, but not kept
        self.timeout = timeout
        self.session_dir: Optional[str] = None
        self.result: Optional[Tuple[int, str]] = None  # (exit status, stderr) once finished
        self.returncode: Optional[int] = None  # as subprocess has it: -N when killed by signal N
        fds: List[int] = []
        try:
            for _ in range(3):
                fds += os.pipe()  # not inheritable: only the dup2 copies below reach the tool
            in_r, in_w, out_r, out_w, err_r, err_w = fds
            actions = [(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1),
                       (os.POSIX_SPAWN_DUP2, err_w, 2)]
            actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inherited_fds()]
            self.pid = os.posix_spawn(argv[0], argv, os.environ if env is None else env, file_actions=actions,
                                      setsid=True, setsigdef=_DEFAULT_SIGNALS)
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            raise ToolError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
        for fd in (in_r, out_w, err_w):
            os.close(fd)
        self.stdin: Optional[int] = in_w
        self.out_fd: Optional[int] = out_r
        self.err_fd: Optional[int] = err_r

    def dialer_words(self) -> Optional[List[str]]:
        """Read until the dialer's message is complete (its words) or stdout ends (None), draining stderr."""
        deadline = time.monotonic() + self.timeout
        out = bytearray()
        poller = select.poll()
        open_fds = {self.out_fd, self.err_fd}
        for fd in open_fds:
            poller.register(fd, select.POLLIN)
        while self.out_fd in open_fds:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ToolError(f"{TOOL} did not open a session within {self.timeout:.0f} s; giving up")
            for fd, _ in poller.poll(1000 * min(left, 1.0)):
                chunk = os.read(fd, 65536)
                if not chunk:
                    poller.unregister(fd)
                    open_fds.discard(fd)
                elif fd == self.err_fd:
                    self.err.add(chunk)
                else:
                    out.extend(chunk)
                    if len(out) > MAX_STDOUT:
                        raise ToolError(f"{TOOL} printed more than {MAX_STDOUT >> 10} KiB on its standard output "
                                        "without the dialer's message; giving up")
                    words = parse_message(bytes(out))
                    if words is not None:
                        return words
        return None

    def answer(self, answer: bytes) -> None:
        """Answer the dialer (b"done\\n"; b"" lets it go empty-handed) and close its stdin: it exits, and
        condor_ssh_to_job removes its session directory and ends.  Only the first answer counts."""
        fd, self.stdin = self.stdin, None
        if fd is None:
            return
        try:
            if answer:
                os.write(fd, answer)  # a few bytes into an empty pipe: never blocks
        except OSError:  # the dialer is gone already (EPIPE): nothing to tell it
            pass
        finally:
            os.close(fd)

    def finish(self, answer: bytes, timeout: float) -> Tuple[int, str]:
        """Answer the dialer (unless done already), wait for condor_ssh_to_job to end (stopping it after
        *timeout*), and remove the session directory should it have been left behind.  Once: a second
        call returns the first result."""
        if self.result is not None:
            return self.result
        self.answer(answer)
        deadline = time.monotonic() + timeout
        self._drain(deadline)
        if not self._wait(deadline):
            self.kill()
        self._drain(time.monotonic() + 1.0)  # what it said before it ended
        for fd in (self.out_fd, self.err_fd):
            os.close(fd)
        self.out_fd = self.err_fd = None
        if self.session_dir:
            remove_session_dir(self.session_dir)
        code = self.returncode if self.returncode is not None else -9
        self.result = (code, self.err.text())
        return self.result

    def _drain(self, deadline: float) -> None:
        """Read stdout (dropped) and stderr (kept, within bounds) until both end or *deadline* passes."""
        poller = select.poll()
        open_fds = {fd for fd in (self.out_fd, self.err_fd) if fd is not None}
        for fd in open_fds:
            poller.register(fd, select.POLLIN)
        while open_fds:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            for fd, _ in poller.poll(1000 * left):
                chunk = os.read(fd, 65536)
                if not chunk:
                    poller.unregister(fd)
                    open_fds.discard(fd)
                elif fd == self.err_fd:
                    self.err.add(chunk)

    def _wait(self, deadline: float) -> bool:
        """Reap the tool; False when it is still running at *deadline*."""
        if self.returncode is not None:
            return True
        pidfd = None
        try:
            pidfd = os.pidfd_open(self.pid)  # readable once the process has ended (Linux >= 5.3)
        except (AttributeError, OSError):
            pass
        try:
            while True:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                if pidfd is not None:
                    select.select([pidfd], [], [], left)
                else:
                    time.sleep(min(left, 0.002))
        except ChildProcessError:  # reaped elsewhere: its status is lost
            self.returncode = -9 if self.returncode is None else self.returncode
            return True
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def kill(self) -> None:
        """Stop the process group we started (condor_ssh_to_job and the dialer): TERM, then KILL."""
        for sig in (_SIGTERM, _SIGKILL):
            try:
                os.killpg(self.pid, sig)
            except (ProcessLookupError, PermissionError):
                self._wait(time.monotonic() + 2.0)
                return
            if self._wait(time.monotonic() + 2.0):
                return


def _inherited_fds() -> List[int]:
    """Our descriptors above 2 that a spawned program would inherit (from whoever started us): closed in
    it, as subprocess's close_fds does."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return []
    fds = []
    for name in names:
        fd = int(name)
        if fd > 2:
            try:
                if os.get_inheritable(fd):
                    fds.append(fd)
            except OSError:  # the listing's own descriptor, closed by now
                pass
    return fds


def open_session(tool: str, dialer: str, addr: JobAddress, *, schedd: Optional[str] = None,
                 pool: Optional[str] = None, keygen_options: Sequence[str] = (), shells: Sequence[str] = (),
                 timeout: float = 330.0, env: Optional[Mapping[str, str]] = None) -> Session:
    """Run condor_ssh_to_job for *addr* with the dialer and take the session it opens.

    Raises ToolFailed when condor_ssh_to_job ends on its own (the job is not running, ssh is refused...),
    ToolError when the hand-over itself fails.
    """
    argv = tool_argv(tool, dialer, addr.classic_id, schedd=schedd, pool=pool, keygen_options=keygen_options,
                     shells=shells)
    run = _Run(argv, env, timeout)
    try:
        words = run.dialer_words()
        if words is not None:
            args = parse_dialer_words(words)
            run.session_dir = args.directory
            private_key, host_key = read_session_files(args)
            conn = receive_connection(args.fdpass)
    except BaseException as exc:  # Ctrl-C: do not keep the user waiting for the clean-up
        run.finish(b"", timeout=0.5 if isinstance(exc, KeyboardInterrupt) else RELEASE_TIMEOUT)
        raise
    if words is None:
        raise ToolFailed(*run.finish(b"", timeout=30.0))
    # The session is ours now: the dialer may go, and condor_ssh_to_job removes its directory and exits with
    # the dialer's status (0) while our caller registers the key.  Closing the session waits for that exit
    # (killing it after 10 s) and removes the directory should it be left, so none is left behind.
    run.answer(b"done\n")
    return Session(sock=conn, private_key=private_key, host_key=host_key, user=args.user,
                   release=lambda: _released(run))


def _released(run: _Run) -> None:
    """Wait for condor_ssh_to_job to end; the session works whatever its status, but a failure is said."""
    code, err = run.finish(b"", timeout=10.0)
    if code != 0:
        said = " ".join(err.split())[:200] or "no message"
        sys.stderr.write(f"condor-job-proxy: warning: {TOOL} exited with status {code} after handing the "
                         f"session over ({said})\n")


# ----- its failures, in one line (only here is `re` imported) ---------------------------------------------
_SLOT_LINE = r"(?P<slot>[^\s:]+@[^\s:]+|slot[^\s:]*): (?P<msg>.+)"
_STARTER_RETRY = (
    ("job not yet initialized", "the starter has not set it up yet"),
    ("execution environment is not yet ready", "its execution environment is not ready yet (input files may "
                                                 "still be transferring)"),
    ("execution account not yet established", "its execution account is not set up yet"),
)


QUOTE_MAX = 240  # characters of the tool's own words quoted in a sentence: it stays one line ssh shows whole


def quote_said(text: str) -> str:
    """The tool's words as a sentence quotes them: one line, at most QUOTE_MAX characters."""
    return one_line(text, QUOTE_MAX)


def _host(slot: str) -> str:
    return slot.rpartition("@")[2] or slot


def _starter_line(line: str, job: str) -> Optional[SessionRefused]:
    """A refusal the starter sent back (condor_ssh_to_job prefixes it with the slot name)."""
    import re

    match = re.match(_SLOT_LINE, line)
    if not match:
        return None
    host, msg = quote_said(_host(match.group("slot"))), quote_said(match.group("msg").strip())
    if "ENABLE_SSH_TO_JOB=false" in msg:
        return SessionRefused(f"{job} may not be reached with ssh: its execute node {host} refuses it "
                              "(ENABLE_SSH_TO_JOB = false); ask the pool's admins", status="disabled")
    if "because the job is finished" in msg:
        return SessionRefused(f"{job} has finished running on {host}; there is nothing to connect to",
                              status="completed")
    if "currently suspended" in msg:
        return SessionRefused(f"{job} is suspended on {host}", retryable=True, status="suspended")
    for needle, words in _STARTER_RETRY:
        if needle in msg:
            return SessionRefused(f"{job} is starting on {host}: {words}", retryable=True, status="starting")
    if msg.startswith("Retrying request"):
        return SessionRefused(f"{job} is not ready on {host}: {msg}", retryable=True, status="starting")
    return SessionRefused(f"the execute node {host} could not start an ssh session for {job}: {msg}",
                          status="error")


def _line_refusal(line: str, job: str, addr: JobAddress) -> Optional[SessionRefused]:
    """What one line of condor_ssh_to_job's stderr means, or None when it is not one we know."""
    import re

    held = re.match(r'(?:The job is on hold|Job is held): "(.*)"\.?\Z', line)
    if held:
        reason = quote_said(held.group(1))
        return SessionRefused(f"{job} is held: {reason}" if reason else f"{job} is held (no reason given)",
                              status="held")
    if line.startswith("The job is on hold for an unknown reason"):
        return SessionRefused(f"{job} is held (no reason given)", status="held")
    if line.startswith("Unable to fetch job ad") or re.match(r"No such job: ", line):
        return SessionRefused(f"{job} is not in the queue (it may have finished or been removed)", status="unknown")
    who = re.match(r"(\S+) is not authorized for access to the starter for job", line)
    if who:
        return SessionRefused(f"{job} belongs to another user, not to you ({quote_said(who.group(1))} may not reach it)",
                              status="not-yours")
    if "is denied by SCHEDD_ENABLE_SSH_TO_JOB" in line:
        return SessionRefused(f"{job} may not be reached with ssh: its schedd refuses it (SCHEDD_ENABLE_SSH_TO_JOB "
                              "is false for it); ask the pool's admins", status="disabled")
    if "does not support remote access" in line:
        return SessionRefused(f"{job} cannot be reached with ssh: it runs in a universe without a starter (grid "
                              "or scheduler universe)", status="error")
    parallel = re.match(r"This is a parallel job\..*from 0 to (\d+)", line)
    if parallel:
        example = f"{addr.cluster}.{addr.proc}.0.{addr.suffix}"
        return SessionRefused(f"{job} is a parallel job: name one of its nodes (0 to {parallel.group(1)}) in the "
                              f"host name, e.g. {example}", status="error")
    if line.startswith("ERROR: Can't find address of local schedd"):
        return SessionRefused("cannot find the local schedd: HTCondor is not set up on this machine or its schedd "
                              "is down (name one: condor-job-ssh setup --schedd NAME --pool HOST)", status="error")
    schedd = re.match(r"No such schedd named (\S+) in (local pool|pool (\S+))", line)
    if schedd:
        where = f"pool {quote_said(schedd.group(3))}" if schedd.group(3) else "the local pool"
        return SessionRefused(f"there is no schedd named {quote_said(schedd.group(1))} in {where}", status="error")
    if re.match(r"(Can't connect to schedd|Failed to connect to schedd|Failed to authenticate|Failed to get "
                r"response from schedd|Failed to send GET_JOB_CONNECT_INFO)", line):
        return SessionRefused(f"cannot talk to the schedd about {job}: {quote_said(line.rstrip('.'))}", status="error")
    if re.match(r"(Failed to connect to starter|Can't connect to starter|Failed to (send|read).*START_SSHD|"
                r"Failed to create security session)", line):
        return SessionRefused(f"cannot reach the starter of {job}: {quote_said(line.rstrip('.'))}", status="error")
    run = re.match(r"Error executing (.+?): (.+)", line)
    if run:
        return SessionRefused(f"{TOOL} could not run {quote_said(run.group(1))}: {quote_said(run.group(2))}", status="error")
    return _starter_line(line, job)


def explain(returncode: int, stderr: str, addr: JobAddress) -> SessionRefused:
    """One refusal from condor_ssh_to_job's exit status and messages; retry-able when the tool says so."""
    job = f"job {addr.classic_id}"
    lines = [" ".join(line.split()) for line in stderr.splitlines()]
    retry = RETRY_HINT in lines
    lines = [line for line in lines if line and line not in (RETRY_HINT, WAITING_LINE)]
    if returncode < 0:
        return SessionRefused(f"{TOOL} was killed by signal {-returncode} while opening a session to {job}",
                              status="error")
    if returncode == 2:
        said = quote_said(lines[0]) if lines else "no reason given"
        return SessionRefused(f"{TOOL} did not accept the arguments condor-job-proxy gave it: {said}",
                              status="error")
    for line in lines:
        refusal = _line_refusal(line, job, addr)
        if refusal is not None:
            if retry and not refusal.retryable:
                refusal = SessionRefused(str(refusal), retryable=True, status=refusal.status)
            return refusal
    if retry:
        return SessionRefused(f"{job} is not running yet", retryable=True, status="not running")
    if lines:
        said = quote_said("; ".join(lines[:3]))
        return SessionRefused(f"{TOOL} failed for {job} (exit status {returncode}): {said}", status="error")
    return SessionRefused(f"{TOOL} ended (exit status {returncode}) without opening a session to {job} and "
                          "without saying why", status="error")
