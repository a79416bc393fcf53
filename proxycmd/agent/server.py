"""The key agent process: one per user, on ``<runtime dir>/agent.sock``.

It answers the standard agent requests of each connecting process with only the keys registered for that
process id (the proxy registers each connection's single-use key under its parent, the ssh process), and
keeps ``<runtime dir>/known_hosts`` holding one ``<host> <host key>`` line per live session.  Keys are
dropped when their process exits or their lifetime passes; known_hosts lines when the process exits or the
maximum host-key lifetime passes.  With no sessions and no traffic for ``--idle-exit`` seconds it exits.

Key material is kept in memory only and never logged.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import selectors
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple

from .. import paths
from . import keys, peer, wire

log = logging.getLogger("proxycmd.agent")

TICK = 0.5  # seconds between housekeeping passes
CONNECTION_TIMEOUT = 600.0  # a connection silent this long is closed
MAX_CONNECTIONS = 256
STATUS_VERSION = 1
_HOST = re.compile(r"(?:[A-Za-z0-9_.:-]{1,253}|\[[A-Za-z0-9_.:-]{1,253}\]:[0-9]{1,5})")
_NAME_START = re.compile(r"[A-Za-z0-9\[]")


@dataclass
class Session:
    """One registered ssh connection: the process it belongs to, its host key line and its private key."""

    pid: int
    token: Optional[str]
    host: str
    host_key: str
    key: Optional[keys.SigningKey] = field(repr=False)
    key_expires: float
    host_expires: float
    upstream: Optional[str] = None  # the user's own agent, offered too (ssh -A, `setup --forward-agent`)

    def belongs_to(self, pid: int, token: Optional[str]) -> bool:
        return self.pid == pid and self.token == token


def check_host(host: str) -> None:
    """Accept a known_hosts host field: a name or address, or ``[name]:port``; no patterns or markers."""
    if not _HOST.fullmatch(host) or not _NAME_START.match(host):
        raise ValueError(f"host {host[:80]!r} is not a plain host name or [host]:port")


def write_known_hosts(path: Path, lines: List[str]) -> None:
    """Replace *path* atomically with *lines*: a new 0600 file in the same directory, then rename."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(temp, flags, 0o600)
    except FileExistsError:  # left by a crashed agent that had our pid
        os.unlink(temp)
        fd = os.open(temp, flags, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.writelines(f"{line}\n" for line in lines)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


class Registry:
    """The live sessions, guarded by one lock; known_hosts is rewritten under that lock on every change."""

    def __init__(self, known_hosts: Path, max_host_lifetime: float) -> None:
        self._lock = threading.Lock()
        self._sessions: List[Session] = []
        self._known_hosts = known_hosts
        self._max_host_lifetime = max_host_lifetime
        self._closed = False

    def _write(self) -> None:
        write_known_hosts(self._known_hosts, [f"{s.host} {s.host_key}" for s in self._sessions])

    def start(self) -> None:
        """Make known_hosts empty (whatever an earlier agent left is stale)."""
        with self._lock:
            self._write()

    def add(self, pid: int, token: Optional[str], host: str, host_key: str, key: keys.SigningKey,
            key_lifetime: float, upstream: Optional[str] = None) -> None:
        """Record a session; known_hosts holds its line when this returns.  Raises ValueError/OSError."""
        now = time.monotonic()
        session = Session(pid, token, host, host_key, key, now + min(key_lifetime, self._max_host_lifetime),
                          now + self._max_host_lifetime, upstream)
        with self._lock:
            if self._closed:
                raise ValueError("the agent is stopping")
            self._sessions.append(session)
            try:
                self._write()
            except OSError:
                self._sessions.pop()
                raise

    def identities(self, pid: int, token: Optional[str]) -> List[Tuple[bytes, str]]:
        """(public key blob, host) of each live key registered for this process, without repeats."""
        found = {}
        with self._lock:
            for session in self._sessions:
                if session.key is not None and session.belongs_to(pid, token):
                    found.setdefault(session.key.blob, session.host)
        return list(found.items())

    def upstream(self, pid: int, token: Optional[str]) -> Optional[str]:
        """The user's own agent that this process's sessions forward to, if any."""
        with self._lock:
            return next((s.upstream for s in self._sessions if s.upstream and s.belongs_to(pid, token)), None)

    def signer(self, pid: int, token: Optional[str], blob: bytes) -> Optional[keys.SigningKey]:
        with self._lock:
            for session in self._sessions:
                if session.key is not None and session.belongs_to(pid, token) and session.key.blob == blob:
                    return session.key
        return None

    def expire(self, now: float) -> None:
        """Drop keys and sessions whose process is gone or whose lifetime passed."""
        with self._lock:
            kept = []
            for session in self._sessions:
                if not peer.process_alive(session.pid, session.token):
                    log.info("session for pid %d (%s) ended: the process exited", session.pid, session.host)
                    continue
                if now >= session.host_expires:
                    log.info("session for pid %d (%s) ended: host key lifetime passed", session.pid, session.host)
                    continue
                if session.key is not None and now >= session.key_expires:
                    log.info("key for pid %d (%s) dropped: key lifetime passed", session.pid, session.host)
                    session.key = None
                kept.append(session)
            if len(kept) != len(self._sessions):
                self._sessions = kept
                self._write()

    def counts(self) -> Tuple[int, int]:
        """(sessions, keys still held)."""
        with self._lock:
            return len(self._sessions), sum(s.key is not None for s in self._sessions)

    def close(self, write: bool) -> None:
        """Forget everything and refuse new sessions; empty known_hosts when *write*."""
        with self._lock:
            self._closed = True
            self._sessions = []
            if write:
                try:
                    self._write()
                except OSError as exc:
                    log.warning("could not empty %s: %s", self._known_hosts, exc.strerror)


class Agent:
    """The listening socket, connection threads, housekeeping and shutdown."""

    def __init__(self, rundir: Path, idle_exit: float, max_host_lifetime: float) -> None:
        self.socket_path = paths.agent_socket(rundir)
        self.registry = Registry(paths.known_hosts(rundir), max_host_lifetime)
        self._idle_exit = idle_exit
        self._listener: Optional[socket.socket] = None
        self._inode: Optional[Tuple[int, int]] = None
        self._lock = threading.Lock()
        self._connections = 0
        self._last_activity = time.monotonic()
        self._stop = threading.Event()
        self._cleaned = False
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)

    # -- start-up -------------------------------------------------------------------------------------------

    def bind(self) -> bool:
        """Listen on the socket; False when another agent already answers there."""
        path = str(self.socket_path)
        if os.path.lexists(path):
            if _answers(path):
                return False
            os.unlink(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            listener.bind(path)
        except OSError:
            listener.close()
            if _answers(path):  # another agent won the race
                return False
            raise
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        st = os.lstat(path)
        self._inode = (st.st_dev, st.st_ino)
        listener.listen(64)
        listener.setblocking(False)
        self._listener = listener
        self.registry.start()
        log.info("agent listening on %s", path)
        return True

    # -- main loop ------------------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask the main loop to finish (safe from signal handlers and other threads)."""
        self._stop.set()
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def serve(self) -> None:
        """Accept connections and do housekeeping until stopped or idle; then clean up."""
        assert self._listener is not None
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        next_housekeeping = 0.0
        try:
            while not self._stop.is_set():
                for key, _ in selector.select(TICK):
                    if key.fileobj is self._listener:
                        self._accept()
                    else:
                        _drain(self._wake_r)
                now = time.monotonic()
                if now >= next_housekeeping:
                    self.registry.expire(now)
                    next_housekeeping = now + TICK
                    if self._idle(now):
                        log.info("no sessions for %g s: exiting", self._idle_exit)
                        break
        finally:
            selector.close()
            self.cleanup()
            self._listener.close()

    def _idle(self, now: float) -> bool:
        if self._idle_exit <= 0 or self.registry.counts()[0]:
            return False
        with self._lock:
            return self._connections == 0 and now - self._last_activity >= self._idle_exit

    def _touch(self) -> None:
        with self._lock:
            self._last_activity = time.monotonic()

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            conn, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        with self._lock:
            self._last_activity = time.monotonic()
            if self._connections >= MAX_CONNECTIONS:
                conn.close()
                return
            self._connections += 1
        conn.setblocking(True)
        conn.settimeout(CONNECTION_TIMEOUT)
        threading.Thread(target=self._serve_connection, args=(conn,), daemon=True).start()

    def cleanup(self) -> None:
        """Drop all sessions; if the socket is still ours, empty known_hosts and remove the socket. Idempotent."""
        with self._lock:
            if self._cleaned:
                return
            self._cleaned = True
        ours = self._socket_is_ours()
        self.registry.close(write=ours)
        if ours:
            try:
                os.unlink(self.socket_path)
            except OSError:
                pass

    def _socket_is_ours(self) -> bool:
        try:
            st = os.lstat(self.socket_path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self._inode

    # -- one connection -------------------------------------------------------------------------------------

    def _serve_connection(self, conn: socket.socket) -> None:
        try:
            with conn:
                self._converse(conn)
        except (OSError, wire.WireError) as exc:
            log.info("connection closed: %s", exc)
        finally:
            with self._lock:
                self._connections -= 1
                self._last_activity = time.monotonic()

    def _converse(self, conn: socket.socket) -> None:
        who = peer.peer_credentials(conn)
        if who.uid != os.getuid():
            log.warning("refused a connection from uid %d (pid %d)", who.uid, who.pid)
            return
        token = peer.start_token(who.pid)
        while True:
            body = wire.read_frame(conn)
            if body is None:
                return
            self._touch()
            reply, stop = self._dispatch(body, who.pid, token)
            conn.sendall(wire.frame(reply))
            if stop:
                log.info("stop requested by pid %d", who.pid)
                self.cleanup()
                self.request_stop()
                return

    def _dispatch(self, body: bytes, pid: int, token: Optional[str]) -> Tuple[bytes, bool]:
        """The reply to one request, and whether the agent should stop after sending it."""
        reader = wire.Reader(body)
        kind = reader.byte()
        if kind == wire.REQUEST_IDENTITIES:
            reader.end()
            found = [(blob, host.encode()) for blob, host in self.registry.identities(pid, token)]
            upstream = self.registry.upstream(pid, token)
            if upstream:  # the session key first, so ssh authenticates with it on its first try
                known = {blob for blob, _ in found}
                found += [(blob, comment) for blob, comment in _upstream_identities(upstream) if blob not in known]
            entries = b"".join(wire.string(blob) + wire.string(comment) for blob, comment in found)
            return wire.message(wire.IDENTITIES_ANSWER, wire.u32(len(found)), entries), False
        if kind == wire.SIGN_REQUEST:
            return self._sign(reader, pid, token), False
        if kind == wire.EXTENSION:
            name = reader.string()
            if name == wire.SESSION_BIND.encode():
                return _SUCCESS, False
            if name == wire.REGISTER.encode():
                return self._register(reader), False
            if name == wire.STATUS.encode():
                reader.end()
                return self._status(), False
            if name == wire.STOP.encode():
                reader.end()
                return _SUCCESS, True
        return _FAILURE, False

    def _sign(self, reader: wire.Reader, pid: int, token: Optional[str]) -> bytes:
        blob, data, flags = reader.string(), reader.string(), reader.u32()
        reader.end()
        key = self.registry.signer(pid, token, blob)
        upstream = self.registry.upstream(pid, token) if key is None else None
        if upstream:
            return _ask_upstream(upstream, wire.message(wire.SIGN_REQUEST, wire.string(blob), wire.string(data),
                                                        wire.u32(flags))) or _FAILURE
        if key is None:
            log.info("refused a signature for pid %d: no such key registered for it", pid)
            return _FAILURE
        return wire.message(wire.SIGN_RESPONSE, wire.string(key.sign(data, flags)))

    def _register(self, reader: wire.Reader) -> bytes:
        pid, host, host_key = reader.u32(), reader.text(), reader.text()
        private_key, lifetime = reader.string(), reader.u32()
        upstream = reader.text() if reader.more() else ""
        reader.end()
        try:
            check_host(host)
            keys.parse_public_key(host_key)
            key = keys.load_private_key(private_key)
            if lifetime < 1:
                raise ValueError("the key lifetime must be at least 1 s")
            if not 1 <= pid < 2**31:
                raise ValueError(f"pid {pid} is out of range")
            token = peer.start_token(pid)
            if not peer.process_alive(pid, token) or (token is None and sys.platform.startswith("linux")):
                raise ValueError(f"process {pid} is not running")
            if upstream and not os.path.isabs(upstream):
                raise ValueError("the upstream agent must be given by an absolute path")
            self.registry.add(pid, token, host, host_key, key, lifetime, upstream or None)
        except (ValueError, OSError) as exc:
            log.warning("refused a session for pid %d: %s", pid, _reason(exc))
            return _FAILURE
        log.info("session for pid %d (%s): %s key for %d s", pid, host, key.key_type, lifetime)
        return _SUCCESS

    def _status(self) -> bytes:
        sessions, held = self.registry.counts()
        text = json.dumps({"pid": os.getpid(), "sessions": sessions, "keys": held, "version": STATUS_VERSION})
        return wire.message(wire.AGENT_SUCCESS, wire.string(text))


_SUCCESS = bytes([wire.AGENT_SUCCESS])
_FAILURE = bytes([wire.AGENT_FAILURE])
UPSTREAM_TIMEOUT = 30.0  # a signature may wait for the user to confirm on their own agent


def _ask_upstream(path: str, request: bytes) -> Optional[bytes]:
    """Send one request to the user's own agent and return its reply, or None when it cannot be asked."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(UPSTREAM_TIMEOUT)
            conn.connect(path)
            conn.sendall(wire.frame(request))
            return wire.read_frame(conn)
    except (OSError, wire.WireError) as exc:
        log.info("the forwarded agent %s did not answer: %s", path, _reason(exc))
        return None


def _upstream_identities(path: str) -> List[Tuple[bytes, bytes]]:
    """The (key blob, comment) pairs the user's own agent offers; none when it cannot be asked."""
    reply = _ask_upstream(path, bytes([wire.REQUEST_IDENTITIES]))
    if not reply:
        return []
    try:
        reader = wire.Reader(reply)
        if reader.byte() != wire.IDENTITIES_ANSWER:
            return []
        return [(reader.string(), reader.string()) for _ in range(reader.u32())]
    except wire.WireError:
        return []


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}"
    return str(exc)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except OSError:
        pass


def _answers(path: str) -> bool:
    """Does something accept connections on *path*?"""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(2.0)
    try:
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


def _parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m proxycmd.agent",
                                     description="Per-user ssh agent serving each ssh process its session key.")
    parser.add_argument("--runtime-dir", type=Path, default=None,
                        help="private runtime directory (default: the per-user one)")
    parser.add_argument("--idle-exit", type=float, default=300.0, metavar="SECONDS",
                        help="exit after this long with no sessions and no connections (0: never; default 300)")
    parser.add_argument("--max-host-key-lifetime", type=float, default=86400.0, metavar="SECONDS",
                        help="drop a session's known_hosts line after this long even if ssh still runs")
    args = parser.parse_args(argv)
    if args.max_host_key_lifetime <= 0:
        parser.error("--max-host-key-lifetime must be positive")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Run the agent until stopped, signalled or idle; 0 also when another agent already serves."""
    args = _parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s condor-job-proxy agent[%(process)d]: %(message)s")
    try:
        rundir = paths.ensure_runtime_dir(args.runtime_dir) if args.runtime_dir else paths.runtime_dir()
    except paths.PathError as exc:
        log.error("%s", exc)
        return 1
    agent = Agent(rundir, args.idle_exit, args.max_host_key_lifetime)
    try:
        if not agent.bind():
            return 0
    except OSError as exc:
        log.error("cannot listen on %s: %s", agent.socket_path, exc.strerror or exc)
        return 1
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: agent.request_stop())
    agent.serve()
    log.info("agent stopped")
    return 0
