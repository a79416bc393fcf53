"""SSH libraries through the block, driven by the recipes of docs/clients.md exactly as printed there.

Each scenario runs in a process of its own (the agent serves a key only to the process that started the
proxy): paramiko three times in a row to one job, five threads at once to one job and to five jobs,
asyncssh five connections at once, Fabric's ThreadingGroup over five jobs; each also with an OpenSSH
ControlMaster to the first job alive, as VS Code would hold it.  Every connection must log in and run a
command in its own job's sandbox.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, safe_tmp_root, wait_for
from test_e2e import own_agent

# One user with a multiplexed block (ControlMaster on, as by default) and five running jobs, for the module.
pytestmark = [pytest.mark.e2e, pytest.mark.world(backends=["sim"], multiplex=True, scope="module")]

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


@pytest.fixture(autouse=True)
def _five_jobs(world):
    """The module's world runs five jobs (world.jobs), submitted once."""
    if not hasattr(world, "jobs"):
        world.jobs = [world.submit("sleep", "3600") for _ in range(5)]


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
def test_library_connections_all_log_in(world, tmp_path, scenario, master):
    kind, how, which = SCENARIOS[scenario]
    pytest.importorskip(kind)
    first = HOST.format(world.jobs[0])
    if master:  # a ControlMaster to the first job, kept alive by ControlPersist, as VS Code holds one
        world.ssh(first, "true")
        assert world.run(world.ssh_argv("-O", "check", first), check=False).returncode == 0
    try:
        hosts = [HOST.format(world.jobs[i]) for i in which]
        results = _drive(world, tmp_path, kind, how, hosts)
        assert results == [str(world.sandbox(world.jobs[i])) for i in which]
    finally:
        if master:
            world.run(world.ssh_argv("-O", "exit", first), check=False)
    # every relayed session ended with its connection: only lines of live sessions stay
    assert wait_for(lambda: world.known_hosts_lines() == [], timeout=15), world.known_hosts_lines()


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
def test_jsch_and_ssh2_connections_all_log_in(world, request, client, jobs, master):
    command = request.getfixturevalue(f"{client}_recipe")
    first = HOST.format(world.jobs[0])
    if master:
        world.ssh(first, "true")
    try:
        hosts = [HOST.format(world.jobs[i]) for i in jobs]
        done = world.run([*command, str(world.ssh_config), "echo $PWD", *hosts], check=False, timeout=300)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == [f"{h}\t{world.sandbox(world.jobs[i])}" for h, i in zip(hosts, jobs)], \
            done.stderr
    finally:
        if master:
            world.run(world.ssh_argv("-O", "exit", first), check=False)
    assert wait_for(lambda: world.known_hosts_lines() == [], timeout=15), world.known_hosts_lines()


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
def test_the_naive_way_fails_as_the_doc_says(world, naive):
    pytest.importorskip(naive.split("-")[0])
    code, says = NAIVE[naive]
    done = world.run([sys.executable, "-c", code, str(world.ssh_config), HOST.format(world.jobs[0])], check=False,
                    timeout=120)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert any(text in last for text in says), done.stderr


# ----- a library that forwards its agent into one job while it connects to others ----------------------------
# The thief runs in job A with the agent paramiko forwards there: until its stdin closes it lists the keys
# it is offered and asks each for a signature of its own choosing; then it prints what it saw.
THIEF = r'''
import json, os, select, socket, struct, sys
def ask(payload):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(os.environ["SSH_AUTH_SOCK"])
        s.sendall(struct.pack(">I", len(payload)) + payload)
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
            got = s.recv(65536)
            if not got:
                break
            data += got
        return data[4:]
def string(b):
    return struct.pack(">I", len(b)) + b
offered, signed, asked = set(), set(), 0
print("ready", flush=True)
while not select.select([sys.stdin], [], [], 0.005)[0]:
    try:
        reply = ask(bytes([11]))
        asked += 1
        count, at = struct.unpack(">I", reply[1:5])[0], 5
        for _ in range(count):
            n = struct.unpack(">I", reply[at:at + 4])[0]; blob = reply[at + 4:at + 4 + n]; at += 4 + n
            n = struct.unpack(">I", reply[at:at + 4])[0]; at += 4 + n
            offered.add(blob.hex())
            data = string(b"x" * 32) + bytes([50]) + string(b"data of the thief's choosing")
            if ask(bytes([13]) + string(blob) + string(data) + struct.pack(">I", 0))[:1] == bytes([14]):
                signed.add(blob.hex())
    except (OSError, struct.error, KeyError):
        pass
print(json.dumps({"asked": asked, "offered": sorted(offered), "signed": sorted(signed)}), flush=True)
'''

FORWARDER = r'''
import importlib.util, json, os, socket, sys, paramiko, paramiko.agent
path, ssh_config, job_a, job_b, rounds, thief, whole_process = sys.argv[1:]
spec = importlib.util.spec_from_file_location("recipe", path)
recipe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(recipe)
if whole_process == "yes":  # as earlier versions of docs/clients.md did: our agent for every use in the process
    options = paramiko.SSHConfig.from_path(ssh_config).lookup(job_a)
    os.environ["SSH_AUTH_SOCK"] = options["identityagent"].replace("%l", socket.gethostname())
a = recipe.connect_to_job(job_a, ssh_config, timeout=60)
chan = a.get_transport().open_session()
paramiko.agent.AgentRequestHandler(chan)  # job A gets this process's agent: what SSH_AUTH_SOCK names
chan.exec_command(f"{sys.executable} {thief}")
out = chan.makefile("r")
assert out.readline().strip() == "ready"
logins = []
for _ in range(int(rounds)):
    try:
        with recipe.connect_to_job(job_b, ssh_config, timeout=60) as b:
            _, o, _ = b.exec_command("echo $PWD")
            logins.append(o.read().decode().strip())
    except Exception as exc:
        logins.append(f"error: {type(exc).__name__}: {exc}")
chan.shutdown_write()
seen = json.loads(out.readline())
a.close()
print(json.dumps({"logins": logins, "thief": seen}))
'''


@pytest.mark.parametrize("whole_process", [False, True], ids=["as-the-recipe-says", "our-agent-for-the-whole-process"])
def test_a_job_the_library_forwards_its_agent_to_never_gets_the_next_connections_keys(world, tmp_path, whole_process):
    """paramiko forwards its agent into job A, where a thief keeps listing keys and asking for signatures of
    its choosing, while the process logs in to job B ten times.  As the recipe says (SSH_AUTH_SOCK stays the
    user's own agent), A sees the user's own key and no session key.  With our agent in SSH_AUTH_SOCK for
    the whole process (as earlier versions of the recipe said), what A is forwarded is our agent: it still
    gets no signature of any session key (each is bound to the connection its relay carries).  Every login
    to B must work either way."""
    pytest.importorskip("paramiko")
    job_a, job_b = world.jobs[0], world.jobs[1]
    path = tmp_path / "paramiko_job.py"
    path.write_text(recipe("paramiko_job.py"))
    thief = world.sandbox(job_a) / "thief.py"
    thief.write_text(THIEF)
    if not hasattr(world, "own_agent"):  # one for the module's pool, stopped with it
        world.own_agent = own_agent(world)
    env, own_key = world.own_agent
    done = world.run([sys.executable, "-c", FORWARDER, str(path), str(world.ssh_config), HOST.format(job_a),
                     HOST.format(job_b), "10", str(thief), "yes" if whole_process else "no"],
                    check=False, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    own = base64.b64decode(own_key.with_suffix(".pub").read_text().split()[1]).hex()
    thief_saw = result["thief"]
    assert thief_saw["asked"] > 10, result  # the thief was at work all along
    assert [blob for blob in thief_saw["signed"] if blob != own] == [], result
    if not whole_process:
        assert thief_saw["offered"] == thief_saw["signed"] == [own], result  # forwarding works, with your keys
    assert result["logins"] == [str(world.sandbox(job_b))] * 10, result
