"""SSH libraries used the plain way (issue 26, item 6): the scripts of docs/clients.md's "The plain way",
run exactly as printed there, each reading the block from ~/.ssh/config with the library's own parser
(paramiko's SSHConfig.lookup, Fabric's Connection, asyncssh's config=, Node's ssh-config), with no %l step.

Each runs a command in a job on the simulated pool (both backends) and, in the real tier, on a real pool.
Node's ssh2 and ssh-config come from the npm registry at the versions tests/js/package.json pins; without
node or npm that test skips with one line.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, safe_tmp_root, tool

pytestmark = pytest.mark.e2e

CLIENTS_DOC = REPO / "docs" / "clients.md"
PACKAGE_JSON = Path(__file__).resolve().parents[1] / "js" / "package.json"
SCRIPTS = {"paramiko": "plain_paramiko.py", "fabric": "plain_fabric.py", "asyncssh": "plain_asyncssh.py",
           "ssh2": "plain_ssh2.js"}


def doc_script(name: str) -> str:
    """The code block after ``<!-- recipe: NAME -->`` in docs/clients.md, as printed."""
    found = re.search(rf"<!-- recipe: {re.escape(name)} -->\n```\w*\n(.*?)\n```\n", CLIENTS_DOC.read_text(), re.S)
    assert found, f"docs/clients.md has no recipe {name}"
    return found.group(1) + "\n"


def node_modules() -> Path:
    """ssh2 and ssh-config at tests/js/package.json's versions, installed once beside the test homes."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("no node/npm here: the ssh2 + ssh-config script is not run")
    pins = json.loads(PACKAGE_JSON.read_text())["dependencies"]
    wanted = [f"ssh2@{pins['ssh2']}", f"ssh-config@{pins['ssh-config']}"]
    where = safe_tmp_root() / ("npm-" + "-".join(w.replace("@", "") for w in wanted))
    if not all((where / "node_modules" / w.rsplit("@", 1)[0] / "package.json").exists() for w in wanted):
        where.mkdir(mode=0o700, exist_ok=True)
        done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix",
                               str(where), *wanted], capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.skip(f"npm could not install {' '.join(wanted)}: "
                        f"{(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return where / "node_modules"


def block_in_home_config(world) -> Path:
    """The block written where the libraries look by default, ~/.ssh/config, by a bare `setup` (it reuses the
    world's saved settings: its pool, its backend)."""
    config = Path(world.env["HOME"]) / ".ssh" / "config"
    done = world.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(config), "--yes"])
    assert "Runtime paths: literal" in done.stdout, done.stdout
    text = config.read_text()
    assert "%l" not in text and f"IdentityAgent {world.rundir}/local/agent.sock\n" in text
    return config


@pytest.mark.also_real
@pytest.mark.parametrize("library", list(SCRIPTS))
def test_a_plain_library_script_runs_a_command_in_the_job(world, tmp_path, library):
    if library == "ssh2":
        argv_head = ["env", f"NODE_PATH={node_modules()}", "node"]
    else:
        pytest.importorskip(library)
        argv_head = [sys.executable]
    job = world.submit("sleep", "600")
    block_in_home_config(world)
    script = tmp_path / SCRIPTS[library]
    script.write_text(doc_script(SCRIPTS[library]))
    host = f"{job}.job.condor"
    done = world.run([*argv_head, str(script), host, "echo", "in", "$PWD"], check=False, timeout=180)
    assert done.returncode == 0, f"{library}: {done.stdout}\n{done.stderr}"
    assert done.stdout == f"in {world.sandbox(job)}\n", done.stderr
    # the host key was checked against the job's line, not waved through: a second run logs in again (a new
    # session, a new key), and the agent left no key behind for this process to find
    again = world.run([*argv_head, str(script), host + ".", "echo", "again"], check=False, timeout=180)
    assert again.returncode == 0 and again.stdout == "again\n", f"{library}: {again.stdout}\n{again.stderr}"


@pytest.mark.parametrize("library", ["paramiko", "asyncssh", "fabric"])
def test_each_library_resolves_the_blocks_rules_for_a_job_host(world, library):
    """The block's `Match host "...,!*'*,!*!*"` rule resolves in each library's own parser, for the name with
    and without the trailing dot, and never for a name with a quote or a '!' (no ProxyCommand)."""
    pytest.importorskip(library)
    config = block_in_home_config(world)
    probe = {
        "paramiko": "import paramiko,sys; o=paramiko.SSHConfig.from_path(sys.argv[1]).lookup(sys.argv[2]); "
                    "print(o.get('proxycommand') or '', o.get('identityagent') or '', sep='|')",
        "asyncssh": "import asyncssh,sys; o=asyncssh.SSHClientConnectionOptions(config=[sys.argv[1]], host=sys.argv[2]);"
                    " print(' '.join(o.proxy_command or []), o.agent_path or '', sep='|')",
        "fabric": "import fabric,sys; c=fabric.Connection(sys.argv[2], config=fabric.Config(runtime_ssh_path=sys.argv[1]));"
                  " print(c.ssh_config.get('proxycommand') or '', c.ssh_config.get('identityagent') or '', sep='|')",
    }[library]
    for host, ours in (("7.0.job.condor", True), ("7.0.job.condor.", True), ("7'0.job.condor", False),
                       ("7.0!x.job.condor", False), ("example.org", False)):
        done = world.run([sys.executable, "-W", "ignore", "-c", probe, str(config), host])
        proxy, agent = done.stdout.rstrip("\n").split("|")
        assert bool(proxy) == ours and "condor-job-proxy" in proxy if ours else not proxy, (library, host, done.stdout)
        if ours:
            assert agent == f"{world.rundir}/local/agent.sock", (library, host, agent)


def test_ssh_config_for_node_resolves_the_blocks_rules(world):
    modules = node_modules()
    config = block_in_home_config(world)
    probe = ("const S=require('ssh-config'),fs=require('fs');const o=S.parse(fs.readFileSync(process.argv[1],'utf8'))"
             ".compute(process.argv[2]);console.log(JSON.stringify(o))")
    for host, ours in (("7.0.job.condor", True), ("7.0.job.condor.", True), ("7'0.job.condor", False),
                       ("7.0!x.job.condor", False), ("example.org", False)):
        done = world.run(["env", f"NODE_PATH={modules}", "node", "-e", probe, str(config), host])
        options = json.loads(done.stdout)
        assert ("condor-job-proxy" in options.get("ProxyCommand", "")) == ours, (host, options)
        if ours:
            assert options["IdentityAgent"] == f"{world.rundir}/local/agent.sock"
            assert options["UserKnownHostsFile"] == f"{world.rundir}/local/known_hosts"
