"""End to end: the real OpenSSH client, sshd, scp, sftp and rsync reach jobs of the simulated pool through
`condor-job-proxy`, set up by `condor-job-ssh setup`."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import proxy_said, tool, wait_for
from ports import free_port
from sshstop import stop_ssh

pytestmark = pytest.mark.e2e

HOST = "{}.job.condor"


def job_pid(world, job_id: str) -> int:
    return world.job_pid(job_id)


def needs_pty(world) -> None:
    """A job's sshd, when it does not run as root, can give a session a terminal only where devpts is
    mounted with gid=5 (its chown of the pty to group tty fails otherwise): the real tier runs as an
    ordinary user, and some machines (this project's CI among them) mount /dev/pts without it."""
    if os.geteuid() != 0 and not _devpts_has_tty_gid():
        pytest.skip("no pty for a non-root job sshd: /dev/pts is mounted without gid=5 on this machine")


def _devpts_has_tty_gid() -> bool:
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[1] == "/dev/pts":
            return "gid=5" in fields[3].split(",")
    return True


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def idle_line(world, job: str) -> str:
    """What the proxy says of an idle job.  The sim and a real schedd say the job is idle; on the condor
    path through the fake only condor_ssh_to_job's own words are known (no schedd answers the bindings),
    and they say only that the job does not run yet."""
    if world.backend in ("sim", "real"):
        return f"job {job} is idle: it has not started running yet"
    return f"job {job} is not running yet"


def assert_clean(world) -> None:
    """No session key or host key is left with the agent once every ssh has exited."""
    assert wait_for(lambda: world.known_hosts_lines() == [], timeout=10), world.known_hosts_lines()
    status = world.agent_status()
    assert status is None or (status["keys"] == 0 and status["sessions"] == 0), status


def assert_no_private_key_on_disk(world) -> None:
    for path in world.base.rglob("*"):
        if world.sim_root in path.parents or not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # a temporary file renamed into place meanwhile (the agent's known_hosts)
            continue
        assert b"PRIVATE KEY" not in data, f"a private key was written to {path}"


@pytest.mark.also_real
def test_remote_command_and_exit_status(world):
    job = world.submit("sleep", "600")
    done = world.ssh(HOST.format(job), "echo", "hello from", "$PWD;", "exit", "7", check=False)
    assert done.returncode == 7, done.stderr
    assert done.stdout.strip() == f"hello from {world.sandbox(job)}"
    assert_no_private_key_on_disk(world)
    assert_clean(world)


@pytest.mark.also_real
def test_cluster_only_name_means_proc_zero(world):
    job = world.submit("sleep", "600")
    assert job.endswith(".0")
    done = world.ssh(HOST.format(job.split(".")[0]), "echo", "$_CONDOR_JOB_PIDS")
    assert done.stdout.split()[0] == str(job_pid(world, job))


@pytest.mark.also_real
def test_interactive_shell_in_job_cwd_with_job_pids(world):
    needs_pty(world)
    job = world.submit("sleep", "600", env={"MY_JOB_VAR": "from-the-job"})
    script = "echo CWD=$PWD; echo PIDS=$_CONDOR_JOB_PIDS; echo VAR=$MY_JOB_VAR; exit 3\n"
    done = world.run(world.ssh_argv("-tt", HOST.format(job)), check=False, input=script, stdin=None)
    assert done.returncode == 3, done.stderr
    out = done.stdout.replace("\r", "")
    assert f"CWD={world.sandbox(job)}\n" in out
    assert f"PIDS={job_pid(world, job)}\n" in out
    assert "VAR=from-the-job\n" in out


@pytest.mark.also_real
def test_scp_both_ways_64mib(world, tmp_path):
    job = world.submit("sleep", "600")
    src = tmp_path / "random.bin"
    src.write_bytes(os.urandom(64 << 20))
    world.run(["scp", "-F", str(world.ssh_config), str(src), f"{HOST.format(job)}:uploaded.bin"])
    assert sha256(world.sandbox(job) / "uploaded.bin") == sha256(src)
    back = tmp_path / "back.bin"
    world.run(["scp", "-F", str(world.ssh_config), f"{HOST.format(job)}:uploaded.bin", str(back)])
    assert back.stat().st_size == 64 << 20
    assert sha256(back) == sha256(src)
    assert_clean(world)


def _make_tree(root: Path) -> dict:
    files = {}
    for i in range(20):
        path = root / f"d{i % 4}" / f"sub{i % 3}" / f"f{i}.dat"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = os.urandom(1000 * i + 1)
        path.write_bytes(data)
        files[path.relative_to(root)] = data
    os.symlink("d0", root / "link")
    (root / "d1" / "exec.sh").write_text("#!/bin/sh\n")
    (root / "d1" / "exec.sh").chmod(0o750)
    return files


@pytest.mark.also_real
def test_rsync_tree_both_ways(world, tmp_path):
    job = world.submit("sleep", "600")
    src = tmp_path / "tree"
    files = _make_tree(src)
    rsh = f"ssh -F {world.ssh_config}"
    world.run(["rsync", "-a", "-e", rsh, f"{src}/", f"{HOST.format(job)}:tree/"])
    remote = world.sandbox(job) / "tree"
    for rel, data in files.items():
        assert (remote / rel).read_bytes() == data
    assert os.readlink(remote / "link") == "d0"
    assert (remote / "d1" / "exec.sh").stat().st_mode & 0o777 == 0o750
    back = tmp_path / "back"
    world.run(["rsync", "-a", "-e", rsh, f"{HOST.format(job)}:tree/", f"{back}/"])
    for rel, data in files.items():
        assert (back / rel).read_bytes() == data
    assert os.readlink(back / "link") == "d0"


@pytest.mark.also_real
def test_sftp_batch_put_and_get(world, tmp_path):
    job = world.submit("sleep", "600")
    local = tmp_path / "put.bin"
    local.write_bytes(os.urandom(3 << 20))
    batch = tmp_path / "batch"
    batch.write_text(f"put {local} put.bin\nget put.bin {tmp_path / 'got.bin'}\nls -l\n")
    done = world.run(["sftp", "-F", str(world.ssh_config), "-b", str(batch), HOST.format(job)])
    assert "put.bin" in done.stdout
    assert (world.sandbox(job) / "put.bin").read_bytes() == local.read_bytes()
    assert (tmp_path / "got.bin").read_bytes() == local.read_bytes()


def _socks5_get(proxy_port: int, port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", proxy_port), timeout=10) as s:
        s.sendall(b"\x05\x01\x00")
        assert s.recv(2) == b"\x05\x00"
        s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", port))
        reply = s.recv(10)
        assert reply[:2] == b"\x05\x00", reply
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


@pytest.mark.also_real
def test_local_and_dynamic_forwarding_to_a_server_in_the_job(world):
    port = free_port()
    job = world.submit("sh", "-c", f"echo job-says-hi > hello.txt; exec {sys.executable} -m http.server "
                       f"--bind 127.0.0.1 {port}")
    assert wait_for(lambda: (world.sandbox(job) / "hello.txt").exists())
    local, socks = free_port(), free_port()
    fwd = subprocess.Popen(world.ssh_argv("-N", "-o", "ExitOnForwardFailure=yes", "-L", f"{local}:127.0.0.1:{port}",
                                          "-D", f"127.0.0.1:{socks}", HOST.format(job)),
                           env=world.env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def fetch():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{local}/hello.txt", timeout=5).read()
            except OSError:
                return None
        assert wait_for(lambda: fetch() == b"job-says-hi\n", timeout=30), fwd.stderr
        assert _socks5_get(socks, port, "/hello.txt").endswith(b"\r\n\r\njob-says-hi\n")
    finally:
        stop_ssh(fwd)


def _parallel(world, hosts):
    procs = [subprocess.Popen(world.ssh_argv(h, "echo", f"ok-{i}", "$_CONDOR_JOB_PIDS"), env=world.env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, h in enumerate(hosts)]
    return [(p.wait(180), *p.communicate()) for p in procs]


@pytest.mark.also_real
def test_twelve_sessions_at_once_to_one_job(world):
    job = world.submit("sleep", "600")
    results = _parallel(world, [HOST.format(job)] * 12)
    for i, (code, out, err) in enumerate(results):
        assert code == 0, err
        assert out.split()[:2] == [f"ok-{i}", str(job_pid(world, job))]
    # a starter removes each session's directory when its sshd exits (docs/design-facts.md: "Interactive jobs and session directories")
    assert wait_for(lambda: not world.session_dirs(job), timeout=20)
    assert_no_private_key_on_disk(world)
    assert_clean(world)


@pytest.mark.also_real
def test_twelve_sessions_at_once_across_three_jobs(world):
    jobs = [world.submit("sleep", "600") for _ in range(3)]
    hosts = [HOST.format(jobs[i % 3]) for i in range(12)]
    results = _parallel(world, hosts)
    for i, (code, out, err) in enumerate(results):
        assert code == 0, err
        assert out.split()[:2] == [f"ok-{i}", str(job_pid(world, jobs[i % 3]))]
    assert_clean(world)


@pytest.mark.also_real
def test_idle_job_is_waited_for_then_connected(world):
    job = world.submit("sleep", "600", idle=True)
    ssh = subprocess.Popen(world.ssh_argv(HOST.format(job), "echo", "connected"), env=world.env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    assert ssh.poll() is None, "ssh should still be waiting for the idle job"
    world.release(job)
    out, err = ssh.communicate(timeout=60)
    assert ssh.returncode == 0, err
    assert out.strip() == "connected"
    assert idle_line(world, job) in err


@pytest.mark.also_real
def test_no_wait_fails_at_once_for_idle_job(world):
    job = world.submit("sleep", "600", idle=True)
    done = world.run([tool("condor-job-proxy"), *world.proxy_args(), "--no-wait", HOST.format(job)], check=False)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"condor-job-proxy: {idle_line(world, job)} (not waiting: --no-wait)"]


@pytest.mark.parametrize("how", ["sigint", "ssh-goes-away"])
def test_waiting_stops_on_interrupt_or_when_ssh_goes_away(world, how):
    job = world.submit("sleep", "600", idle=True)
    if how == "sigint":
        proxy = subprocess.Popen([tool("condor-job-proxy"), *world.proxy_args(), "--relay",
                                  HOST.format(job)], env=world.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        proxy.send_signal(signal.SIGINT)
        _, err = proxy.communicate(timeout=10)
        assert proxy.returncode == 130
        assert err.splitlines()[-1] == f"condor-job-proxy: stopped waiting for job {job} (interrupted)"
    else:
        ssh = subprocess.Popen(world.ssh_argv(HOST.format(job), "true"), env=world.env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_for(lambda: _proxies(world), timeout=10)
        ssh.kill()
        ssh.wait()
        assert wait_for(lambda: not _proxies(world), timeout=10), "the proxy kept waiting after ssh went away"


def _proxies(world):
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"condor-job-proxy" in cmd and str(world.base).encode() in cmd and b"agent" not in cmd:
                found.append(int(pid))
    return found


def _proxy_line(stderr: str) -> str:
    lines = proxy_said(stderr)
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.also_real
def test_held_completed_unknown_and_not_yours_fail_with_the_right_line(world):
    held = world.submit("sleep", "600")
    world.hold(held, "exceeded its memory request")
    done = world.submit("true", wait=False)
    world.wait_completed(done)
    theirs = world.other_users_job()
    expected = {
        held: f"condor-job-proxy: job {held} is held: exceeded its memory request",
        done: f"condor-job-proxy: job {done} has completed (exit code 0); there is nothing to connect to",
        "99.0": "condor-job-proxy: job 99.0 is not in the queue",
        theirs: f"condor-job-proxy: job {theirs} belongs to alice, not to you",
    }
    if world.backend == "condor":  # condor_ssh_to_job's words: finished jobs leave the queue, owners go unnamed
        expected[done] = f"condor-job-proxy: job {done} is not in the queue"
        expected[theirs] = f"condor-job-proxy: job {theirs} belongs to another user, not to you"
    if world.backend == "real":  # a completed job leaves a real queue; another user's job needs another account
        expected[done] = f"condor-job-proxy: job {done} is not in the queue"
        del expected[theirs]
    for job, line in expected.items():
        result = world.ssh(HOST.format(job), "true", check=False)
        assert result.returncode == 255
        assert _proxy_line(result.stderr).startswith(line), result.stderr
    release = "condor-job-ssh sim release" if world.backend == "sim" else "condor_release"
    assert f"{release} {held}" in _proxy_line(world.ssh(HOST.format(held), "true", check=False).stderr)
    assert_clean(world)


@pytest.mark.parametrize("name, why", [
    ("1.0.0.0.job.condor", "a schedd name cannot start with an all-digit label"),
    ("0.job.condor", "cluster 0 does not exist"),
    ("99999999999.job.condor", "out of range"),
    ("1.0.-x.job.condor", "is not a DNS label"),
])
def test_bad_host_names_fail_through_ssh(world, name, why):
    result = world.ssh(name, "true", check=False)
    assert result.returncode == 255
    line = _proxy_line(result.stderr)
    assert why in line and "expected CLUSTER[.PROC[.NODE]][.SCHEDD].job.condor" in line


def test_shell_metacharacters_are_refused_by_the_proxy_itself(world, tmp_path):
    marker = tmp_path / "pwned"
    name = f"1.0;touch {marker}.job.condor"
    done = world.run([tool("condor-job-proxy"), *world.proxy_args(), name], check=False)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and "';' is not allowed" in done.stderr
    assert not marker.exists()


@pytest.mark.also_real
def test_relay_mode_without_fdpass(world, tmp_path):
    job = world.submit("sleep", "600")
    src = tmp_path / "blob"
    src.write_bytes(os.urandom(5 << 20))
    world.run(["scp", "-F", str(world.ssh_config), "-o", "ProxyUseFdpass=no", str(src), f"{HOST.format(job)}:blob"])
    assert sha256(world.sandbox(job) / "blob") == sha256(src)
    out = world.run(world.ssh_argv("-o", "ProxyUseFdpass=no", HOST.format(job), "cat blob"), text=False)
    assert hashlib.sha256(out.stdout).hexdigest() == sha256(src)
    assert_clean(world)


@pytest.mark.also_real
def test_wrong_login_user_is_refused_with_the_command_to_use(world):
    job = world.submit("sleep", "600")
    if world.backend == "real":
        # A real 25.x starter preloads HTCondor's getpwnam library into the session's sshd and reports the
        # user as condor-user: any name that is no local account logs in as the job's owner (docs/design-facts.md: "How condor_ssh_to_job opens a session, step by step").
        assert world.ssh(f"anybody-at-all@{HOST.format(job)}", "id -un").stdout.strip() == \
            world.run(["id", "-un"]).stdout.strip()
        return
    result = world.ssh(f"nobody@{HOST.format(job)}", "true", check=False)
    user = world.run(["id", "-un"]).stdout.strip()
    assert result.returncode == 255
    assert _proxy_line(result.stderr) == (f"condor-job-proxy: job {job} runs as user {user!r} on the execute node, "
                                          f"not 'nobody'; connect with: ssh {user}@{HOST.format(job)}")


def test_a_pools_odd_user_name_is_quoted_in_the_command_we_suggest(tmp_path):
    """The account name comes from the pool (or the access point): pasting `connect with: ...` runs ssh with
    that name and nothing else (issue 24, item 4)."""
    import json
    import shlex

    from conftest import make_world

    odd = "a;touch${IFS}pwned;b"
    gen = make_world(backend="condor")
    world = next(gen)
    try:
        (world.sim_root / "fake-faults.json").write_text(json.dumps({"remote_user": odd}))
        job = world.submit("sleep", "600")
        result = world.ssh(f"nobody@{HOST.format(job)}", "true", check=False)
        line = _proxy_line(result.stderr)
        command = line.split("connect with: ", 1)[1]
        assert shlex.split(command) == ["ssh", f"{odd}@{HOST.format(job)}"], line
        pasted = subprocess.run(["sh", "-c", "ssh() { printf '%s\\n' \"$@\"; }; " + command], cwd=tmp_path,
                                capture_output=True, text=True)
        assert pasted.stdout == f"{odd}@{HOST.format(job)}\n" and not (tmp_path / "pwned").exists(), pasted
    finally:
        gen.close()


@pytest.mark.parametrize("keytype", ["ed25519", "ecdsa"])
def test_other_session_key_types(world, keytype):
    job = world.submit("sleep", "600")
    proxy = (f"{tool('condor-job-proxy')} --runtime-dir {world.rundir} {' '.join(world.proxy_args())} "
             f"--keygen-options '-t {keytype}' '%h'")
    # the session's own directory, read from inside it (it goes when the session's sshd exits)
    done = world.run(world.ssh_argv("-o", f"ProxyCommand={proxy}", HOST.format(job), "cat $_CONDOR_SCRATCH_DIR/.condor_ssh_to_job_*/sshkey.pub"))
    assert done.stdout.startswith("ssh-ed25519" if keytype == "ed25519" else "ecdsa-sha2")


def own_agent(world):
    """The test user's own ssh-agent (stopped with the world) holding a fresh key of theirs: (an environment
    whose SSH_AUTH_SOCK names it, the key's private file)."""
    key = world.base / "userkey"
    world.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "my-own-key", "-f", str(key)])
    sock = world.base / "user-agent.sock"
    started = world.run(["ssh-agent", "-s", "-a", str(sock)]).stdout
    agent_pid = int(started.split("SSH_AGENT_PID=")[1].split(";")[0])
    world.extra_cleanup.append(lambda: os.kill(agent_pid, signal.SIGTERM))
    env = dict(world.env, SSH_AUTH_SOCK=str(sock))
    world.run(["ssh-add", "-q", str(key)], env=env)
    return env, key


def test_forward_agent_forwards_the_users_own_keys(world):
    job = world.submit("sleep", "600")
    assert world.ssh(HOST.format(job), "echo ${SSH_AUTH_SOCK:-none}").stdout.strip() == "none"
    env, key = own_agent(world)
    world.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(world.ssh_config), "--forward-agent", "--yes"])
    listed = world.run(world.ssh_argv(HOST.format(job), "ssh-add -L"), env=env).stdout
    assert key.with_suffix(".pub").read_text().split()[1] in listed  # the user's key, inside the job
    assert_clean(world)


@pytest.mark.also_real
def test_forward_agent_works_through_the_backgrounded_controlmaster(world):
    """The default block multiplexes (ControlMaster auto, ControlPersist): after the first ssh logs in, its
    ControlMaster is a forked, backgrounded ssh that no proxy registered, and it serves the forwarded agent
    channels of that session and of every later one.  `ssh-add -l` in the job lists the user's own key
    there too, in the first session and in a later one over the master, and never a session key."""
    job = world.submit("sleep", "600")
    host = HOST.format(job)
    env, key = own_agent(world)
    world.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(world.ssh_config), "--forward-agent",
               "--multiplex", "--yes"])
    own = world.run(["ssh-keygen", "-lf", str(key.with_suffix(".pub"))]).stdout.split()[1]
    try:
        first = world.run(world.ssh_argv(host, "sleep 1; ssh-add -l"), env=env)  # the master is backgrounded by now
        assert world.run(world.ssh_argv("-O", "check", host), check=False).returncode == 0  # a live master
        later = world.run(world.ssh_argv(host, "ssh-add -l"), env=env)  # over the master: no proxy runs
        for listed in (first, later):
            lines = listed.stdout.splitlines()
            assert len(lines) == 1 and own in lines[0], listed.stdout + listed.stderr
    finally:
        world.run(world.ssh_argv("-O", "exit", host), check=False)
    assert_clean(world)


@pytest.mark.also_real
def test_setup_sync_then_tools_by_name_and_remove_leaves_no_trace(world, tmp_path):
    """The generator's promise, end to end: a user's own config, setup (multiplexing on), sync, then ssh, scp
    and rsync by the synced name; remove gives back the file byte for byte."""
    job = world.submit("sleep", "600")
    config = world.base / "home" / "user_config"
    original = (b"# my own settings\r\nHost *\r\n    ServerAliveInterval 5\r\n    IdentityFile ~/.ssh/id_nothere\r\n"
                b"    ControlMaster no\r\nInclude ~/.ssh/config.d/*\r\nHost build\r\n    HostName 192.0.2.7")
    config.write_bytes(original)
    cjs = tool("condor-job-ssh")
    world.run([cjs, "setup", "--ssh-config", str(config), "--multiplex", "--yes"])
    host = HOST.format(job)
    if world.backend in ("sim", "real"):  # sync asks the schedd; the fake condor_ssh_to_job has none behind it
        world.run([cjs, "sync", "--ssh-config", str(config)])
        assert f"\nHost {host}\n" in config.read_text()
    try:
        assert world.run(["ssh", "-F", str(config), host, "echo $PWD"]).stdout.strip() == str(world.sandbox(job))
        src = tmp_path / "data.bin"
        src.write_bytes(os.urandom(1 << 20))
        world.run(["scp", "-F", str(config), str(src), f"{host}:data.bin"])
        assert (world.sandbox(job) / "data.bin").read_bytes() == src.read_bytes()
        world.run(["rsync", "-a", "-e", f"ssh -F {config}", f"{host}:data.bin", str(tmp_path / "back.bin")])
        assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
        # one session opened for all of it: the later tools rode the ControlMaster connection
        assert len(world.session_dirs(job)) == 1
    finally:
        world.run(["ssh", "-F", str(config), "-O", "exit", host], check=False)
    world.run([cjs, "remove", "--ssh-config", str(config), "--yes"])
    assert config.read_bytes() == original
    assert_clean(world)


@pytest.mark.also_real
def test_errors_reach_the_terminal_even_when_controlpersist_silences_the_proxy(world):
    """With ControlPersist, ssh starts the ProxyCommand with stderr on /dev/null; the proxy's one line must
    still reach the user's terminal."""
    import pty

    job = world.submit("sleep", "600")
    world.hold(job, "over its disk quota")
    config = world.base / "home" / "multiplexed"
    world.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(config), "--multiplex", "--yes"])
    pid, fd = pty.fork()
    if pid == 0:  # the child: ssh on a fresh terminal, as a user would run it
        os.execvpe("ssh", ["ssh", "-F", str(config), HOST.format(job), "true"], world.env)
    seen = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 255
    assert f"condor-job-proxy: job {job} is held".encode() in seen, seen


# Run inside a session: the public half of this session's own key.  A starter removes a session's directory
# when its sshd exits, so the key is read while the session lives; the highest-numbered directory is ours
# (an older one may not have been reaped yet, a newer one cannot exist before we asked).
OWN_KEY = 'cat "$(ls -d "$_CONDOR_SCRATCH_DIR"/.condor_ssh_to_job_* | sort -V | tail -n 1)/sshkey.pub"'


@pytest.mark.also_real
def test_default_session_key_is_ecdsa_p256_end_to_end(world):
    """With the block setup wrote, the starter makes an ECDSA P-256 key: sshd offers it as host key, our
    known_hosts line names it, and the agent signs with it (ecdsa-sha2-nistp256)."""
    assert "--keygen-options" not in world.ssh_config.read_text()  # the proxy's own default applies
    job = world.submit("sleep", "600")
    session = subprocess.Popen(world.ssh_argv("-v", HOST.format(job), f"{OWN_KEY}; echo ok; sleep 60"), env=world.env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        public = session.stdout.readline().strip()
        assert session.stdout.readline().strip() == "ok"
        live_known_hosts = world.known_hosts_lines()  # while the session lives
    finally:
        session.kill()
        _, stderr = session.communicate(timeout=30)
    done = subprocess.CompletedProcess(session.args, session.returncode, "", stderr)
    assert public.startswith("ecdsa-sha2-nistp256 "), done.stderr
    key_blob = public.split()[1]
    assert "Server host key: ecdsa-sha2-nistp256 " in done.stderr
    listing = world.run(["ssh-keygen", "-lf", "/dev/stdin"], input=public, stdin=None).stdout.split()
    assert listing[0] == "256" and listing[-1] == "(ECDSA)"
    # the agent offered that very key, and sshd accepted its ecdsa-sha2-nistp256 signature
    assert f" ECDSA {listing[1]} agent\n" in done.stderr.split("Server accepts key: ", 1)[1], done.stderr
    assert "Authenticated to " in done.stderr
    assert f"{HOST.format(job)} ecdsa-sha2-nistp256 {key_blob}" in live_known_hosts


@pytest.mark.also_real
def test_setup_keygen_options_reach_the_starter_and_are_kept(world):
    job = world.submit("sleep", "600")
    cjs = tool("condor-job-ssh")
    world.run([cjs, "setup", "--ssh-config", str(world.ssh_config), "--keygen-options", "-t ed25519", "--yes"])
    pub = world.ssh(HOST.format(job), OWN_KEY).stdout  # the session's own key
    assert pub.startswith("ssh-ed25519 ")
    world.run([cjs, "setup", "--ssh-config", str(world.ssh_config), "--yes"])  # a bare setup keeps it
    assert "--keygen-options '-t ed25519'" in world.ssh_config.read_text()
    world.run([cjs, "setup", "--ssh-config", str(world.ssh_config), "--keygen-options", "", "--yes"])
    assert "--keygen-options '' " in world.ssh_config.read_text()  # explicit: not the proxy's ECDSA default
    assert world.ssh(HOST.format(job), OWN_KEY).stdout.startswith("ssh-rsa ")  # the starter's own default
    bad = world.run([cjs, "setup", "--ssh-config", str(world.ssh_config), "--keygen-options", "ed25519 -t",
                     "--yes"], check=False)
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1 and "keygen_options" in bad.stderr


# ----- issue 24, item 5: host names are case-insensitive, and a trailing dot names the same host -----------------
@pytest.mark.also_real
def test_any_case_and_a_trailing_dot_reach_the_job(world):
    """`Host *.job.condor` matched neither (readconf.c compares Host patterns case-sensitively with the name
    as typed): ssh then said "Could not resolve hostname"."""
    job = world.submit("sleep", "600")
    for spelling in ("{}.JOB.CONDOR", "{}.job.condor.", "{}.Job.Condor.", "{}.job.CONDOR"):
        host = spelling.format(job)
        done = world.ssh(host, "echo", "hi", check=False)
        assert (done.returncode, done.stdout) == (0, "hi\n"), (host, done.stderr)
    copied = world.run(["scp", "-F", str(world.ssh_config), f"{HOST.format(job)}.:/etc/hostname",
                        str(world.base / "copied")], check=False)
    assert copied.returncode == 0 and (world.base / "copied").exists(), copied.stderr


def test_any_spelling_shares_or_keeps_its_own_master_connection():
    """With ControlMaster, a host name in any case is the same %C (ssh lowercases %h): one master; the name
    with a trailing dot is another name to ssh (its own master), and works the same."""
    from conftest import make_world

    gen = make_world(multiplex=True)
    world = next(gen)
    try:
        job = world.submit("sleep", "600")
        host = HOST.format(job)
        world.ssh(host, "true")
        for spelling in (host.upper(), host.title()):
            check = world.run(world.ssh_argv("-O", "check", spelling), check=False)
            assert check.returncode == 0, (spelling, check.stderr)
        dotted = host + "."
        assert world.ssh(dotted, "echo", "dot").stdout == "dot\n"
        assert world.run(world.ssh_argv("-O", "check", dotted), check=False).returncode == 0
        assert world.ssh(dotted.upper(), "echo", "again").stdout == "again\n"
    finally:
        gen.close()
