"""Login nodes sharing one home (issue 19 items 4 and 5).

Two "login nodes" are UTS namespaces with different host names (`unshare --uts`, as root) over one HOME:
real ssh, proxy and agent in each, against one simulated pool.  Each node's ssh expands %l to its own
name, so each talks to its own agent in its own directory; known_hosts is per node (OpenSSH 8.4+) or one
shared file that both agents merge into (what `setup` writes for an older client).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import private_tmp, tool, wait_for
from proxycmd import paths, safefs
from proxycmd.agent import knownhosts, peer

# One user on the simulated pool whose home stands for one that several login nodes share: --per-node-paths
# yes, as on NFS (the backend does not matter here; other modules run both).
pytestmark = pytest.mark.world(backends=["sim"], setup=("--per-node-paths", "yes"))

NODES = ("login01.example.org", "login02")  # one long name with dots (ssh's %l keeps them), one short
SESSIONS = 10  # per node, all at once


# ----- the shared file's merge ----------------------------------------------------------------------------
def test_merge_keeps_the_other_nodes_live_lines_and_replaces_our_own():
    now = 1_800_000_000.0
    existing = "\n".join([
        knownhosts.tagged("1.0.job.condor ssh-ed25519 AAAA1", "a", now + 60),   # ours: replaced
        knownhosts.tagged("2.0.job.condor ssh-ed25519 AAAA2", "b", now + 60),   # theirs, live: kept
        knownhosts.tagged("3.0.job.condor ssh-ed25519 AAAA3", "b", now - 1),    # theirs, expired: dropped
        "4.0.job.condor ssh-ed25519 AAAA4",                                     # untagged (older agent): dropped
        knownhosts.tagged("* ssh-ed25519 AAAA6", "b", now + 60),                # a pattern: never carried on
        knownhosts.tagged("@revoked ssh-ed25519 AAAA7", "b", now + 60),         # a marker: likewise
        "garbage",
    ]) + "\n"
    ours = [knownhosts.tagged("5.0.job.condor ssh-ed25519 AAAA5", "a", now + 60)]
    merged = knownhosts.merge(existing, "a", ours, now)
    assert merged == ours + [knownhosts.tagged("2.0.job.condor ssh-ed25519 AAAA2", "b", now + 60)]
    assert knownhosts.merge("", "a", [], now) == []


def _write_many(path: str, node: str, rounds: int) -> None:
    shared = knownhosts.SharedFile(Path(path), Path(path + ".lock"), node)
    for i in range(rounds):
        shared.write([(f"{i}.0.job.condor ssh-ed25519 AAAA{node}{i}", time.monotonic() + 600)])
    shared.write([(f"9999.0.job.condor ssh-ed25519 AAAA{node}final", time.monotonic() + 600)])


def test_two_nodes_merging_at_once_lose_no_line(tmp_path):
    path = str(tmp_path / "known_hosts.shared")
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_write_many, args=(path, node, 200)) for node in NODES]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    lines = Path(path).read_text().splitlines()
    assert sorted(line.split()[2] for line in lines) == sorted(f"AAAA{node}final" for node in NODES)
    assert all(line.split()[3].startswith("cjp:") for line in lines)
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_a_host_name_that_cannot_name_a_directory_is_refused_in_one_line():
    for bad in ("", "a/b", "a b", "a\nb"):
        with pytest.raises(paths.PathError, match="cannot name a directory"):
            paths.check_node_name(bad)
    assert paths.host_dir(Path("/r"), "login01.example.org") == Path("/r/host-login01.example.org")


def test_the_host_directory_must_be_private():
    """The per-host directory is checked like the runtime directory itself: by the proxy and agent
    (ensure_host_dir) and by doctor (the IdentityAgent directory as ssh -G resolves it)."""
    from proxycmd.checkresult import FAIL, OK
    from sshconfig.block.resolved import from_ssh_g
    from sshconfig.checks.rundir import check_block_runtime_dirs

    base = private_tmp("n-")  # not under /tmp: the safe chain refuses that before it reaches our directory
    rundir = base / "cjp"
    rundir.mkdir(mode=0o700)
    node = "login01.example.org"
    host = paths.host_dir(rundir, node)
    host.mkdir(mode=0o755)
    with pytest.raises(paths.PathError, match="lets others in"):
        safefs.make_private_dir(host)
    values = {"proxycommand": f"/x/condor-job-proxy --runtime-dir '{rundir}' --login '%r' '%h'",
              "identityagent": f"{rundir}/host-%l/agent.sock", "userknownhostsfile": f"{rundir}/host-%l/known_hosts",
              "controlpath": f"{rundir}/0123"}
    resolved = from_ssh_g(values, "1.0.job.condor", node)  # IdentityAgent as an 8.0 ssh -G prints it
    assert resolved.identity_agent == str(host / "agent.sock")
    values["userknownhostsfile"] = f"{host}/known_hosts"  # as OpenSSH 8.4+ prints it: expanded
    resolved = from_ssh_g(values, "1.0.job.condor", node)
    check, _ = check_block_runtime_dirs(resolved)
    assert check.state == FAIL and str(host) in check.detail and "lets others in" in check.detail
    host.chmod(0o700)
    assert check_block_runtime_dirs(resolved)[0].state == OK
    # An ssh before 8.4 prints (and reads) a per-host UserKnownHostsFile with a literal %l.
    old = from_ssh_g(dict(values, userknownhostsfile=f"{rundir}/host-%l/known_hosts"), "1.0.job.condor",
                               node)
    check, _ = check_block_runtime_dirs(old)
    assert check.state == FAIL and "does not expand %l" in check.detail and "setup` on this host" in check.fix
    shutil.rmtree(base)


# ----- setup renders what the client supports ---------------------------------------------------------------
def _old_ssh(directory: Path) -> Path:
    """An `ssh` that says it is OpenSSH 8.0 to `ssh -V` and is the real one otherwise."""
    directory.mkdir(exist_ok=True)
    real = subprocess.run(["sh", "-c", "command -v ssh"], capture_output=True, text=True).stdout.strip()
    script = directory / "ssh"
    script.write_text(f'#!/bin/sh\nif [ "$1" = -V ]; then echo "OpenSSH_8.0p1, OpenSSL 1.1.1k  FIPS 25 Mar 2021" >&2; '
                      f'exit 0; fi\nexec {real} "$@"\n')
    script.chmod(0o755)
    return directory


def _setup_as_old_client(world) -> None:
    env = dict(world.env, PATH=f"{_old_ssh(world.base / 'old-ssh')}:{world.env['PATH']}")
    world.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(world.ssh_config), "--yes"], env=env)


def test_setup_writes_known_hosts_per_host_or_shared_by_the_clients_version(world):
    text = world.ssh_config.read_text()  # setup ran with this machine's ssh (8.4 or newer)
    assert f"UserKnownHostsFile {world.rundir}/host-%l/known_hosts\n" in text and "--shared-known-hosts" not in text
    _setup_as_old_client(world)  # one bare setup moves the block
    text = world.ssh_config.read_text()
    assert f"UserKnownHostsFile {world.rundir}/known_hosts.shared\n" in text and "--shared-known-hosts" in text
    assert f"IdentityAgent {world.rundir}/host-%l/agent.sock\n" in text  # 8.0 expands %l there
    world.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(world.ssh_config), "--yes"])
    assert "known_hosts.shared" not in world.ssh_config.read_text()


# ----- two login nodes, one home ---------------------------------------------------------------------------
def _unshare_allowed() -> str:
    try:
        done = subprocess.run(["unshare", "--uts", "hostname", "probe.invalid"], capture_output=True, text=True,
                              timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare cannot run: {exc}"
    return "" if done.returncode == 0 else f"`unshare --uts` is not allowed here: {done.stderr.strip()}"


def _on_node(node: str, argv):
    """*argv* run on login node *node*: in a UTS namespace of its own with that host name."""
    return ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', node, *argv]


def _agent_of(rundir: Path, node: str):
    """(pid, socket inode) of the agent listening on *node*'s agent.sock."""
    path = paths.agent_socket(rundir, node)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(path))
        pid = peer.peer_credentials(conn).pid
    st = os.lstat(path)
    return pid, (st.st_dev, st.st_ino)


def _lines(path: Path):
    return [line for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


@pytest.mark.parametrize("known_hosts", ["per-host", "shared"])
def test_two_login_nodes_sharing_a_home_each_log_in_ten_sessions_at_once(world, known_hosts):
    why = _unshare_allowed()
    if why:
        pytest.skip(why)
    if known_hosts == "shared":
        _setup_as_old_client(world)
    job = world.submit("sleep", "600")
    marks = world.base / "marks"
    marks.mkdir()
    release = world.base / "release"
    agents = {}
    procs = []
    try:
        for index in range(SESSIONS):
            for node in NODES:
                name = f"{node}-{index}"
                remote = (f"sh -c 'touch {marks}/{name}; echo in; i=0; "
                          f"while [ ! -e {release} ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; echo out'")
                argv = _on_node(node, world.ssh_argv(f"{job}.job.condor", remote))
                procs.append((name, subprocess.Popen(argv, env=world.env, stdin=subprocess.DEVNULL,
                                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
        everyone = {name for name, _ in procs}
        wait_for(lambda: {p.name for p in marks.iterdir()} == everyone or any(p.poll() for _, p in procs),
                 timeout=180)
        early = [(name, p.returncode, p.stderr.read()) for name, p in procs if p.poll() is not None]
        assert not early, early
        # All 20 sessions live now: each node has its own agent in its own directory ...
        for node in NODES:
            agents[node] = _agent_of(world.rundir, node)
        assert agents[NODES[0]][0] != agents[NODES[1]][0]
        assert not paths.host_dir(world.rundir, socket.gethostname()).exists()  # %l, not this host's name
        # ... and ssh found each session's host key in the file it reads, with the other node's lines kept.
        if known_hosts == "shared":
            lines = _lines(paths.known_hosts(world.rundir, shared=True))
            for node in NODES:
                assert sum(f" cjp:{node}:" in line for line in lines) == SESSIONS, lines
        else:
            for node in NODES:
                lines = _lines(paths.known_hosts(world.rundir, node=node))
                assert len(lines) == SESSIONS and all(line.startswith(f"{job}.job.condor ") for line in lines)
        release.touch()
        for name, proc in procs:
            out, err = proc.communicate(timeout=120)
            assert (proc.returncode, out) == (0, "in\nout\n"), (name, err)
        # Neither node's agent took or replaced the other's socket, and both still run.
        for node in NODES:
            assert _agent_of(world.rundir, node) == agents[node]
        files = ([paths.known_hosts(world.rundir, shared=True)] if known_hosts == "shared"
                 else [paths.known_hosts(world.rundir, node=node) for node in NODES])
        assert wait_for(lambda: all(_lines(path) == [] for path in files), timeout=20), [_lines(p) for p in files]
    finally:
        release.touch()
        for _, proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        for node in NODES:
            try:
                pid = agents.get(node, (None,))[0] or _agent_of(world.rundir, node)[0]
            except OSError:
                continue
            os.kill(pid, signal.SIGTERM)


def test_one_bare_setup_moves_a_block_of_the_one_directory_layout(world):
    """A block written before the per-host directories (agent.sock and known_hosts in the runtime
    directory itself) moves to them with one bare `setup`, and connections work after it."""
    text = world.ssh_config.read_text()
    old = text.replace("/host-%l/", "/")
    assert old != text and f"IdentityAgent {world.rundir}/agent.sock\n" in old
    world.ssh_config.write_text(old)
    world.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(world.ssh_config), "--yes"])
    assert world.ssh_config.read_text() == text
    job = world.submit("sleep", "600")
    done = world.ssh(f"{job}.job.condor", "echo", "in")
    assert done.stdout == "in\n"
    assert paths.agent_socket(world.rundir).is_socket() and not (world.rundir / "agent.sock").exists()


def test_a_running_agent_follows_setup_between_per_host_and_shared_known_hosts(world):
    """`setup` on another OpenSSH version flips the block's known_hosts; the agent already running on this
    node writes the file the block names from the next registration on."""
    job = world.submit("sleep", "600")
    host = f"{job}.job.condor"
    assert world.ssh(host, "echo", "in").stdout == "in\n"  # the agent starts, writing the per-host file
    pid = world.agent_status()["pid"]
    _setup_as_old_client(world)
    done = world.ssh(host, "echo", "in", check=False)
    assert (done.returncode, done.stdout) == (0, "in\n"), done.stderr
    world.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(world.ssh_config), "--yes"])
    done = world.ssh(host, "echo", "in", check=False)
    assert (done.returncode, done.stdout) == (0, "in\n"), done.stderr
    assert world.agent_status()["pid"] == pid  # one agent throughout
