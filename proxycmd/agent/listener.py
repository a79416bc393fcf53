"""The agent's sockets and connections: accept, read whole requests, keep slow or idle clients from starving others.

Each listening socket has a handler, called in a thread per connection with a `Link`.  A link reads one
request at a time into a bytearray (which the handler may wipe) and writes replies.  Rules that keep one
client from blocking the rest:

- the listen backlog is SOMAXCONN, so a burst of connections waits in the kernel instead of failing;
- a connection may idle between requests (ssh keeps its agent connection open), but once a request has
  started it must be complete within REQUEST_DEADLINE seconds;
- at MAX_CONNECTIONS on one socket, a newcomer is taken and that socket's connection idle the longest
  (one being answered only when none is idle; never one the handler asks to keep: ssh's own connection
  while its session's signature is pending) is closed to make room, and a newcomer the handler admits
  (ssh's own, with a signature pending) is taken even past the limit (the registered sessions bound those); each socket has its own
  table, so a flood of connections to the agent socket never closes a registration on the control socket;
- a held connection (a relayed session lives as long as it) has no idle limit and is never evicted;
- each wake-up accepts at most ACCEPTS_PER_TURN connections from one socket, so a flood of connections on
  the agent socket cannot keep the control socket (registrations) waiting.
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import struct
import _thread
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from . import wire

log = logging.getLogger("proxycmd.agent")

IDLE_TIMEOUT = 600.0  # a connection silent this long between requests is closed
REQUEST_DEADLINE = 5.0  # a started request must be complete within this
MAX_CONNECTIONS = 256
ACCEPTS_PER_TURN = 16  # then the other sockets get their turn: a flood on one never starves the rest
_WAITING, _READING, _ANSWERING, _HELD = "waiting", "reading", "answering", "held"
_U32 = struct.Struct(">I")


class Link:
    """One accepted connection as the handler sees it."""

    def __init__(self, sock: socket.socket, kind: str) -> None:
        self.sock = sock
        self.kind = kind
        self.state = _WAITING
        self.since = time.monotonic()
        self.peer = None  # set by the handler: whatever its `keep` test needs (the agent: pid and start token)
        self.opened = self.since
        self.asked = False  # has a request begun on it yet?

    def _set(self, state: str) -> None:
        self.state, self.since = state, time.monotonic()

    def read_request(self, held: bool = False) -> Optional[bytearray]:
        """The next request body, or None when the client hung up between requests.  *held*: the wait
        for it has no idle limit and the connection is never evicted meanwhile (a relay holds it).

        Raises WireError for a bad frame and OSError (TimeoutError) when the client is too slow.
        """
        self._set(_HELD if held else _WAITING)
        head = bytearray(4)
        self.sock.settimeout(None if held else IDLE_TIMEOUT)
        got = self.sock.recv_into(head)
        if got == 0:
            return None
        self.asked = True
        self._set(_READING)
        deadline = time.monotonic() + REQUEST_DEADLINE
        self._fill(memoryview(head)[got:], deadline)
        length = _U32.unpack(head)[0]
        if length == 0 or length > wire.MAX_MESSAGE:
            raise wire.WireError(f"frame length {length} is out of range")
        body = bytearray(length)
        self._fill(memoryview(body), deadline)
        self._set(_ANSWERING)
        return body

    def _fill(self, view: memoryview, deadline: float) -> None:
        while len(view):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the request did not arrive in time")
            self.sock.settimeout(left)
            got = self.sock.recv_into(view)
            if got == 0:
                raise wire.WireError("frame is cut short")
            view = view[got:]

    def reply(self, payload: bytes) -> None:
        self.sock.settimeout(REQUEST_DEADLINE)
        self.sock.sendall(wire.frame(payload))
        self._set(_WAITING)


Handler = Callable[[Link], None]


class Listener:
    """Listening sockets, one thread per connection, the connection table, and the main loop."""

    def __init__(self) -> None:
        self._listeners: List[Tuple[socket.socket, str, Path, Tuple[int, int]]] = []
        self._handlers: Dict[str, Handler] = {}
        self._links: Dict[int, Link] = {}
        self.keep: Callable[[Link], bool] = lambda link: False  # never evicted while this says so
        self.admit: Callable[[Link], bool] = lambda link: False  # a newcomer taken even past MAX_CONNECTIONS
        self._lock = threading.Lock()
        self._last_activity = time.monotonic()
        self._stop = threading.Event()
        self._swaps: List[Tuple[socket.socket, socket.socket, str]] = []  # (old, new, kind) for the main loop
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)

    # -- sockets --------------------------------------------------------------------------------------------

    def listen(self, path: Path, kind: str, handler: Handler, replace: bool = False) -> None:
        """Bind a 0600 socket at *path* and serve it with *handler*.

        The socket is bound under a temporary name and then linked into place (*path* must not exist, else
        FileExistsError: two agents racing for it cannot both get it) or, with *replace*, renamed over
        whatever is there.  Either way *path* never names a socket that is not listening yet."""
        sock, inode = _bound(path, replace)
        self._listeners.append((sock, kind, path, inode))
        self._handlers[kind] = handler

    def replace(self, path: Path, exclusive: bool = False) -> None:
        """Listen on a fresh socket at *path* (one of ours), renamed over whatever is there now, so a removed
        or foreign socket file is healed with no moment at which *path* is missing (*exclusive*: linked,
        FileExistsError when the path exists).  The main loop swaps the new socket in."""
        with self._lock:
            for index, (old, kind, ours, _inode) in enumerate(self._listeners):
                if ours == path:
                    sock, inode = _bound(path, not exclusive)
                    self._listeners[index] = (sock, kind, path, inode)
                    self._swaps.append((old, sock, kind))
                    break
            else:
                raise ValueError(f"{path} is not one of our sockets")
        self._wake()

    def remove_sockets(self) -> None:
        """Close the listening sockets and remove each path that is still ours (not replaced meanwhile)."""
        for sock, _kind, path, inode in self._listeners:
            sock.close()
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == inode:
                try:
                    os.unlink(path)
                except OSError:
                    pass

    def inode(self, path: Path) -> Optional[List[int]]:
        """[st_dev, st_ino] of the socket we listen on at *path*."""
        return next(([*inode] for _sock, _kind, ours, inode in self._listeners if ours == path), None)

    def socket_is_ours(self, path: Path) -> bool:
        for _sock, _kind, ours, inode in self._listeners:
            if ours == path:
                try:
                    st = os.lstat(path)
                except OSError:
                    return False
                return (st.st_dev, st.st_ino) == inode
        return False

    # -- main loop ------------------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask the main loop to finish (safe from signal handlers and other threads)."""
        self._stop.set()
        self._wake()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def run(self, tick: float, housekeeping: Callable[[float], bool]) -> None:
        """Accept until stopped, or until *housekeeping* (called every *tick* s) returns True."""
        selector = selectors.DefaultSelector()
        for sock, kind, _path, _inode in self._listeners:
            selector.register(sock, selectors.EVENT_READ, kind)
        selector.register(self._wake_r, selectors.EVENT_READ, None)
        next_housekeeping = 0.0
        try:
            while not self._stop.is_set():
                for key, _ in selector.select(tick):
                    if key.data is None:
                        _drain(self._wake_r)
                        self._swap_in(selector)
                    else:
                        self._accept_all(key.fileobj, key.data)
                now = time.monotonic()
                if now >= next_housekeeping:
                    next_housekeeping = now + tick
                    if housekeeping(now):
                        break
        finally:
            selector.close()

    def _swap_in(self, selector) -> None:
        with self._lock:
            swaps, self._swaps = self._swaps, []
        for old, new, kind in swaps:
            try:
                selector.unregister(old)
            except (KeyError, ValueError):
                pass
            old.close()
            selector.register(new, selectors.EVENT_READ, kind)

    def idle_for(self, now: float) -> float:
        """Seconds since the last connection ended or request arrived; 0 while any connection is open."""
        with self._lock:
            return 0.0 if self._links else now - self._last_activity

    def _accept_all(self, listener, kind: str) -> None:
        for _turn in range(ACCEPTS_PER_TURN):
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # ECONNABORTED, or out of descriptors: try again on the next wake-up
                log.info("accept failed: %s", exc.strerror or exc)
                return
            link = Link(sock, kind)
            with self._lock:
                self._last_activity = time.monotonic()
                if self._count(kind) >= MAX_CONNECTIONS and not self.admit(link) and not self._evict_one(kind):
                    sock.close()
                    continue
                self._links[id(link)] = link
            try:  # not threading.Thread.start(): it waits until the new thread runs, one burst newcomer at a time
                _thread.start_new_thread(self._serve, (link,))
            except RuntimeError:  # cannot start a thread: give the slot back
                with self._lock:
                    self._links.pop(id(link), None)
                sock.close()

    def _count(self, kind: str) -> int:
        return sum(1 for link in self._links.values() if link.kind == kind)

    def _evict_one(self, kind: str) -> bool:
        """Close the connection to *kind* idle the longest (one being answered only when none idles) that
        `keep` does not hold; called with the lock held."""
        candidates = sorted((link for link in self._links.values() if link.kind == kind and link.state != _HELD),
                            key=lambda link: (link.state == _ANSWERING, link.since))
        oldest = next((link for link in candidates if not self.keep(link)), None)
        if oldest is None:
            return False
        del self._links[id(oldest)]
        try:
            oldest.sock.shutdown(socket.SHUT_RDWR)  # its thread wakes up and ends
        except OSError:
            pass
        return True

    def _serve(self, link: Link) -> None:
        try:
            with link.sock:
                self._handlers[link.kind](link)
        except (OSError, wire.WireError) as exc:
            log.info("connection closed: %s", exc)
        finally:
            with self._lock:
                self._links.pop(id(link), None)
                self._last_activity = time.monotonic()

    def touch(self) -> None:
        with self._lock:
            self._last_activity = time.monotonic()


def _bound(path: Path, replace: bool) -> Tuple[socket.socket, Tuple[int, int]]:
    """A listening 0600 socket bound at a temporary name beside *path*, then renamed to *path* (*replace*)
    or hard-linked there (FileExistsError when *path* exists)."""
    temp = str(path.with_name(f".{path.name[0]}{os.getpid()}"))  # no longer than the name: it must fit too
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            os.unlink(temp)  # left by a crashed agent that had our pid
        except FileNotFoundError:
            pass
        old_umask = os.umask(0o177)
        try:
            sock.bind(temp)
        finally:
            os.umask(old_umask)
        try:
            os.chmod(temp, 0o600)
            sock.listen(socket.SOMAXCONN)
            (os.replace if replace else os.link)(temp, path)
        finally:
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass
        st = os.lstat(path)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock, (st.st_dev, st.st_ino)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except OSError:
        pass


def answers(path: Path) -> bool:
    """Does something accept connections on *path*?"""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(2.0)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True
