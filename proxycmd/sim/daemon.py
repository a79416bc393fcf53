"""The simulated pool's daemon: `python -m proxycmd.sim.daemon --root DIR` serves the queue (queue.py) on
`<root>/pool.sock`.  Clients speak `protocol`: one request, one reply, each on its own connection and thread.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import List, Optional, Sequence

from . import protocol, rootdir, starter
from .jobad import NEXT_CLUSTER
from .queue import Pool, Refused, remove_entries

POOL_SOCKET = "pool.sock"
POOL_PID = "pool.pid"
POOL_LOG = "pool.log"


def handle(pool: Pool, conn: socket.socket) -> None:
    """Answer one client's request on *conn* (one request, one reply, then the connection is closed)."""
    with conn:
        try:
            request, fds = protocol.recv(conn)
        except (protocol.ProtocolError, OSError):
            return
        for fd in fds:
            os.close(fd)
        try:
            reply, send_fds, keep = dispatch(pool, request)
        except Refused as exc:
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


def dispatch(pool: Pool, request: dict):
    """(reply, descriptors to send, what to close after sending) for one request."""
    op = request.get("op")
    if op == "ping":
        return {"ok": True, "pid": os.getpid()}, [], None
    if op == "submit":
        job = pool.submit(list(request.get("cmd") or []), dict(request.get("env") or {}),
                          bool(request.get("idle")), request.get("owner"), request.get("batch_name") or "",
                          request.get("schedd"))
        return {"ok": True, "job": job.describe()}, [], None
    if op == "submit_description":
        job = pool.submit_description({str(k): str(v) for k, v in dict(request.get("description") or {}).items()},
                                      request.get("owner"), request.get("schedd"))
        return {"ok": True, "job": job.describe()}, [], None
    if op == "list":  # one schedd's queue when the request names one, else every job of the pool
        with pool.lock:
            name = pool.schedd(request.get("schedd")) if request.get("schedd") is not None else None
            jobs = [j.describe() for j in pool.jobs.values() if name in (None, j.schedd)]
            return {"ok": True, "jobs": jobs}, [], None
    if op == "schedds":
        return {"ok": True, "schedds": list(pool.schedds), "default": pool.default_schedd}, [], None
    if op == "stop":
        pool.shutdown()
        return {"ok": True}, [], None
    job = pool.find(int(request.get("cluster", 0)), int(request.get("proc", 0)), request.get("schedd"))
    if op == "session":
        started = pool.session(job, list(request.get("keygen_options") or []), list(request.get("shells") or []))
        reply = {"ok": True, "user": started.user, "host_key": started.host_key,
                 "private_key": started.private_key, "directory": str(started.directory)}
        return reply, [started.sock.fileno()], started.sock
    with pool.lock:
        if op == "hold":
            pool.hold(job, request.get("reason") or "")
        elif op == "release":
            pool.release(job)
        elif op == "rm":
            pool.remove(job)
        elif op == "status":
            pass
        else:
            raise ValueError(f"unknown request {op!r}")
        return {"ok": True, "job": job.describe()}, [], None


def serve(root: Path, keygen_options: List[str], created_root: bool = False, idle_delay: float = 0.0,
          schedds: Sequence[str] = ()) -> int:
    try:
        pool = Pool(root, keygen_options, created_root, idle_delay, schedds)
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
            handler = threading.Thread(target=handle, args=(pool, conn), daemon=True)
            handler.start()
            handlers = [h for h in handlers if h.is_alive()] + [handler]
    finally:
        pool.shutdown()
        listener.close()
        deadline = time.monotonic() + 5
        for handler in handlers:  # the `stop` request among them still has to say it is done
            handler.join(max(0.0, deadline - time.monotonic()))
        pool.clean_up()
        remove_entries(root, [POOL_PID, POOL_SOCKET], rmdir=False)  # the socket last: `stop` waits for it
        if created_root:
            remove_entries(root, [POOL_LOG] + [NEXT_CLUSTER + pool._suffix(name) for name in pool.schedds], rmdir=True)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proxycmd.sim.daemon",
                                     description="Run the simulated pool's daemon in the foreground.")
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--keygen-options", default="", help="extra ssh-keygen options for every session")
    parser.add_argument("--created-root", action="store_true", help="the root is ours to remove at stop")
    parser.add_argument("--idle-delay", type=float, default=0.0, help="seconds a new job stays idle before it runs")
    parser.add_argument("--schedd", action="append", default=[], help="a named schedd besides the default one")
    args = parser.parse_args(argv)
    root = Path(os.path.abspath(args.root))  # not resolve(): a symlinked root is refused, not followed
    try:
        options = starter.parse_keygen_options(args.keygen_options)
    except starter.StarterError as exc:
        print(f"the simulated pool cannot start: {exc}", file=sys.stderr)
        return 1
    return serve(root, options, args.created_root, args.idle_delay, args.schedd)


if __name__ == "__main__":
    sys.exit(main())
