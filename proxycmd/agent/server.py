"""The key agent process: one per user, with two sockets in the private runtime directory.

``agent.sock`` is what ssh's IdentityAgent names, and so what ``ForwardAgent`` carries into a job: it
answers only the standard agent protocol, each connecting process getting only the keys registered for it
(and, with ``--forward-agent``, the user's own agent's keys).  ``control.sock`` takes the management
operations -- register, status, stop -- and is only ever used by our own client; no forwarded channel
reaches it.  The registry (registry.py) keeps ``known_hosts`` holding one line per live session.  With no
sessions and no connections for ``--idle-exit`` seconds the agent exits.

Key material is kept in memory only, wiped when used or dropped, and never logged; the process is made
not dumpable (harden.py).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Optional

from .. import paths
from . import forward, harden, keys, listener, peer, wire
from .knownhosts import PrivateFile, SharedFile
from .registry import Registry, check_host

log = logging.getLogger("proxycmd.agent")

TICK = 0.5  # seconds between housekeeping passes
STATUS_VERSION = 1
AGENT, CONTROL = "agent", "control"  # the two sockets' kinds

_SUCCESS = bytes([wire.AGENT_SUCCESS])
_STOP = object()  # what follows a stop request
_HUNG_UP = object()  # the client hung up between requests
_FAILURE = bytes([wire.AGENT_FAILURE])
_CONTROL_NAME = re.compile(r"[0-9a-f]{40}")  # ssh's %C
_MASTER_TITLE = re.compile(r"ssh: (/.*)/([0-9a-f]{40}) \[mux\]")  # what a backgrounded master calls itself


class Agent:
    """The two sockets, the registry, and what each request does."""

    def __init__(self, rundir: Path, idle_exit: float, max_host_lifetime: float, shared_known_hosts: bool = False) -> None:
        self.rundir = rundir
        self.socket_path = paths.agent_socket(rundir)
        self.control_path = paths.control_socket(rundir)
        self._shared_known_hosts = shared_known_hosts
        self.registry = Registry(self._known_hosts_file(shared_known_hosts), max_host_lifetime)
        self.protected = False
        self._idle_exit = idle_exit
        self._net = listener.Listener()
        self._net.keep = self._keep
        self._net.admit = lambda link: link.kind != CONTROL and self._keep(link)
        self._cleaned = False

    def _known_hosts_file(self, shared: bool) -> "PrivateFile | SharedFile":
        if shared:
            return SharedFile(paths.known_hosts(self.rundir, shared=True), paths.shared_known_hosts_lock(self.rundir),
                              paths.local_node())
        return PrivateFile(paths.known_hosts(self.rundir))

    # -- start-up and shutdown ------------------------------------------------------------------------------

    def bind(self) -> bool:
        """Listen on both sockets, in this host's directory; False when another agent already answers there.

        control.sock decides which agent is the one: it is linked into place, never replaced.  An agent that
        answers on agent.sock but not on control.sock lost its control socket (`rm ~/.ssh/cjp/*`): its
        agent.sock is taken over, and it exits when it sees control.sock is no longer its own."""
        paths.ensure_host_dir(self.rundir)
        if listener.answers(self.control_path):
            return False
        if listener.answers(self.socket_path) and not _stop_old_agent(self.socket_path):
            return False
        if os.path.lexists(self.control_path):  # nobody answers there: stale
            os.unlink(self.control_path)
        try:
            self._net.listen(self.control_path, CONTROL, self._serve_control)
        except FileExistsError:  # another agent won the race
            return False
        try:
            try:
                self._net.listen(self.socket_path, AGENT, self._serve_agent)
            except FileExistsError:  # a stale socket, or the one of an agent that lost control.sock
                self._net.listen(self.socket_path, AGENT, self._serve_agent, replace=True)
        except OSError:
            self._net.remove_sockets()
            raise
        self.registry.start()
        log.info("agent listening on %s (control: %s)", self.socket_path, self.control_path.name)
        return True

    def heal(self) -> bool:
        """Put back a socket of ours that was removed or replaced; False when another agent has taken
        control.sock (we are superseded and should exit).  Two lstat calls when all is well."""
        if not self._net.socket_is_ours(self.control_path):
            if listener.answers(self.control_path):
                log.info("another agent took %s: exiting", self.control_path)
                return False
            if not self._rebuild_dir():
                return True
            try:
                if os.path.lexists(self.control_path):
                    os.unlink(self.control_path)
                self._net.replace(self.control_path, exclusive=True)
                log.info("%s was gone: listening there again", self.control_path)
            except FileExistsError:
                return not listener.answers(self.control_path)
            except OSError as exc:
                log.warning("cannot listen on %s again: %s", self.control_path, exc.strerror or exc)
        self.heal_agent_socket()
        return True

    def heal_agent_socket(self) -> None:
        """Make agent.sock, the path ssh's IdentityAgent names, this agent's again if it is gone or is
        another program's socket (renamed over it: ssh never finds the path missing)."""
        if self._net.socket_is_ours(self.socket_path) or not self._rebuild_dir():
            return
        try:
            self._net.replace(self.socket_path)
        except OSError as exc:
            log.warning("cannot listen on %s again: %s", self.socket_path, exc.strerror or exc)
            return
        log.info("%s was gone or not ours: listening there again", self.socket_path)

    def _rebuild_dir(self) -> bool:
        try:
            paths.ensure_runtime_dir(self.rundir)
            paths.ensure_host_dir(self.rundir)
        except paths.PathError as exc:
            log.warning("%s", exc)
            return False
        return True

    def serve(self) -> None:
        try:
            self._net.run(TICK, self._housekeeping)
        finally:
            self.cleanup()

    def request_stop(self) -> None:
        self._net.request_stop()

    def _housekeeping(self, now: float) -> bool:
        """Heal the sockets, expire sessions; True when the agent is superseded or idle long enough to exit."""
        if not self.heal():
            return True
        self.registry.expire(now)
        if self._idle_exit > 0 and not self.registry.counts()[0] and self._net.idle_for(now) >= self._idle_exit:
            log.info("no sessions for %g s: exiting", self._idle_exit)
            return True
        return False

    def cleanup(self) -> None:
        """Drop all sessions; empty known_hosts and remove the sockets if they are still ours.  Idempotent."""
        if self._cleaned:
            return
        self._cleaned = True
        ours = self._net.socket_is_ours(self.control_path)
        self.registry.close(write=ours)
        self._net.remove_sockets()

    # -- agent.sock: the standard protocol only ---------------------------------------------------------------

    def _keep(self, link: listener.Link) -> bool:
        """Connections a flood must not take a slot from (listener._evict_one): on agent.sock, one whose
        process has a registered key not used yet (ssh lists its key, then waits, idle, for the server's
        answer before it asks for the signature); on control.sock, one just opened whose first request (a
        proxy's registration) has not begun yet, for REQUEST_DEADLINE."""
        if link.kind == CONTROL:
            return not link.asked and time.monotonic() - link.opened < listener.REQUEST_DEADLINE
        if link.peer is None:  # its thread has not run yet (a flood keeps the CPU busy): ask the kernel now
            try:
                who = peer.peer_credentials(link.sock)
            except OSError:
                return False
            if who.uid != os.getuid():
                return False
            link.peer = (who.pid, peer.start_token(who.pid))
        return self.registry.pending(*link.peer)

    def _serve_agent(self, link: listener.Link) -> None:
        who = _same_user(link)
        if who is None:
            return
        token = peer.start_token(who.pid)
        link.peer = (who.pid, token)
        while True:
            reply = self._answer(link, lambda reader: self._standard(reader, who.pid, token))
            if reply is _HUNG_UP:
                return
            link.reply(reply)

    def _answer(self, link: listener.Link, handle):
        """What *handle* makes of the next request on *link* (a wire.Reader over its body), the body wiped
        once handled (a registration's private key is read in place); _HUNG_UP when the client hung up
        between requests."""
        body = link.read_request()
        if body is None:
            return _HUNG_UP
        self._net.touch()
        try:
            return handle(wire.Reader(body))
        finally:
            keys.wipe(body)

    def _standard(self, reader: wire.Reader, pid: int, token: Optional[str]) -> bytes:
        kind = reader.byte()
        if kind == wire.REQUEST_IDENTITIES:
            reader.end()
            found = [(blob, host.encode()) for blob, host in self.registry.identities(pid, token)]
            upstream = self._upstream(pid, token)
            if upstream:  # the session key first, so ssh authenticates with it on its first try
                known = {blob for blob, _ in found}
                found += [(blob, comment) for blob, comment in forward.identities(upstream) if blob not in known]
            entries = b"".join(wire.string(blob) + wire.string(comment) for blob, comment in found)
            return wire.message(wire.IDENTITIES_ANSWER, wire.u32(len(found)), entries)
        if kind == wire.SIGN_REQUEST:
            return self._sign(reader, pid, token)
        if kind == wire.EXTENSION and reader.string() == wire.SESSION_BIND.encode():
            return _SUCCESS
        return _FAILURE  # adding, removing, locking, and every other extension (ours are on control.sock)

    def _sign(self, reader: wire.Reader, pid: int, token: Optional[str]) -> bytes:
        blob, data, flags = reader.string(), reader.string(), reader.u32()
        reader.end()
        key = self.registry.take_key(pid, token, blob, data)
        if key is None:
            upstream = self._upstream(pid, token)
            if upstream:
                return forward.ask(upstream, wire.message(wire.SIGN_REQUEST, wire.string(blob), wire.string(data),
                                                          wire.u32(flags))) or _FAILURE
            log.info("refused a signature for pid %d: no such unused key registered for it", pid)
            return _FAILURE
        try:
            signature = key.sign(data, flags)
        finally:
            key.wipe()  # single use: authentication is done
        log.info("pid %d authenticated with its %s session key; key wiped", pid, key.key_type)
        return wire.message(wire.SIGN_RESPONSE, wire.string(signature))

    # -- control.sock: register, status, stop -----------------------------------------------------------------

    def _serve_control(self, link: listener.Link) -> None:
        who = _same_user(link)
        if who is None:
            return
        while True:
            answer = self._answer(link, lambda reader: self._manage(reader, who.pid))
            if answer is _HUNG_UP:
                return
            reply, after = answer
            if after is _STOP:
                link.reply(reply)
                log.info("stop requested by pid %d", who.pid)
                self.cleanup()
                self.request_stop()
                return
            if after is not None:  # a relayed session: it lives as long as the proxy holds this connection
                try:
                    link.reply(reply)
                    self._hold(link, after)
                finally:
                    self.registry.end(after)
                return
            link.reply(reply)

    def _hold(self, link: listener.Link, session) -> None:
        """A relayed session's connection, until the relay closes it: it may bind the session's key to the
        connection it carries (the job sshd's signature of the session id, agent/exchange.py)."""
        while True:
            body = link.read_request(held=True)
            if body is None:
                return
            try:
                reader = wire.Reader(body)
                if reader.byte() != wire.EXTENSION or reader.string() != wire.BIND.encode():
                    raise wire.WireError("not a binding")
                signature = reader.string()
                reader.end()
            except wire.WireError:
                link.reply(_FAILURE)
                continue
            self.registry.bind(session, signature)
            link.reply(_SUCCESS)

    def _manage(self, reader: wire.Reader, peer_pid: int):
        """(reply, what follows it): None, _STOP, or a relayed session to end when the connection closes."""
        if reader.byte() != wire.EXTENSION:
            return _FAILURE, None
        name = reader.string()
        if name == wire.REGISTER.encode():
            return self._register(reader, peer_pid)
        if name == wire.MASTER.encode():
            return self._note_master(reader, peer_pid), None
        if name == wire.STATUS.encode():
            reader.end()
            return self._status(), None
        if name == wire.STOP.encode():
            reader.end()
            return _SUCCESS, _STOP
        return _FAILURE, None

    def _register(self, reader: wire.Reader, peer_pid: int):
        pid, host, host_key = reader.u32(), reader.text(), reader.text()
        private_key, lifetime = reader.view(), reader.u32()
        upstream = reader.text() if reader.more() else ""
        flags = reader.u32() if reader.more() else 0
        relayed, shared = bool(flags & wire.REGISTER_RELAYED), bool(flags & wire.SHARED_KNOWN_HOSTS)
        reader.end()
        try:
            check_host(host)
            keys.parse_public_key(host_key)
            if lifetime < 1:
                raise ValueError("the key lifetime must be at least 1 s")
            token = check_owner(pid, peer_pid)
            if upstream and not os.path.isabs(upstream):
                raise ValueError("the upstream agent must be given by an absolute path")
            key = keys.load_private_key(private_key)
            if shared != self._shared_known_hosts:  # `setup` changed the block since this agent started
                self._shared_known_hosts = shared
                self.registry.use_known_hosts(self._known_hosts_file(shared))
            session = self.registry.add(pid, token, host, host_key, key, lifetime, upstream or None, relayed)
        except (ValueError, OSError) as exc:
            log.warning("refused a session for pid %d: %s", pid, _reason(exc))
            return _FAILURE, None
        self.heal_agent_socket()  # ssh asks agent.sock right after this reply: it must be ours
        log.info("session for pid %d (%s): %s key for %d s%s", pid, host, key.key_type, lifetime,
                 ", relayed" if relayed else "")
        if relayed:  # the relay is to bind the key to its connection before it signs
            return _SUCCESS + wire.u32(wire.REGISTER_BINDS), session
        return _SUCCESS, None

    def _note_master(self, reader: wire.Reader, peer_pid: int) -> bytes:
        """A registered ssh (the registering proxy's parent) may become a ControlMaster under this ControlPath
        name: its backgrounded master forwards with the session's upstream agent (see `_upstream`)."""
        pid, name = reader.u32(), reader.text()
        reader.end()
        try:
            token = check_owner(pid, peer_pid)
        except ValueError as exc:
            log.warning("refused a master name for pid %d: %s", pid, exc)
            return _FAILURE
        upstream = self.registry.upstream(pid, token)
        if not _CONTROL_NAME.fullmatch(name) or not upstream:
            return _FAILURE
        self.registry.note_master(name, upstream)
        return _SUCCESS

    def _upstream(self, pid: int, token: Optional[str]) -> Optional[str]:
        """The user's own agent that *pid* may use: its session's (`--forward-agent`), or, for the ControlMaster
        ssh backgrounded after a registered session logged in (ControlPersist: a forked, re-parented child
        that no proxy registered, titled "ssh: <ControlPath> [mux]"), the one its session was registered
        with.  Only ever the user's own agent, which any process of the user can reach anyway: never a key."""
        found = self.registry.upstream(pid, token)
        if found is None and self.registry.masters():
            title = peer.command_line(pid)
            named = _MASTER_TITLE.fullmatch(title or "")
            if named and os.path.realpath(named.group(1)) == os.path.realpath(self.rundir):
                found = self.registry.master_upstream(named.group(2))
        return found

    def _status(self) -> bytes:
        sessions, held = self.registry.counts()
        text = json.dumps({"pid": os.getpid(), "sessions": sessions, "keys": held, "version": STATUS_VERSION,
                           "dumpable": harden.dumpable(self.protected), "socket": self._net.inode(self.socket_path)})
        return wire.message(wire.AGENT_SUCCESS, wire.string(text))


def check_owner(pid: int, peer_pid: int) -> Optional[str]:
    """Accept a registration for *pid* only from its child (the proxy registers its ssh); the start token.

    Refused: pid 0 or 1 (the proxy was orphaned), a pid that is not the registering process's parent (ssh
    died and the proxy was re-parented, or someone registers for a process not theirs), a process gone.
    """
    if not 2 <= pid < 2**31:
        raise ValueError(f"pid {pid} is out of range")
    parent = peer.parent_pid(peer_pid)
    if parent != pid:
        raise ValueError(f"process {pid} is not the parent of the registering process {peer_pid} ({parent})")
    token = peer.start_token(pid)
    if not peer.process_alive(pid, token) or (token is None and sys.platform.startswith("linux")):
        raise ValueError(f"process {pid} is not running")
    return token


def _same_user(link: listener.Link) -> Optional[peer.Peer]:
    who = peer.peer_credentials(link.sock)
    if who.uid != os.getuid():
        log.warning("refused a connection from uid %d (pid %d)", who.uid, who.pid)
        return None
    return who


def _stop_old_agent(path: Path) -> bool:
    """Something answers on agent.sock but not on control.sock; True when we may take agent.sock.

    An agent of an earlier version (one socket) is asked to stop and waited for.  An agent of this version
    refuses the request there (management is on control.sock only): it lost its control socket and is
    taken over at once."""
    try:
        reply = forward.ask(str(path), wire.message(wire.EXTENSION, wire.string(wire.STOP)))
    except OSError:
        reply = None
    if reply == _FAILURE:
        log.info("the agent on %s lost its control socket: taking its place", path)
        return True
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if not listener.answers(path):
            log.info("stopped the earlier agent on %s", path)
            return True
        time.sleep(0.05)
    return False


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}"
    return str(exc)
