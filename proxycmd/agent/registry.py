"""The agent's live sessions: which process may use which key, and the known_hosts file they imply.

Each session is one ssh process (pid plus start token) with its host's known_hosts line and its session key.
A key is single-use: the first signature it makes for its process (the authentication) also drops it, so
nothing that later reaches the agent through that ssh process (a forwarded agent channel) can use it.  The
known_hosts line stays while the process lives (ssh checks the host key again when it re-keys), up to the
maximum host-key lifetime.  Dropped keys are wiped (see keys.SigningKey.wipe).

A *relayed* session (a client that is not OpenSSH in fd-pass mode: paramiko, asyncssh, JSch, Node's ssh2)
may share its process with many connections, and most such clients take the *first* known_hosts line for a
host and key type.  So a relayed session lives only as long as its relay (the proxy holds the registering
connection open until then), and it takes a turn: from registration until its key signs, it is the one
session "in handshake" for its process and for its host.  During its turn its line comes first for that
host and its key is the only one offered to its process; another relayed registration for the same process
or host waits for the turn to pass (the signature, the relay's end, or HANDSHAKE_LIMIT).  Outside turns,
lines of the most recently registered sessions come first.

Such a process may also forward its agent connections into jobs (paramiko forwards what SSH_AUTH_SOCK
names), and every connection of it has its pid.  So a relayed session's key is *bound* to the connection
its relay carries: the relay hands over the job sshd's signature of that connection's session id
(agent/exchange.py), and the key is listed only once bound and signs only a userauth request for that
session id, which nothing but the connection's own two ends can know.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from . import keys, peer, wire
from .knownhosts import PrivateFile, SharedFile

log = logging.getLogger("proxycmd.agent")

HANDSHAKE_LIMIT = 10.0  # seconds a relayed session may hold its turn before its key is dropped
MAX_MASTERS = 1024  # ControlPath names remembered (the oldest go first)
USERAUTH_REQUEST = 50  # SSH_MSG_USERAUTH_REQUEST: what a client's authentication signature covers

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
    seq: int = 0  # registration order: later sessions' lines come first
    turn_ends: Optional[float] = None  # a relayed session in handshake: when its turn lapses
    relayed: bool = False
    proof: Optional[bytes] = field(default=None, repr=False)  # relayed: the sshd's signature of the session id

    @property
    def usable(self) -> bool:
        """Holds a key that may be listed: an fd-pass session's, or a relayed one's once bound."""
        return self.key is not None and (not self.relayed or self.proof is not None)

    def signs_for(self, data: bytes) -> bool:
        """May this session's key sign *data*?  A relayed key: only a userauth request (RFC 4252 §7) whose
        session id the job's sshd signed with this key pair, i.e. the one of the connection the relay carries."""
        if not self.relayed:
            return True
        if self.proof is None or self.key is None:
            return False
        try:
            reader = wire.Reader(data)
            session_id = reader.string()
            if reader.byte() != USERAUTH_REQUEST:
                return False
        except wire.WireError:
            return False
        return self.key.made(self.proof, session_id)

    @property
    def in_handshake(self) -> bool:
        return self.turn_ends is not None

    def belongs_to(self, pid: int, token: Optional[str]) -> bool:
        return self.pid == pid and self.token == token

    def drop_key(self) -> None:
        if self.key is not None:
            self.key.wipe()
            self.key = None


def check_host(host: str) -> None:
    """Accept a known_hosts host field: a name or address, or ``[name]:port``; no patterns or markers."""
    if not _HOST.fullmatch(host) or not _NAME_START.match(host):
        raise ValueError(f"host {host[:80]!r} is not a plain host name or [host]:port")


def known_hosts_lines(sessions: List[Session]) -> List[Tuple[str, float]]:
    """known_hosts in the order first-line clients need: sessions in handshake, then the newest first; each
    line with the time.monotonic() its session's host-key lifetime ends (for the shared file's tags)."""
    ordered = sorted(sessions, key=lambda s: (not s.in_handshake, -s.seq))
    return [(f"{s.host} {s.host_key}", s.host_expires) for s in ordered]


class Registry:
    """The live sessions, guarded by one lock; known_hosts is rewritten under that lock on every change,
    through *known_hosts* (a knownhosts.PrivateFile or SharedFile, or a path: a PrivateFile there)."""

    def __init__(self, known_hosts: "Path | PrivateFile | SharedFile", max_host_lifetime: float) -> None:
        self._lock = threading.Condition()  # notified when a turn passes or a session ends
        self._sessions: List[Session] = []
        self._seq = 0
        self._known_hosts = PrivateFile(known_hosts) if isinstance(known_hosts, Path) else known_hosts
        self._max_host_lifetime = max_host_lifetime
        self._closed = False
        self._masters: Dict[str, Tuple[str, float]] = {}  # ControlPath name -> (upstream agent, until)

    def _write(self) -> None:
        self._known_hosts.write(known_hosts_lines(self._sessions))

    def start(self) -> None:
        """Make known_hosts empty (whatever an earlier agent left is stale)."""
        with self._lock:
            self._write()

    def add(self, pid: int, token: Optional[str], host: str, host_key: str, key: keys.SigningKey,
            key_lifetime: float, upstream: Optional[str] = None, relayed: bool = False) -> Session:
        """Record a session; known_hosts holds its line when this returns.  Raises ValueError/OSError.

        A *relayed* session first waits for its turn (see the module's doc) and then holds it.
        """
        with self._lock:
            if relayed:
                self._wait_for_turn(pid, token, host)
            if self._closed:
                raise ValueError("the agent is stopping")
            now = time.monotonic()
            self._seq += 1
            session = Session(pid, token, host, host_key, key, now + min(key_lifetime, self._max_host_lifetime),
                              now + self._max_host_lifetime, upstream, self._seq,
                              now + HANDSHAKE_LIMIT if relayed else None, relayed)
            self._sessions.append(session)
            try:
                self._write()
            except OSError:
                self._sessions.pop()
                raise
            return session

    def _wait_for_turn(self, pid: int, token: Optional[str], host: str) -> None:
        """Wait (lock held) until no relayed session of this process or host is in handshake."""
        while not self._closed:
            holder = next((s for s in self._sessions
                           if s.in_handshake and (s.belongs_to(pid, token) or s.host == host)), None)
            if holder is None:
                break
            left = holder.turn_ends - time.monotonic()
            if left <= 0:
                self._lapse(holder)
                continue
            self._lock.wait(left)
        if not peer.process_alive(pid, token):
            raise ValueError(f"process {pid} exited while its session waited for its turn")

    def _lapse(self, session: Session) -> None:
        """A turn that was not used in time: the key goes, the line stays (lock held)."""
        log.info("key for pid %d (%s) dropped: no signature within %g s", session.pid, session.host,
                 HANDSHAKE_LIMIT)
        session.drop_key()
        self._pass_turn(session)

    def _pass_turn(self, session: Session) -> None:
        session.turn_ends = None
        self._lock.notify_all()
        try:
            self._write()
        except OSError as exc:
            log.warning("could not rewrite %s: %s", self._known_hosts.path, exc.strerror)

    def end(self, session: Session) -> None:
        """A relayed session's connection ended: forget it, wipe its key, take its line out."""
        with self._lock:
            kept = [s for s in self._sessions if s is not session]
            if len(kept) == len(self._sessions):
                return  # already gone: its process exited, or the agent is stopping
            log.info("session for pid %d (%s) ended: the relay closed", session.pid, session.host)
            session.drop_key()
            self._sessions = kept
            session.turn_ends = None
            self._pass_turn(session)

    def bind(self, session: Session, proof: bytes) -> None:
        """The relay saw the job sshd sign its connection's session id with *proof* (agent/exchange.py)."""
        with self._lock:
            if session.proof is None:
                session.proof = bytes(proof)

    def identities(self, pid: int, token: Optional[str]) -> List[Tuple[bytes, str]]:
        """(public key blob, host) of each unused key registered for this process, without repeats.

        While one of its relayed sessions is in handshake, only that one, and only once its relay bound it:
        a client that signs with every offered key (paramiko) cannot use up a key another of its
        connections is about to need.
        """
        found = {}
        with self._lock:
            mine = [s for s in self._sessions if s.key is not None and s.belongs_to(pid, token)]
            turn = [s for s in mine if s.in_handshake]
            for session in turn or mine:
                if session.usable:
                    found.setdefault(session.key.blob, session.host)
        return list(found.items())

    def pending(self, pid: int, token: Optional[str]) -> bool:
        """Does this process have a registered key it has not signed with yet?  Without the lock: the accept
        loop asks this (listener._evict_one), and the lock may be held while a shared known_hosts file waits
        for another node's writer.  list() copies the list whole (one step under the GIL); a session's key
        only ever goes from a key to None, so at worst a connection is kept a moment too long."""
        return any(s.key is not None and s.belongs_to(pid, token) for s in list(self._sessions))

    def note_master(self, name: str, upstream: str) -> None:
        """The ssh master that ControlPath *name* names forwards with *upstream* (server.Agent._upstream), for
        as long as a session's host key line may live."""
        with self._lock:
            self._masters.pop(name, None)
            self._masters[name] = (upstream, time.monotonic() + self._max_host_lifetime)
            while len(self._masters) > MAX_MASTERS:
                del self._masters[next(iter(self._masters))]

    def masters(self) -> bool:
        return bool(self._masters)

    def master_upstream(self, name: str) -> Optional[str]:
        with self._lock:
            found = self._masters.get(name)
            return found[0] if found and time.monotonic() < found[1] else None

    def upstream(self, pid: int, token: Optional[str]) -> Optional[str]:
        """The user's own agent that this process's sessions forward to, if any."""
        with self._lock:
            return next((s.upstream for s in self._sessions if s.upstream and s.belongs_to(pid, token)), None)

    def take_key(self, pid: int, token: Optional[str], blob: bytes, data: bytes) -> Optional[keys.SigningKey]:
        """Hand out this process's key with *blob* to sign *data* once, and forget it (single use).

        The caller signs and then wipes it; None when no such unused key is registered for the process, or
        when it is a relayed key and *data* is not the authentication of the connection its relay carries
        (the key then stays for that one).
        """
        with self._lock:
            for session in self._sessions:
                if session.key is not None and session.belongs_to(pid, token) and session.key.blob == blob:
                    if not session.signs_for(data):
                        log.info("refused a signature for pid %d (%s): not for the connection its relay carries",
                                 pid, session.host)
                        continue
                    key, session.key = session.key, None
                    if session.in_handshake:  # authenticated: the next connection's turn
                        self._pass_turn(session)
                    return key
        return None

    def expire(self, now: float) -> None:
        """Drop keys and sessions whose process is gone or whose lifetime passed.

        The processes are looked up in /proc before the lock is taken: under a burst that is hundreds of reads,
        and registrations and signatures must not wait for them."""
        with self._lock:
            owners = {(session.pid, session.token) for session in self._sessions}
        gone = {owner for owner in owners if not peer.process_alive(*owner)}
        with self._lock:
            kept = []
            for session in self._sessions:
                if (session.pid, session.token) in gone:
                    log.info("session for pid %d (%s) ended: the process exited", session.pid, session.host)
                    session.drop_key()
                    continue
                if now >= session.host_expires:
                    log.info("session for pid %d (%s) ended: host key lifetime passed", session.pid, session.host)
                    session.drop_key()
                    continue
                if session.key is not None and now >= session.key_expires:
                    log.info("key for pid %d (%s) dropped: key lifetime passed", session.pid, session.host)
                    session.drop_key()
                if session.in_handshake and now >= session.turn_ends:
                    self._lapse(session)
                kept.append(session)
            for name in [name for name, (_, until) in self._masters.items() if now >= until]:
                del self._masters[name]
            if len(kept) != len(self._sessions):
                self._sessions = kept
                self._lock.notify_all()
                self._write()

    def use_known_hosts(self, known_hosts: "PrivateFile | SharedFile") -> None:
        """Write the live sessions' lines to *known_hosts* from now on (the block switched between a file per
        login node and the shared one), and empty the old file of ours."""
        with self._lock:
            old, self._known_hosts = self._known_hosts, known_hosts
            try:
                old.write([])
            except OSError as exc:
                log.warning("could not empty %s: %s", old.path, exc.strerror)
            self._write()

    def counts(self) -> Tuple[int, int]:
        """(sessions, keys still held)."""
        with self._lock:
            return len(self._sessions), sum(s.key is not None for s in self._sessions)

    def close(self, write: bool) -> None:
        """Forget (and wipe) everything and refuse new sessions; empty known_hosts when *write*."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            for session in self._sessions:
                session.drop_key()
            self._sessions = []
            if write:
                try:
                    self._write()
                except OSError as exc:
                    log.warning("could not empty %s: %s", self._known_hosts.path, exc.strerror)
