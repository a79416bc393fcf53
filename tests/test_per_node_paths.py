"""Literal runtime paths where one machine owns the runtime directory, `host-%l` where several may share it
(issue 26, item 1): the two renderings (golden files), the file-system decision, and `setup` end to end.

Rewrite the golden files with ``UPDATE_GOLDEN=1 python -m pytest tests/test_per_node_paths.py``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import tool
from proxycmd import paths
from sshconfig import pernode
from sshconfig.block.render import RenderContext, render_block
from sshconfig.block.settings import Settings

GOLDEN = Path(__file__).parent / "golden"
PROXY = "/opt/cjp/bin/condor-job-proxy"
RUNDIR = "/home/alice/.ssh/cjp"
CASES = {"literal-paths": dict(per_node=False), "per-node-paths": dict(per_node=True),
         # an OpenSSH before 8.4 reads literal paths as they are: no shared known_hosts file is needed then
         "literal-paths-old-client": dict(per_node=False, shared_known_hosts=True)}


def rendered(case: str) -> str:
    return render_block(RenderContext(proxy=PROXY, runtime_dir=RUNDIR, settings=Settings(), **CASES[case]))


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case):
    path = GOLDEN / f"{case}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(rendered(case))
    assert rendered(case) == path.read_text(), f"{case}: the block changed; if on purpose, rerun with UPDATE_GOLDEN=1"


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client")
@pytest.mark.parametrize("case", sorted(CASES))
def test_what_ssh_resolves(case, tmp_path):
    config = tmp_path / "config"
    config.write_text(rendered(case))
    out = subprocess.run(["ssh", "-G", "-F", str(config), "32.0.job.condor"], capture_output=True, text=True,
                         timeout=20)
    assert out.returncode == 0, out.stderr
    options = dict(line.partition(" ")[::2] for line in out.stdout.splitlines())
    where = f"host-{socket.gethostname()}" if CASES[case]["per_node"] else "local"
    assert options["identityagent"] == f"{RUNDIR}/{where}/agent.sock"
    assert options["userknownhostsfile"] == f"{RUNDIR}/{where}/known_hosts"
    assert options["controlpath"].startswith(f"{RUNDIR}/")  # %C: ssh's own hash, which libraries never use
    assert "--shared-known-hosts" not in options["proxycommand"]
    text = rendered(case)
    assert ("%l" in text) == CASES[case]["per_node"]


def test_the_proxy_and_the_agent_find_the_directory_the_block_names(tmp_path):
    rundir = tmp_path / "cjp"
    rundir.mkdir(mode=0o700)
    assert paths.host_dir(rundir) == rundir / f"host-{socket.gethostname()}"
    paths.set_one_host(rundir, True)
    assert paths.host_dir(rundir) == rundir / "local" == paths.agent_socket(rundir).parent
    assert paths.known_hosts(rundir) == rundir / "local" / "known_hosts"
    assert paths.host_dir(rundir, "login02") == rundir / "host-login02"  # another node's, named: unchanged
    paths.set_one_host(rundir, False)
    paths.set_one_host(rundir, False)  # twice: nothing to remove, no error
    assert paths.host_dir(rundir) == rundir / f"host-{socket.gethostname()}"


# ----- the decision -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,per_node,said", [
    (0x6969, True, "is on NFS"), (0x0BD00BD0, True, "is on Lustre"), (0x47504653, True, "is on GPFS"),
    (0x19830326, True, "is on BeeGFS"), (0x00C36400, True, "is on CephFS"), (0x5346414F, True, "is on AFS"),
    (0xFF534D42, True, "is on CIFS"), (0xFE534D42, True, "is on SMB2"), (0x65735546, True, "is on FUSE"),
    (0xEF53, False, "is on ext2/3/4"), (0x58465342, False, "is on XFS"), (0x01021994, False, "is on tmpfs"),
    (0x12345678, False, "type 0x12345678"), (None, False, "is not known here"),
])
def test_auto_decides_from_the_file_system_type(kind, per_node, said):
    chosen, line = pernode.explain("auto", RUNDIR, False, kind)
    assert chosen == per_node and said in line and "\n" not in line
    assert line.startswith("Runtime paths: " + ("one directory per login node" if per_node else "literal"))
    assert ("--per-node-paths no" if per_node else "--per-node-paths yes") in line  # the way to the other one


def test_the_option_forces_either_way_and_laptop_mode_is_literal():
    assert pernode.explain("yes", RUNDIR, True, 0xEF53)[0] is True
    assert pernode.explain("no", RUNDIR, False, 0x6969)[0] is False
    chosen, line = pernode.explain("auto", RUNDIR, True, 0x6969)
    assert chosen is False and "laptop mode (--via)" in line


@pytest.mark.skipif(not shutil.which("stat") or not os.path.isdir("/proc"), reason="needs Linux and coreutils")
@pytest.mark.parametrize("where", ["tmp", "/proc", "/dev/shm", "/"])
def test_fs_type_is_the_kernels_own_answer(where, tmp_path):
    """statfs(2) through ctypes, against coreutils' `stat -f` (the same call) for a few real file systems."""
    path = str(tmp_path) if where == "tmp" else where
    if not os.path.isdir(path):
        pytest.skip(f"no {path} here")
    expected = int(subprocess.run(["stat", "-f", "-c", "%t", path], capture_output=True, text=True).stdout, 16)
    assert pernode.fs_type(path) == expected
    assert pernode.fs_type(os.path.join(path, "not", "made", "yet")) == expected  # the nearest existing one


# ----- setup, end to end --------------------------------------------------------------------------------------
@pytest.mark.also_real
def test_setup_chooses_says_so_and_ssh_works_both_ways(world):
    """On this machine's local file system: literal paths, said in one line, and ssh reaches the job with
    the agent where the block says; `--per-node-paths yes` brings %l back, and ssh still works; a bad value is
    one line."""
    job = world.submit("sleep", "600")
    setup = [tool("condor-job-ssh"), "setup", "--ssh-config", str(world.ssh_config), "--yes"]
    text = world.ssh_config.read_text()  # the world's own setup ran on a local file system
    assert f"IdentityAgent {world.rundir}/local/agent.sock\n" in text and "%l" not in text
    assert world.ssh(f"{job}.job.condor", "echo", "ok").stdout == "ok\n"
    assert (world.rundir / "local" / "agent.sock").exists() and (world.rundir / "one-host").exists()

    forced = world.run(setup + ["--per-node-paths", "yes"])
    said = [line for line in forced.stdout.splitlines() if line.startswith("Runtime paths:")]
    assert said == ["Runtime paths: one directory per login node (host-%l), as --per-node-paths yes asks."]
    text = world.ssh_config.read_text()
    assert f"IdentityAgent {world.rundir}/host-%l/agent.sock\n" in text
    assert f"UserKnownHostsFile {world.rundir}/host-%l/known_hosts\n" in text
    assert not (world.rundir / "one-host").exists()
    assert world.ssh(f"{job}.job.condor", "echo", "ok").stdout == "ok\n"
    assert (world.rundir / f"host-{socket.gethostname()}" / "agent.sock").exists()
    assert "no changes" in world.run(setup).stdout  # saved: a bare setup keeps it

    back = world.run(setup + ["--per-node-paths", "auto"])
    said = [line for line in back.stdout.splitlines() if line.startswith("Runtime paths:")]
    assert len(said) == 1 and said[0].startswith("Runtime paths: literal: ") and "this machine's own" in said[0]
    assert "%l" not in world.ssh_config.read_text()
    assert world.ssh(f"{job}.job.condor", "echo", "ok").stdout == "ok\n"

    bad = world.run(setup + ["--per-node-paths", "maybe"], check=False)
    assert bad.returncode != 0 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        "condor-job-ssh: error: setup options: bad value for 'per_node_paths' ('maybe'): use auto, yes or no"]
