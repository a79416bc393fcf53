"""End to end: every failure reaches the user through ssh itself (no terminal, ControlPersist on), a wait
for an idle job ends, and clients that spawn the ProxyCommand with socketpairs of their own get a relay."""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import time

import pytest

from conftest import flat_table, tool, wait_for
from proxycmd import paths

pytestmark = pytest.mark.e2e

HOST = "{}.job.condor"
# the default block: multiplexing on, so ControlPersist sends the proxy's stderr to /dev/null
MULTIPLEXED = pytest.mark.world(multiplex=True)


def ssh_no_terminal(world, *args, config=None, timeout=120):
    """ssh as VS Code, scripts and cron run it: no terminal at all (no stdin, no controlling tty)."""
    argv = ["ssh", "-F", str(config or world.ssh_config), *args]
    return subprocess.run(argv, env=world.env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          start_new_session=True, timeout=timeout)


def said_by_ssh(stderr: str) -> str:
    """The sentence ssh itself printed from our SSH_MSG_DISCONNECT."""
    lines = [line for line in stderr.splitlines() if line.startswith("Received disconnect from ")]
    assert len(lines) == 1, stderr
    head, _, sentence = lines[0].partition(":7: ")  # SERVICE_NOT_AVAILABLE (proxycmd/disconnect.py)
    assert sentence, lines[0]
    return sentence


@MULTIPLEXED
def test_failures_reach_ssh_stderr_with_controlpersist_and_no_terminal(world):
    assert "ControlPersist" in world.ssh_config.read_text()
    held = world.submit("sleep", "600")
    world.sim("hold", held, "--reason", "exceeded its disk quota")
    release = (f"condor-job-ssh sim release {held} --root {world.sim_root}" if world.backend == "sim"
               else f"condor_release {held}")
    cases = {
        HOST.format(held): (f"condor-job-proxy: job {held} is held: exceeded its disk quota; after fixing the "
                            f"cause, release it with: {release}"),
        HOST.format("99999.0"): "condor-job-proxy: job 99999.0 is not in the queue",
        "1.0.-x.job.condor": "condor-job-proxy: '1.0.-x.job.condor' is not a job host name: '-x' is not a DNS label",
    }
    for host, sentence in cases.items():
        done = ssh_no_terminal(world, host, "true")
        assert done.returncode == 255, done.stderr
        assert said_by_ssh(done.stderr).startswith(sentence), done.stderr
        assert "mm_receive_fd" not in done.stderr and "did not pass back" not in done.stderr
    doctor = world.run([tool("condor-job-ssh"), "doctor", "--ssh-config", str(world.ssh_config)], check=False)
    flat = flat_table(doctor.stdout)  # doctor wraps its table at 80 columns
    assert "99999.0.job.condor" in flat and "is not in the queue" in flat, doctor.stdout
    assert f"release it with: {release}" in flat, doctor.stdout


@MULTIPLEXED
def test_failures_reach_ssh_in_pipe_mode_too(world):
    held = world.submit("sleep", "600")
    world.sim("hold", held, "--reason", "over quota")
    done = ssh_no_terminal(world, "-o", "ProxyUseFdpass=no", HOST.format(held), "true")
    assert done.returncode == 255, done.stderr
    assert said_by_ssh(done.stderr).startswith(f"condor-job-proxy: job {held} is held: over quota"), done.stderr


@MULTIPLEXED
def test_setup_wait_timeout_ends_the_wait_and_ssh_says_how_long(world):
    job = world.submit("sleep", "600", idle=True)
    world.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(world.ssh_config), "--wait-timeout", "2",
                "--yes"])
    assert " --wait-timeout 2 " in world.ssh_config.read_text()
    done = ssh_no_terminal(world, HOST.format(job), "true")
    assert done.returncode == 255, done.stderr
    sentence = said_by_ssh(done.stderr)
    assert sentence.startswith("condor-job-proxy: gave up after 0m0") and f"job {job}" in sentence, sentence
    world.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(world.ssh_config), "--wait-timeout", "0",
                "--yes"])
    assert "--wait-timeout" not in world.ssh_config.read_text()


@MULTIPLEXED
def test_progress_reaches_ssh_log_in_pipe_mode(world):
    job = world.submit("sleep", "600", idle=True)
    proxy = (f"{tool('condor-job-proxy')} --runtime-dir {world.rundir} {' '.join(world.proxy_args())} "
             f"--wait-timeout 3 '%h'")
    done = ssh_no_terminal(world, "-v", "-o", "ProxyUseFdpass=no", "-o", f"ProxyCommand={proxy}",
                           HOST.format(job), "true")
    assert done.returncode == 255
    banner = [line for line in done.stderr.splitlines() if "banner line 0:" in line]
    assert banner and f"condor-job-proxy: job {job} is " in banner[0], done.stderr
    assert said_by_ssh(done.stderr).startswith("condor-job-proxy: gave up after")


@MULTIPLEXED
def test_killing_ssh_while_it_waits_stops_the_proxy_under_controlpersist(world):
    job = world.submit("sleep", "600", idle=True)
    ssh = subprocess.Popen(["ssh", "-F", str(world.ssh_config), HOST.format(job), "true"], env=world.env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)

    def proxies():
        return [pid for pid in os.listdir("/proc") if pid.isdigit() and _is_our_proxy(pid, world)]

    assert wait_for(proxies, timeout=15)
    ssh.kill()  # what VS Code does when its remote.SSH.connectTimeout runs out
    ssh.wait()
    assert wait_for(lambda: not proxies(), timeout=15), "the proxy kept waiting after ssh was killed"


def _is_our_proxy(pid: str, world) -> bool:
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return False
    return b"condor-job-proxy" in cmd and str(world.base).encode() in cmd and b"agent" not in cmd


# ----- bad input to the proxy (issue 8 item 9) ----------------------------------------------------------------
@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e999"])
def test_wait_timeout_that_is_no_number_of_seconds_is_refused(value):
    done = subprocess.run([tool("condor-job-proxy"), "--wait-timeout", value, "1.0.job.condor"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"condor-job-proxy: argument --wait-timeout: {value!r} is not a number of "
                                        "seconds (use a number, 0 or more) (see condor-job-proxy --help)"]


def test_from_socket_that_never_sends_gives_up_with_one_line(tmp_path):
    path = tmp_path / "silent.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(1)  # accepts (the kernel does) but never sends
        done = subprocess.run([tool("condor-job-proxy"), "--from-socket", str(path), "label"],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"condor-job-proxy: no session connection arrived on {path} within 5 "
                                        "seconds"]


# ----- clients that spawn the ProxyCommand themselves ---------------------------------------------------------
class _TwoSockets:
    """What paramiko needs of a socket, over a client's own socketpairs to the proxy's stdin and stdout."""

    def __init__(self, to_proxy: socket.socket, from_proxy: socket.socket) -> None:
        self.to_proxy, self.from_proxy = to_proxy, from_proxy

    def send(self, data):
        return self.to_proxy.send(data)

    def recv(self, n):
        return self.from_proxy.recv(n)

    def settimeout(self, t):
        self.from_proxy.settimeout(t)

    def close(self):
        self.to_proxy.close()
        self.from_proxy.close()

    @property
    def _closed(self):  # paramiko looks at it while stopping its thread
        return self.from_proxy._closed


def _proxy_command(world, host: str, user: str) -> str:
    """The ProxyCommand of the block as ssh resolves it for *host*, with its %-tokens expanded."""
    lines = world.run(["ssh", "-G", "-F", str(world.ssh_config), host]).stdout.splitlines()
    command = next(line.split(" ", 1)[1] for line in lines if line.startswith("proxycommand "))
    tokens = {"%h": host, "%r": user, "%p": "22", "%%": "%"}
    out, i = "", 0
    while i < len(command):
        if command[i] == "%" and command[i:i + 2] in tokens:
            out += tokens[command[i:i + 2]]
            i += 2
        else:
            out += command[i]
            i += 1
    return out


@pytest.mark.parametrize("layout", ["three-socketpairs", "one-socketpair-banner-first"])
def test_paramiko_spawning_the_proxy_with_socketpairs_authenticates_and_runs_a_command(world, layout, monkeypatch):
    paramiko = pytest.importorskip("paramiko")
    job = world.submit("sleep", "600")
    host = HOST.format(job)
    user = pwd.getpwuid(os.getuid()).pw_name
    command = _proxy_command(world, host, user)
    monkeypatch.setenv("SSH_AUTH_SOCK", str(paths.agent_socket(world.rundir)))
    transport_ready = None
    if layout == "three-socketpairs":  # Node/libuv: stdin, stdout and stderr each a socketpair of their own
        pairs = [socket.socketpair() for _ in range(3)]
        stdio = [pairs[0][1], pairs[1][1], pairs[2][1]]
        sock = _TwoSockets(pairs[0][0], pairs[1][0])
        transport = paramiko.Transport(sock)
    else:  # libssh's habit: one socketpair on fd 0 and 1, and the client's banner is sent first
        client, ours = socket.socketpair()
        pairs = [(client, ours)]
        stdio = [ours, ours, None]
        transport = paramiko.Transport(client)
    transport_ready = __import__("threading").Event()
    transport.start_client(event=transport_ready, timeout=60)
    if layout != "three-socketpairs":
        ours.recv(4, socket.MSG_PEEK)  # paramiko's banner waits on the proxy's stdin before the proxy starts
    # exec: the proxy's parent is this process, as it would be the client's (the agent serves its key to it)
    proxy = subprocess.Popen(["/bin/sh", "-c", "exec " + command], env=world.env, stdin=stdio[0], stdout=stdio[1],
                             stderr=stdio[2] if stdio[2] is not None else subprocess.PIPE)
    for s in {id(x): x for x in stdio if x is not None}.values():
        s.close()
    try:
        assert transport_ready.wait(60) and transport.is_active(), proxy.stderr
        server_key = transport.get_remote_server_key()
        known = [line.split() for line in world.known_hosts_lines()]
        assert [host, server_key.get_name(), server_key.get_base64()] in [k[:3] for k in known], known
        keys = paramiko.Agent().get_keys()
        assert keys, "the agent offered no key to the process that started the proxy"
        for key in keys:
            try:
                transport.auth_publickey(user, key)
                break
            except paramiko.AuthenticationException:
                continue
        assert transport.is_authenticated()
        channel = transport.open_session()
        channel.exec_command("echo hello from $PWD")
        out = b""
        while chunk := channel.recv(4096):
            out += chunk
        assert out.decode().strip() == f"hello from {world.sandbox(job)}"
        assert channel.recv_exit_status() == 0
    finally:
        transport.close()
        for a, b in pairs:
            a.close()
            b.close()
        proxy.wait(30)
    assert proxy.returncode == 0


@MULTIPLEXED
def test_progress_lines_before_the_version_line_do_not_stop_a_later_connection(world, tmp_path):
    job = world.submit("sleep", "600", idle=True)
    log = tmp_path / "ssh.log"  # a file: with -v the ControlPersist master keeps stderr open after ssh exits
    with open(log, "w") as err:
        ssh = subprocess.Popen(["ssh", "-v", "-F", str(world.ssh_config), "-o", "ProxyUseFdpass=no",
                                HOST.format(job), "echo connected"], env=world.env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=err, start_new_session=True)
    try:
        time.sleep(3)
        assert ssh.poll() is None, "ssh should still be waiting for the idle job"
        world.sim("release", job)
        assert ssh.wait(60) == 0, log.read_text()
        assert ssh.stdout.read().strip() == b"connected"
        assert "banner line 0: condor-job-proxy: job " in log.read_text()
    finally:
        world.run(["ssh", "-F", str(world.ssh_config), "-O", "exit", HOST.format(job)], check=False)
        ssh.stdout.close()
