"""Our side of the dialer hand-off (the dialer itself is the shell script in proxycmd/dialer/).

We talk to the dialer over condor_ssh_to_job's own stdout and stdin, which the dialer inherits:

1. the dialer writes a header line and its arguments (NUL-terminated) to stdout; we read them and learn
   the remote user (-oUser=), the session directory (-oIdentityFile=<dir>/ssh_key) and the fdpass socket
   (the `-proxy` word of -oProxyCommand=);
2. we read the private key and the known_hosts entry (`* <key>`), connect to the fdpass socket and
   receive the starter connection (SCM_RIGHTS, one byte), as `condor_ssh_to_job -proxy` would;
3. we write "done" to stdin and close it (run.py): the dialer exits, condor_ssh_to_job removes the session
   directory and exits with the dialer's status, which we wait for.

No file of ours is written, and no Python starts for the dialer.
"""

from __future__ import annotations

import os
import stat
from ...record import record

from .tool import TOOL, ToolError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    import socket
    from typing import Dict, List, Optional, Sequence, Tuple

HEADER = b"condor-job-proxy-dialer 1 "

_SESSION_DIR_MARK = ".condor_ssh_to_job_"  # session directories are <user>.condor_ssh_to_job_<hex>

_HEX = frozenset("0123456789abcdef")

_KEY_TYPE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@._+-")

_BASE64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")

MAX_FILE = 64 * 1024


# ----- what the dialer reports -------------------------------------------------------------------------
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


class DialerArgs(record("DialerArgs", "user identity_file known_hosts fdpass host words", defaults=("", ()),
                        module=__name__)):
    """What condor_ssh_to_job told its ssh program: host is condor-job.<execute host>'s <execute host>,
    words all of the arguments (a record: proxycmd/record.py)."""

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
    from ... import unixsock  # not the socket module: its import costs every connection ~5 ms of CPU

    with unixsock.unix_stream() as channel:
        channel.settimeout(timeout)
        try:
            channel.connect(path)
            data, fds, _flags = unixsock.recv_fds(channel, 1, 1)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or "timed out"
            raise ToolError(f"cannot take the session's connection from {path}: {reason}") from None
    if len(fds) != 1 or data != b"\0":
        for fd in fds:
            os.close(fd)
        raise ToolError(f"{TOOL} sent no connection on {path}")
    try:
        conn = unixsock.from_fd(fds[0])
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
    import _socket

    try:
        if conn.getsockopt(_socket.SOL_SOCKET, _socket.SO_TYPE) != _socket.SOCK_STREAM:
            return "a socket that is not a stream"
        if getattr(_socket, "SO_ACCEPTCONN", None) and conn.getsockopt(_socket.SOL_SOCKET, _socket.SO_ACCEPTCONN):
            return "a listening socket"
        conn.getpeername()
    except OSError:
        return "a socket that is connected to nothing"
    return ""


def remove_session_dir(path: str) -> None:
    """Remove a session directory: its files, then itself.  The proxy does so as soon as it has the key and
    the connection, and again should condor_ssh_to_job have left one behind (it was killed)."""
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
