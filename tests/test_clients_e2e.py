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
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, make_world, safe_tmp_root, wait_for

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


# ----- JSch and Node's ssh2: where a JDK or node exists ------------------------------------------------------
JSCH_JARS = ["jsch.jar", "jsch.agentproxy.core.jar", "jsch.agentproxy.jsch.jar", "jsch.agentproxy.sshagent.jar"]
DEBIAN_JAVA = Path("/usr/share/java")


@pytest.fixture(scope="module")
def jsch_recipe(tmp_path_factory):
    """JobSsh.java from docs/clients.md, compiled against Debian's JSch and jsch-agent-proxy."""
    if not (shutil.which("javac") and shutil.which("java")):
        pytest.skip("no JDK here (javac, java): the JSch recipe is not run")
    jars = [DEBIAN_JAVA / name for name in JSCH_JARS]
    if not all(jar.exists() for jar in jars):
        pytest.skip("JSch is not installed here: apt-get install libjsch-java libjsch-agent-proxy-java")
    build = tmp_path_factory.mktemp("jsch")
    (build / "JobSsh.java").write_text(recipe("JobSsh.java"))
    classpath = ":".join(map(str, jars))
    done = subprocess.run(["javac", "-cp", classpath, "JobSsh.java"], cwd=build, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return ["java", "-cp", f"{classpath}:{build}", "JobSsh"]


@pytest.fixture(scope="module")
def ssh2_recipe(tmp_path_factory):
    """job_ssh.js from docs/clients.md, with ssh2 from the npm registry (cached beside the test homes)."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("no node/npm here: the ssh2 recipe is not run")
    modules = safe_tmp_root() / "npm-ssh2"
    if not (modules / "node_modules" / "ssh2" / "package.json").exists():
        modules.mkdir(mode=0o700, exist_ok=True)
        done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(modules), "ssh2@1"],
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.skip(f"npm could not install ssh2: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    script = tmp_path_factory.mktemp("ssh2") / "job_ssh.js"
    script.write_text(recipe("job_ssh.js"))
    return ["env", f"NODE_PATH={modules / 'node_modules'}", "node", str(script)]


@pytest.mark.parametrize("master", [False, True], ids=["alone", "with-controlmaster"])
@pytest.mark.parametrize("jobs", [[0] * 5, [0, 1, 2, 3, 4]], ids=["five-to-one-job", "five-jobs"])
@pytest.mark.parametrize("client", ["jsch", "ssh2"])
def test_jsch_and_ssh2_connections_all_log_in(pool, request, client, jobs, master):
    command = request.getfixturevalue(f"{client}_recipe")
    first = HOST.format(pool.jobs[0])
    if master:
        pool.ssh(first, "true")
    try:
        hosts = [HOST.format(pool.jobs[i]) for i in jobs]
        done = pool.run([*command, str(pool.ssh_config), "echo $PWD", *hosts], check=False, timeout=300)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == [f"{h}\t{pool.sandbox(pool.jobs[i])}" for h, i in zip(hosts, jobs)], \
            done.stderr
    finally:
        if master:
            pool.run(pool.ssh_argv("-O", "exit", first), check=False)
    assert wait_for(lambda: pool.known_hosts_lines() == [], timeout=15), pool.known_hosts_lines()


# ----- the naive ways docs/clients.md warns about fail as it says ------------------------------------------
NAIVE = {  # name: (code run with argv ssh_config host, what its last error line says)
    "paramiko-known-hosts-loaded-first": ('''
import os, paramiko, sys
o = paramiko.SSHConfig.from_path(sys.argv[1]).lookup(sys.argv[2])
os.environ["SSH_AUTH_SOCK"] = o["identityagent"]
c = paramiko.SSHClient()
c.load_host_keys(o["userknownhostsfile"])
c.connect(sys.argv[2], sock=paramiko.ProxyCommand(o["proxycommand"]), look_for_keys=False)
''', ("not found in known_hosts", "No such file or directory")),
    "paramiko-without-the-agent": ('''
import paramiko, socket, sys
o = paramiko.SSHConfig.from_path(sys.argv[1]).lookup(sys.argv[2])
class Checked(paramiko.MissingHostKeyPolicy):
    def missing_host_key(self, client, hostname, key):
        assert paramiko.HostKeys(o["userknownhostsfile"].replace("%l", socket.gethostname())).check(hostname, key)
c = paramiko.SSHClient()
c.set_missing_host_key_policy(Checked())
c.connect(sys.argv[2], sock=paramiko.ProxyCommand(o["proxycommand"]), look_for_keys=False)
''', ("No authentication methods available",)),
    "fabric-as-it-comes": ('''
import os, sys
from fabric import Config, Connection
c = Connection(sys.argv[2], config=Config(runtime_ssh_path=sys.argv[1]))
os.environ["SSH_AUTH_SOCK"] = c.ssh_config["identityagent"]
c.run("true", hide=True)
''', ("No such file or directory: 'none'",)),
    "asyncssh-known-hosts-at-start": ('''
import asyncio, sys, asyncssh
async def main():
    async with asyncssh.connect(sys.argv[2], config=[sys.argv[1]]) as c:
        await c.run("true")
asyncio.run(main())
''', ("Host key is not trusted", "No such file or directory")),  # the latter: it reads %l in the path as is
}


@pytest.mark.parametrize("naive", list(NAIVE))
def test_the_naive_way_fails_as_the_doc_says(pool, naive):
    pytest.importorskip(naive.split("-")[0])
    code, says = NAIVE[naive]
    done = pool.run([sys.executable, "-c", code, str(pool.ssh_config), HOST.format(pool.jobs[0])], check=False,
                    timeout=120)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert any(text in last for text in says), done.stderr
