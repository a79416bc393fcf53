"""SSH libraries through the block, driven by the recipes of docs/clients.md exactly as printed there.

Each scenario runs in a process of its own (the agent serves a key only to the process that started the
proxy): paramiko three times in a row to one job, five threads at once to one job and to five jobs,
asyncssh five connections at once, Fabric's ThreadingGroup over five jobs; each also with an OpenSSH
ControlMaster to the first job alive, as VS Code would hold it.  Every connection must log in and run a
command in its own job's sandbox.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, make_world, wait_for

pytestmark = pytest.mark.e2e

CLIENTS_DOC = REPO / "docs" / "clients.md"
HOST = "{}.job.condor"


def recipe(name: str) -> str:
    """The code block that follows ``<!-- recipe: NAME -->`` in docs/clients.md."""
    found = re.search(rf"<!-- recipe: {re.escape(name)} -->\n```\w*\n(.*?)\n```\n", CLIENTS_DOC.read_text(), re.S)
    assert found, f"docs/clients.md has no recipe {name}"
    return found.group(1) + "\n"


# The scenario driver: loads a recipe as a module and connects the way the scenario says; prints one result
# per host (the command's output, or the error), in the order given.
DRIVER = r'''
import importlib.util, json, sys, threading
kind, scenario, path, ssh_config, *hosts = sys.argv[1:]
spec = importlib.util.spec_from_file_location("recipe", path)
recipe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(recipe)
COMMAND = "echo $PWD"

def failed(exc):
    return f"error: {type(exc).__name__}: {exc}"

def paramiko_one(host):
    try:
        with recipe.connect_to_job(host, ssh_config, timeout=60) as client:
            _, out, _ = client.exec_command(COMMAND)
            return out.read().decode().strip()
    except Exception as exc:
        return failed(exc)

def at_once(function, hosts):
    results, barrier = [None] * len(hosts), threading.Barrier(len(hosts))
    def run(index):
        barrier.wait()
        results[index] = function(hosts[index])
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(hosts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results

if kind == "paramiko":
    results = [paramiko_one(h) for h in hosts] if scenario == "row" else at_once(paramiko_one, hosts)
elif kind == "asyncssh":
    import asyncio
    async def one(host):
        try:
            async with await recipe.connect_to_job(host, ssh_config) as conn:
                return (await conn.run(COMMAND, check=True)).stdout.strip()
        except Exception as exc:
            return failed(exc)
    async def main():
        return await asyncio.gather(*map(one, hosts))
    results = asyncio.run(main())
elif kind == "fabric":
    from fabric import ThreadingGroup
    from fabric.exceptions import GroupException
    connections = [recipe.job_connection(h, ssh_config) for h in hosts]
    try:
        outcome = ThreadingGroup.from_connections(connections).run(COMMAND, hide=True)
    except GroupException as exc:
        outcome = exc.result
    results = []
    for conn in connections:
        got = outcome[conn]
        results.append(failed(got) if isinstance(got, Exception) else got.stdout.strip())
print(json.dumps(results))
'''


@pytest.fixture(scope="module")
def pool():
    """One user with a multiplexed block (ControlMaster on, as by default) and five running jobs."""
    gen = make_world(multiplex=True, backend="sim")
    world = next(gen)
    world.jobs = [world.submit("sleep", "3600") for _ in range(5)]
    yield world
    gen.close()


def _drive(world, tmp_path: Path, kind: str, scenario: str, hosts) -> list:
    name = {"paramiko": "paramiko_job.py", "fabric": "fabric_job.py", "asyncssh": "asyncssh_job.py"}[kind]
    path = tmp_path / name
    path.write_text(recipe(name))
    done = world.run([sys.executable, "-c", DRIVER, kind, scenario, str(path), str(world.ssh_config), *hosts],
                     check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


SCENARIOS = {  # name: (library, how, which jobs by index)
    "paramiko-three-in-a-row": ("paramiko", "row", [0, 0, 0]),
    "paramiko-five-threads-one-job": ("paramiko", "threads", [0] * 5),
    "paramiko-five-threads-five-jobs": ("paramiko", "threads", [0, 1, 2, 3, 4]),
    "asyncssh-five-at-once-one-job": ("asyncssh", "gather", [0] * 5),
    "asyncssh-five-at-once-five-jobs": ("asyncssh", "gather", [0, 1, 2, 3, 4]),
    "fabric-threadinggroup-five-jobs": ("fabric", "group", [0, 1, 2, 3, 4]),
}


@pytest.mark.parametrize("master", [False, True], ids=["alone", "with-controlmaster"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_library_connections_all_log_in(pool, tmp_path, scenario, master):
    kind, how, which = SCENARIOS[scenario]
    pytest.importorskip(kind)
    first = HOST.format(pool.jobs[0])
    if master:  # a ControlMaster to the first job, kept alive by ControlPersist, as VS Code holds one
        pool.ssh(first, "true")
        assert pool.run(pool.ssh_argv("-O", "check", first), check=False).returncode == 0
    try:
        hosts = [HOST.format(pool.jobs[i]) for i in which]
        results = _drive(pool, tmp_path, kind, how, hosts)
        assert results == [str(pool.sandbox(pool.jobs[i])) for i in which]
    finally:
        if master:
            pool.run(pool.ssh_argv("-O", "exit", first), check=False)
    # every relayed session ended with its connection: only lines of live sessions stay
    assert wait_for(lambda: pool.known_hosts_lines() == [], timeout=15), pool.known_hosts_lines()
