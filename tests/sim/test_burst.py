"""A burst (issue 8, item 2): 200 simultaneous `ssh JOB 'echo ok'` to one job, multiplexing off, all succeed.

Every piece takes the whole burst at once: 200 ProxyCommands ask the simulated pool for 200 sessions (200
ssh-keygen and 200 `sshd -i` on the execute side), and register 200 keys with the agent.  ECDSA session keys
keep 200 key generations from dominating on a small machine.  Afterwards the pool has removed every session
directory and the agent holds no key.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from conftest import wait_for
from test_e2e import assert_clean

HOST = "{}.job.condor"
BURST = 200

pytestmark = [pytest.mark.e2e, pytest.mark.world(backends=["sim"], keygen_options="-t ecdsa")]


def test_two_hundred_simultaneous_connects_to_one_job(world):
    job = world.submit("sleep", "3600")
    argv = world.ssh_argv("-o", "ConnectTimeout=300", HOST.format(job), "echo ok")
    started = time.monotonic()
    procs = [subprocess.Popen(argv, env=world.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(BURST)]
    results = [(p.wait(600), *p.communicate()) for p in procs]
    elapsed = time.monotonic() - started
    failed = [(code, err.strip().splitlines()[-6:]) for code, out, err in results
              if code != 0 or out.strip() != "ok"]
    print(f"burst of {BURST}: {BURST - len(failed)} succeeded in {elapsed:.1f} s")
    assert failed == [], f"{len(failed)} of {BURST} failed, e.g. {failed[:5]}"
    assert wait_for(lambda: not list(world.sandbox(job).glob(".condor_ssh_to_job_*")), timeout=60), \
        len(list(world.sandbox(job).glob(".condor_ssh_to_job_*")))
    assert_clean(world)


def test_two_hundred_simultaneous_session_requests_to_the_pool():
    """The pool's side alone: 200 requests at once each get their own session directory and a live sshd,
    and every directory goes when its connection closes."""
    import shutil
    import tempfile
    import threading
    from pathlib import Path

    from proxycmd.sim.client import SimPool

    root = Path(tempfile.mkdtemp(prefix="cjp-b-", dir="/tmp"))
    pool = SimPool(root)
    pool.start(keygen_options="-t ecdsa")
    try:
        job = pool.submit(["sleep", "600"])
        results, errors = [], []
        gate = threading.Barrier(BURST)

        def ask():
            gate.wait()
            try:
                reply, sock = pool.open_session(job["cluster"], 0)
                results.append((reply["directory"], sock, sock.recv(8)))
            except Exception as exc:  # collected, reported below
                errors.append(repr(exc))

        threads = [threading.Thread(target=ask) for _ in range(BURST)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
        assert errors == []
        assert len({directory for directory, _, _ in results}) == BURST  # race-free numbering
        assert all(banner == b"SSH-2.0-" for _, _, banner in results)
        for _, sock, _ in results:
            sock.close()
        sandbox = Path(job["sandbox"])
        assert wait_for(lambda: not list(sandbox.glob(".condor_ssh_to_job_*")), timeout=120)
    finally:
        pool.stop()
        shutil.rmtree(root, ignore_errors=True)


# ----- a same-user flood of agent connections while ssh sessions authenticate -------------------------------
# Keeps more connections open to agent.sock than the agent's table holds, each asking for keys again and
# again (so each looks freshly used), and opens new ones all the time: every newcomer makes the agent close
# the connection idle the longest.  Prints how many of its connections the agent closed.
FLOODER = r'''
import selectors, socket, struct, sys
path, keep = sys.argv[1], int(sys.argv[2])
ask = struct.pack(">I", 1) + bytes([11])
sel = selectors.DefaultSelector()
sel.register(sys.stdin, selectors.EVENT_READ, None)
open_, closed = 0, 0
print("flooding", flush=True)
while True:
    while open_ < keep:
        conn = socket.socket(socket.AF_UNIX)
        conn.settimeout(5)
        try:
            conn.connect(path)
            conn.sendall(ask)
        except OSError:
            conn.close()
            break
        conn.setblocking(False)
        sel.register(conn, selectors.EVENT_READ, conn)
        open_ += 1
    for key, _ in sel.select(0.01):
        if key.data is None:
            print(closed, flush=True)
            sys.exit(0)
        try:
            data = key.data.recv(4096)
        except OSError:
            data = b""
        if not data:  # the agent closed it to make room
            sel.unregister(key.data)
            key.data.close()
            open_, closed = open_ - 1, closed + 1
            continue
        try:
            key.data.sendall(ask)
        except OSError:
            pass
'''


def test_a_flood_of_agent_connections_does_not_fail_ssh_sessions(world):
    """Another program of the user holds more agent connections than the agent's table (256) and keeps
    opening new ones, so the agent keeps closing the connection idle the longest.  ssh's own connection
    waits idle between listing its key and signing (the server's answer): it must never be the one
    closed while its session's key is unused, so all 40 sessions log in."""
    from proxycmd import paths
    from proxycmd.agent import client, listener

    job = world.submit("sleep", "3600")
    assert world.ssh(HOST.format(job), "echo ok").stdout.strip() == "ok"  # the agent runs
    flooder = subprocess.Popen([sys.executable, "-c", FLOODER, str(paths.agent_socket(world.rundir)),
                                str(listener.MAX_CONNECTIONS + 64)], env=world.env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert flooder.stdout.readline().strip() == "flooding"
        argv = world.ssh_argv("-o", "ConnectTimeout=300", HOST.format(job), "echo ok")
        failed = []
        for _ in range(5):  # 40 sessions, 8 at a time
            procs = [subprocess.Popen(argv, env=world.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for _ in range(8)]
            for proc in procs:
                out, err = proc.communicate(timeout=300)
                if proc.returncode != 0 or out.strip() != "ok":
                    failed.append(err.strip().splitlines()[-1:])
    finally:
        out, _ = flooder.communicate("stop\n", timeout=60)
    assert int(out.strip() or 0) > 100, "the flood must have made the agent close connections"
    assert failed == [], f"{len(failed)} of 40 failed: {failed[:5]}"
    assert client.status(world.rundir)["keys"] == 0
