"""The key agent through real ssh: sshd -i sessions, the managed block and the simulated pool (the agent on its
own is tests/unit/test_agent_local.py)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from proxycmd import paths
from proxycmd.agent import client, wire
from test_agent_local import (HOST, agent, gone, keydir, known_hosts_lines, make_key, rundir,  # noqa: F401
                              wait_until)

pytestmark = pytest.mark.world(backends=["sim"])


# -- real ssh against sshd -i ---------------------------------------------------------------------------------

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
PROXY_SCRIPT = """\
import os, sys
from pathlib import Path
from proxycmd.agent import client
rundir, session = Path(sys.argv[1]), Path(sys.argv[2])
client.register(rundir, pid=os.getppid(), host=sys.argv[3], host_key=(session / "key.line").read_text(),
                private_key=(session / "key").read_bytes())
os.execv(sys.argv[4], ["sshd", "-i", "-e", "-f", str(session / "sshd_config")])
"""


@pytest.mark.e2e
@pytest.mark.skipif(not os.path.exists(SSHD), reason="sshd is not installed")
@pytest.mark.skipif(os.getuid() == 0 and not os.path.isdir("/run/sshd"), reason="sshd -i as root needs /run/sshd")
def test_parallel_ssh_sessions_to_one_host(agent, keydir, tmp_path):
    """Six ssh processes at once, each with its own one-time key, all named the same host (as one job)."""
    proxy = tmp_path / "proxy.py"
    proxy.write_text(PROXY_SCRIPT)
    runs = []
    for index in range(6):
        key = make_key(keydir / f"sshd-{index}", "rsa" if index == 0 else "ed25519")
        (key.private.parent / "key.line").write_text(key.line)
        (key.private.parent / "sshd_config").write_text(
            f"HostKey {key.private}\nAuthorizedKeysFile {key.private}.pub\nPermitRootLogin yes\n"
            "StrictModes no\nUsePAM no\nLogLevel ERROR\n")
        command = ["ssh", "-F", "none", "-o", f"IdentityAgent={paths.agent_socket(agent)}", "-o", "IdentityFile=none",
                   "-o", f"UserKnownHostsFile={paths.known_hosts(agent)}", "-o", "GlobalKnownHostsFile=/dev/null",
                   "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
                   "-o", f"ProxyCommand={sys.executable} {proxy} {agent} {key.private.parent} %h {SSHD}",
                   HOST, f"echo session-{index}"]
        runs.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [run.communicate(timeout=60) for run in runs]
    for index, (run, (out, err)) in enumerate(zip(runs, results)):
        assert (run.returncode, out) == (0, f"session-{index}\n"), err
    wait_until(lambda: known_hosts_lines(agent) == [], what="known_hosts to empty")


# -- platform branches ----------------------------------------------------------------------------------------



@pytest.mark.e2e
def test_ssh_killed_before_the_hand_over_leaves_no_session(world):
    """SIGKILL ssh at moments spread over its start-up: the proxy registers nothing for a dead ssh (nor for
    init, its new parent) and exits without a traceback; the agent ends up with no session at all."""
    job = world.submit("sleep", "600")
    host = f"{job}.job.condor"
    started = time.monotonic()
    world.ssh(host, "true")  # the agent is running; how long one whole connection takes
    whole = time.monotonic() - started
    wait_until(lambda: client.status(world.rundir)["sessions"] == 0, what="the first session to end")
    for attempt in range(20):
        ssh = subprocess.Popen(world.ssh_argv(host, "sleep 30"), env=world.env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(whole * attempt / 20)
        ssh.kill()
        _, err = ssh.communicate(timeout=120)  # returns once the proxy, which holds stderr too, has exited
        assert b"Traceback" not in err and b"condor-job-proxy:" not in err, err.decode(errors="replace")
    wait_until(lambda: client.status(world.rundir)["sessions"] == 0, timeout=10, what="every session to end")
    assert world.known_hosts_lines() == []
    log = paths.agent_log(world.rundir).read_text()
    assert "session for pid 1 " not in log




PROBE = """
import os, socket, sys
sys.path[:0] = [sys.argv[1]]
from proxycmd.agent import wire
def ask(payload):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(os.environ["SSH_AUTH_SOCK"])
        conn.sendall(wire.frame(payload))
        reply = wire.read_frame(conn)
        return reply[0] if reply else None
key = open("probe.key", "rb").read()
line = open("probe.line").read().strip()
register = wire.message(wire.EXTENSION, wire.string(wire.REGISTER), wire.u32(os.getppid()), wire.string("evil"),
                        wire.string(line), wire.string(key), wire.u32(86400))
print("register", ask(register))
print("status", ask(wire.message(wire.EXTENSION, wire.string(wire.STATUS))))
print("stop", ask(wire.message(wire.EXTENSION, wire.string(wire.STOP))))
"""


@pytest.mark.e2e
def test_a_forwarded_agent_cannot_manage_the_agent_or_use_the_session_key(world, keydir):
    job = world.submit("sleep", "600")
    host = f"{job}.job.condor"
    key = make_key(keydir / "probe", "ed25519")
    sandbox = world.sandbox(job)
    (sandbox / "probe.py").write_text(PROBE)
    (sandbox / "probe.key").write_bytes(key.pem)
    (sandbox / "probe.line").write_text(key.line)
    root = str(Path(wire.__file__).resolve().parents[2])
    listed = world.ssh("-A", host, "ssh-add -l; echo rc=$?").stdout
    assert "The agent has no identities" in listed and "rc=1" in listed  # the session key was used up
    pid = client.status(world.rundir)["pid"]
    probed = world.ssh("-A", host, f"{sys.executable} probe.py {root}").stdout.split("\n")
    failure = str(wire.AGENT_FAILURE)
    assert probed[:3] == [f"register {failure}", f"status {failure}", f"stop {failure}"], probed
    assert client.status(world.rundir)["pid"] == pid and not gone(pid)  # still the same agent
    wait_until(lambda: world.known_hosts_lines() == [], timeout=10, what="known_hosts to empty")
    assert "evil" not in paths.known_hosts(world.rundir).read_text()
    # with --forward-agent the job sees the user's own key, and only that: the session key is used up
    from conftest import tool

    sock = world.base / "user-agent.sock"
    started = world.run(["ssh-agent", "-s", "-a", str(sock)]).stdout
    agent_pid = int(started.split("SSH_AGENT_PID=")[1].split(";")[0])
    world.extra_cleanup.append(lambda: os.kill(agent_pid, signal.SIGTERM))
    env = dict(world.env, SSH_AUTH_SOCK=str(sock))
    world.run(["ssh-add", "-q", str(key.private)], env=env)
    world.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(world.ssh_config), "--forward-agent", "--yes"])
    listed = world.run(world.ssh_argv("-A", host, "ssh-add -l"), env=env).stdout.splitlines()
    assert len(listed) == 1 and key.fingerprint in listed[0], listed
