"""Talk to the key agent from the ProxyCommand: register a session key, ask its status, stop it, start it.

Runs on every ssh connection, so it imports only cheap stdlib modules at the top; subprocess, fcntl and
shlex are imported only when the agent has to be started, json only for `status` (json imports re: 10 ms of
CPU a connection), and pathlib nowhere (paths are str or Path, as the caller has them).
"""

from __future__ import annotations

import os
import time

from .. import paths, unixsock  # unixsock, not the socket module: its import costs ~5 ms of CPU a connection
from ..errors import ProxyError
from . import wire

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    import socket
    from pathlib import Path
    from typing import Optional

REQUEST_TIMEOUT = 30.0  # seconds to wait for one reply: a burst on a loaded node queues hundreds at the agent
START_TIMEOUT = 60.0  # seconds a starting agent may take to listen: Python's start alone can take 10 s on a loaded node
TURN_TIMEOUT = 60.0  # a relayed registration may wait this long for earlier connections' handshakes
REFUSED_GRACE = 0.25  # connection refused: an agent between bind and listen gets this long
AGENT_ARGS_ENV = "CONDOR_JOB_PROXY_AGENT_ARGS"
_LOG_KEEP = 1 << 20  # agent.log is started afresh beyond this size
_POLL = 0.05


class AgentError(ProxyError):
    """The key agent could not be reached, started, or would not take the request."""


class _Unreachable(Exception):
    """Nobody answers on the socket, or the agent hung up before replying (it was exiting)."""


def _connect(conn: socket.socket, path: str, deadline: float) -> None:
    """Connect, retrying while the agent's backlog is full (a burst) or it is just starting to listen."""
    pause = 0.002
    refused_until = time.monotonic() + REFUSED_GRACE
    while True:
        try:
            conn.connect(path)
            return
        except FileNotFoundError:
            raise _Unreachable() from None
        except BlockingIOError:  # EAGAIN: the listen queue is full
            pass
        except ConnectionRefusedError:  # nobody listens: a stale socket, or an agent about to listen
            if time.monotonic() >= refused_until:
                raise _Unreachable() from None
        if time.monotonic() + pause >= deadline:
            raise unixsock.timeout()
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _exchange(rundir: Path, payload: bytes, *, timeout: float = REQUEST_TIMEOUT, until_closed: bool = False,
              keep: Optional[list] = None, then: Optional[bytes] = None) -> bytes:
    """Send one request and return the reply body; with *until_closed*, also wait for the agent to hang up.

    With *keep*, the connection is left open and appended to it (a relayed session lives while it is).
    *then*: a second request sent after a successful reply, whose own reply is not waited for in vain:
    an agent of an earlier version refuses it, and that changes nothing.
    """
    path = paths.control_socket(rundir)
    conn = unixsock.unix_stream()
    conn.settimeout(timeout)
    kept = False
    try:
        _connect(conn, str(path), time.monotonic() + timeout)
        conn.sendall(wire.frame(payload))
        reply = wire.read_frame(conn)
        if reply is None:
            raise _Unreachable()
        if then is not None and reply[:1] == bytes([wire.AGENT_SUCCESS]):
            try:
                conn.sendall(wire.frame(then))
                wire.read_frame(conn)
            except (OSError, wire.WireError):
                pass
        if until_closed:
            while conn.recv(4096):
                pass
        if keep is not None:
            keep.append(conn)
            kept = True
        return reply
    except (ConnectionResetError, BrokenPipeError):
        raise _Unreachable() from None
    except unixsock.timeout:
        raise AgentError(f"the key agent at {path} did not answer within {timeout:g} s") from None
    except wire.WireError as exc:
        raise AgentError(f"the key agent at {path} sent a broken reply ({exc})") from None
    except OSError as exc:
        raise AgentError(f"cannot talk to the key agent at {path}: {exc.strerror or exc}") from None
    finally:
        if not kept:
            conn.close()


class Held:
    """A relayed session's open connection to the agent: the session lives until it is closed."""

    def __init__(self, conn: socket.socket, binds: bool) -> None:
        self.conn = conn
        self.binds = binds  # the agent takes the job sshd's signature of the session id (wire.BIND)

    def bind(self, signature: bytes) -> bool:
        """Give the agent the job sshd's signature of the exchange hash (agent/exchange.py) and wait for its
        answer: after this, the session's key signs only for that connection's session id."""
        try:
            self.conn.settimeout(REQUEST_TIMEOUT)
            self.conn.sendall(wire.frame(wire.message(wire.EXTENSION, wire.string(wire.BIND), wire.string(signature))))
            return wire.read_frame(self.conn) == bytes([wire.AGENT_SUCCESS])
        except (OSError, wire.WireError):
            return False

    def close(self) -> None:
        self.conn.close()


def register(rundir: Path, *, pid: int, host: str, host_key: str, private_key: bytes, key_lifetime: int = 300,
             upstream: Optional[str] = None, relayed: bool = False,
             shared_known_hosts: bool = False, master: Optional[str] = None) -> Optional[Held]:
    """Give the agent a session's key for process *pid* and its host key for known_hosts.

    *host_key* is ``<type> <base64>``; a trailing comment or line end, as in a .pub file, is left out.
    *upstream* is the user's own agent socket: the agent then also offers its keys to *pid* (after the
    session key) and passes their sign requests on, so that `ForwardAgent` forwards the user's keys.
    Starts the agent when none answers (with *shared_known_hosts*: one that merges into the file all
    login nodes share).  When this returns, known_hosts holds ``<host> <type> <base64>`` and agent.sock
    is the socket of the agent that holds the key (it heals a removed or replaced one before replying).

    *relayed*: the proxy relays for a client that may make many connections from one process.  The call
    may wait for that process's (or host's) earlier handshakes, and returns the open connection to the
    agent (`Held`): the session lives, and its line stays, until it is closed (when the proxy exits, at the
    latest).  Over it the relay binds the key to the connection it carries (`Held.bind`).

    *master*: the name ssh gives its ControlPath (%C, see `control_name`) when it may become a ControlMaster
    with *upstream*: its backgrounded master, a process the agent never saw registered, serves the
    forwarded agent channels of this and later sessions, and the agent then knows it by that name.
    """
    host_key = " ".join(host_key.split()[:2])
    fields = [wire.string(wire.REGISTER), wire.u32(pid), wire.string(host), wire.string(host_key),
              wire.string(private_key), wire.u32(key_lifetime)]
    # SHARED_KNOWN_HOSTS: the file ssh reads, as the block says now; a running agent follows it
    flags = (wire.REGISTER_RELAYED if relayed else 0) | (wire.SHARED_KNOWN_HOSTS if shared_known_hosts else 0)
    if upstream or flags:
        fields.append(wire.string(upstream or ""))
    if flags:
        fields.append(wire.u32(flags))
    payload = wire.message(wire.EXTENSION, *fields)
    keep = [] if relayed else None
    options = {"timeout": TURN_TIMEOUT, "keep": keep} if relayed else {}
    if master and upstream and not relayed:
        options["then"] = wire.message(wire.EXTENSION, wire.string(wire.MASTER), wire.u32(pid), wire.string(master))
    try:
        reply = _exchange(rundir, payload, **options)
    except _Unreachable:
        ensure_agent(rundir, shared_known_hosts=shared_known_hosts)
        try:
            reply = _exchange(rundir, payload, **options)
        except _Unreachable:
            raise AgentError(f"the key agent at {paths.control_socket(rundir)} went away during registration") from None
    if reply[:1] != bytes([wire.AGENT_SUCCESS]):
        for conn in keep or ():
            conn.close()
        raise AgentError(f"the key agent refused the session key for {host} (see {paths.agent_log(rundir)})")
    if not keep:
        return None
    flags = reply[1:5]  # an agent of this version says it takes the binding; an earlier one says nothing
    return Held(keep[0], len(flags) == 4 and bool(int.from_bytes(flags, "big") & wire.REGISTER_BINDS))


def control_name(host: str, port: int, login: str) -> str:
    """ssh's %C for a connection from this machine: SHA-1 of local host name, host, port and user (and
    ProxyJump, empty here), the name of the block's ControlPath in the runtime directory."""
    import hashlib

    from _socket import gethostname

    return hashlib.sha1(f"{gethostname()}{host}{port}{login}".encode()).hexdigest()


def _ask(rundir: Path, extension: str, **options) -> Optional[bytes]:
    """Send a private extension request without arguments; None when no agent answers."""
    try:
        return _exchange(rundir, wire.message(wire.EXTENSION, wire.string(extension)), **options)
    except _Unreachable:
        return None


def status(rundir: Path) -> Optional[dict]:
    """The agent's status ``{"pid", "sessions", "keys", "version", "dumpable"}``, or None when no agent answers."""
    reply = _ask(rundir, wire.STATUS, timeout=3.0)
    if reply is None:
        return None
    import json

    try:
        reader = wire.Reader(reply)
        if reader.byte() != wire.AGENT_SUCCESS:
            raise wire.WireError("status was refused")
        info = json.loads(reader.text())
        reader.end()
        if not isinstance(info, dict):
            raise ValueError("status is not an object")
    except ValueError:  # WireError and JSONDecodeError are ValueErrors
        raise AgentError(f"the program at {paths.control_socket(rundir)} is not a working key agent") from None
    return info


def stop(rundir: Path) -> bool:
    """Stop the agent; True when one was running.  On return its socket is gone and known_hosts is empty."""
    reply = _ask(rundir, wire.STOP, until_closed=True)
    if reply is None:
        return False
    if reply[:1] != bytes([wire.AGENT_SUCCESS]):
        raise AgentError(f"the key agent at {paths.control_socket(rundir)} refused to stop")
    return True


def _listening(rundir: Path) -> bool:
    """Does an agent accept connections on the control socket?  Only a connect: an agent busy with a burst
    may take seconds to answer a request, and must not be taken for a missing one (and a second started)."""
    conn = unixsock.unix_stream()
    conn.settimeout(1.0)
    try:
        conn.connect(str(paths.control_socket(rundir)))
    except BlockingIOError:  # EAGAIN: its listen queue is full, so it is there and busy
        return True
    except OSError:  # nothing there, a stale socket, or no accept within the second (socket.timeout)
        return False
    finally:
        conn.close()
    return True


def ensure_agent(rundir: Path, timeout: float = START_TIMEOUT, shared_known_hosts: bool = False) -> None:
    """Start this host's agent unless one listens; only one caller at a time starts it (a lock file decides).

    Returns once the agent accepts connections; whether it answers is for the caller's own request to say."""
    import fcntl

    if _listening(rundir):
        return
    try:
        paths.ensure_host_dir(rundir)
    except paths.PathError as exc:
        raise AgentError(str(exc)) from None
    lock_path = paths.agent_lock(rundir)
    try:
        lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise AgentError(f"cannot open the agent lock {lock_path}: {exc.strerror}") from None
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        if not _listening(rundir):
            _spawn_and_wait(rundir, timeout, shared_known_hosts)
    finally:
        os.close(lock_fd)  # releases the lock


def _spawn_and_wait(rundir: Path, timeout: float, shared_known_hosts: bool) -> None:
    """Start the agent and wait until it listens, it fails, or *timeout* passes.  A slow start is waited for
    (a loaded login node, a burst of first connections); an agent that exits with an error is not."""
    import shlex
    import subprocess

    from .. import pystart

    log_path = paths.agent_log(rundir)
    args = ["--runtime-dir", str(rundir)]
    if shared_known_hosts:
        args.append("--shared-known-hosts")
    args += shlex.split(os.environ.get(AGENT_ARGS_ENV, ""))
    log_fd = _open_log(log_path)
    try:
        # isolated and in "/": only our package's directory and the installation's on its path (pystart)
        child = subprocess.Popen(pystart.module_argv("proxycmd.agent", *args), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=log_fd, cwd=pystart.CWD, close_fds=True,
                                 start_new_session=True)
    except OSError as exc:
        raise AgentError(f"cannot start the key agent: {exc.strerror or exc}") from None
    finally:
        os.close(log_fd)
    deadline = time.monotonic() + timeout
    while True:
        if _listening(rundir):
            return
        if child.poll() not in (None, 0):  # 0: another agent took the sockets; it is waited for like ours
            raise AgentError(f"the key agent did not start; see {log_path}")
        if time.monotonic() >= deadline:
            raise AgentError(f"the key agent did not start within {timeout:g} s; see {log_path}")
        time.sleep(_POLL)


def _open_log(log_path: Path) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        if os.stat(log_path).st_size > _LOG_KEEP:
            flags |= os.O_TRUNC
    except OSError:
        pass
    try:
        return os.open(log_path, flags, 0o600)
    except OSError as exc:
        raise AgentError(f"cannot open the agent log {log_path}: {exc.strerror}") from None
