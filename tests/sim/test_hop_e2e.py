"""End to end from a "laptop": no HTCondor tool on its PATH, `condor-job-ssh setup --via ap`, then the real
ssh, scp, rsync and sftp reach jobs of the simulated pool behind an access point that is a real sshd
daemon (tests/support/ap_fixture.py), where only the fake condor_ssh_to_job and condor_q run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ap_fixture import ALIAS, make_laptop
from conftest import flat_table, proxy_said, tool, wait_for
from ports import free_port
from sshstop import stop_ssh
from proxycmd import paths
from proxycmd.backends.hop import remote
from proxycmd.sim.client import SimPool
from test_e2e import _make_tree, _socks5_get, sha256

pytestmark = [pytest.mark.e2e, pytest.mark.world(via="ap", scope="module")]

HOST = "{}.job.condor"


def job_pid(lap, job_id: str) -> int:
    return next(j["pid"] for j in SimPool(lap.sim_root).jobs() if j["id"] == job_id)


def sandbox(lap, job_id: str) -> Path:
    return lap.sim_root / "execute" / f"dir_{job_id}"


def proxy_line(stderr: str) -> str:
    lines = proxy_said(stderr)
    assert len(lines) == 1, stderr
    return lines[0]


def assert_nothing_left(lap) -> None:
    """No session directory on the AP, no private key anywhere on the laptop, no key with the agent."""
    assert wait_for(lambda: lap.session_dirs() == [], timeout=15), lap.session_dirs()
    for path in lap.base.rglob("*"):
        if lap.sim_root in path.parents or path.name.startswith("id_ap") or path.name == "host_key" \
                or not path.is_file():
            continue
        assert b"PRIVATE KEY" not in path.read_bytes(), f"a private key was written to {path}"
    known = paths.known_hosts(lap.rundir)
    assert wait_for(lambda: not known.exists() or not known.read_text().strip(), timeout=10)


def test_the_laptop_has_no_htcondor_tool(world):
    for name in ("condor_ssh_to_job", "condor_q"):
        assert shutil.which(name, path=world.env["PATH"]) is None
    block = world.ssh_config.read_text()
    assert f"--via '{ALIAS}' --via-config '{world.ssh_config}'" in block


def test_remote_command_exit_status_and_job_environment(world):
    job = world.submit("sleep", "600")
    done = world.ssh(HOST.format(job), "echo", "$_CONDOR_JOB_PIDS", "$(pwd)", check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(job_pid(world, job)), str(sandbox(world, job))]
    assert world.ssh(HOST.format(job), "exit 7", check=False).returncode == 7
    assert_nothing_left(world)


def test_the_proxy_leaves_only_the_hops_ssh_in_the_data_path(world):
    job = world.submit("sleep", "600")
    ssh = subprocess.Popen(world.ssh_argv(HOST.format(job), "echo started; sleep 30"), env=world.env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert ssh.stdout.readline() == b"started\n"
        mine = str(world.base).encode()
        cmds = []
        for pid in os.listdir("/proc"):
            try:
                cmds.append(Path(f"/proc/{pid}/cmdline").read_bytes())
            except OSError:
                continue
        ours = [c for c in cmds if mine in c]
        assert not any(b"condor-job-proxy\0" in c or b"bin/condor-job-proxy" in c for c in ours
                       if b"agent" not in c), ours
        assert any(c.startswith(b"ssh\0-F\0") and b"\0ap\0" in c for c in ours), ours  # the hop itself
    finally:
        ssh.kill()
        ssh.wait()


def test_scp_both_ways(world, tmp_path):
    job = world.submit("sleep", "600")
    src = tmp_path / "random.bin"
    src.write_bytes(os.urandom(16 << 20))
    world.run(["scp", "-F", str(world.ssh_config), str(src), f"{HOST.format(job)}:uploaded.bin"])
    assert sha256(sandbox(world, job) / "uploaded.bin") == sha256(src)
    back = tmp_path / "back.bin"
    world.run(["scp", "-F", str(world.ssh_config), f"{HOST.format(job)}:uploaded.bin", str(back)])
    assert sha256(back) == sha256(src)
    assert_nothing_left(world)


def _ap_relays(lap) -> list:
    """What relays each live session on the AP: "python" (remote.AP_RELAY, with the AP's own interpreter)
    or "condor_ssh_to_job" (its -proxy, here the fake's)."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"-proxy" in argv and any(str(lap.ap_tmp).encode() in word for word in argv):
            found.append("python" if argv[1:4] == [b"-I", b"-S", b"-c"] else "condor_ssh_to_job")
    return found


def check_the_ap_relay(world, tmp_path, ap_python, relay, *, mib: int, job_dir, timeout: float) -> None:
    """The AP relays a session with *relay* when $CONDOR_JOB_PROXY_AP_PYTHON is *ap_python* (None: unset);
    *mib* MiB arrive both ways (in the job's directory, *job_dir(job)*), and the end of the input reaches
    the job, which answers after it (a half-close).  Shared with test_real_hop.py."""
    if relay == "python" and not os.access(remote.AP_PYTHONS[0], os.X_OK):
        pytest.skip(f"the AP has no {remote.AP_PYTHONS[0]}")
    env = dict(world.env)
    env.pop(remote.AP_PYTHON_ENV, None)
    if ap_python is not None:
        env[remote.AP_PYTHON_ENV] = ap_python
    job = world.submit("sleep", "600")
    ssh = subprocess.Popen(world.ssh_argv(HOST.format(job), "echo started; sleep 30"), env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert ssh.stdout.readline() == b"started\n", ssh.stderr.read()
        assert _ap_relays(world) == [relay]
    finally:
        ssh.kill()
        ssh.wait()
    src = tmp_path / "random.bin"
    src.write_bytes(os.urandom(mib << 20))
    world.run(["scp", "-F", str(world.ssh_config), str(src), f"{HOST.format(job)}:up.bin"], env=env)
    assert sha256(job_dir(job) / "up.bin") == sha256(src)
    back = tmp_path / "back.bin"
    world.run(["scp", "-F", str(world.ssh_config), f"{HOST.format(job)}:up.bin", str(back)], env=env)
    assert sha256(back) == sha256(src)
    done = subprocess.run(world.ssh_argv(HOST.format(job), "sha256sum; echo after-the-end"), env=env,
                          input=src.read_bytes(), capture_output=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [sha256(src).encode(), b"-", b"after-the-end"]
    assert_nothing_left(world)


@pytest.mark.parametrize("ap_python, relay", [(None, "python"), ("", "condor_ssh_to_job"),
                                              ("/nonexistent/python3", "condor_ssh_to_job")])
def test_the_ap_relays_with_its_own_python_else_with_condor_ssh_to_jobs(world, tmp_path, ap_python, relay):
    """The AP's /usr/bin/python3 relays the session (splice); without one (or with none allowed), the relay
    condor_ssh_to_job gave runs.  Either way every byte arrives both ways, and the end of the input reaches
    the job, which answers after it (a half-close)."""
    check_the_ap_relay(world, tmp_path, ap_python, relay, mib=8, job_dir=lambda job: sandbox(world, job),
                       timeout=120)


FLOODER = """#!/bin/sh
# a hostile "python" on the AP: floods the session's channel (300 MiB) and its stderr (64 MiB) instead of relaying
head -c 314572800 /dev/zero | tr '\\0' x &
head -c 67108864 /dev/zero | tr '\\0' y >&2
wait
"""


def test_a_relay_that_floods_instead_is_bounded(world, tmp_path):
    """What comes after the header is the job sshd's to say: a flood there ends the connection with ssh's one
    line, soon; the flood on stderr, which nobody reads after the header, reaches no one.  (The hop's ssh
    then waits for the AP's command to end, as OpenSSH does: stopped here, which ends the flood too.)"""
    flooder = tmp_path / "python3"
    flooder.write_text(FLOODER)
    flooder.chmod(0o755)
    env = dict(world.env, **{remote.AP_PYTHON_ENV: str(flooder)})
    job = world.submit("sleep", "600")
    start = time.monotonic()
    done = subprocess.run(world.ssh_argv(HOST.format(job), "true"), env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=120)
    assert done.returncode == 255 and done.stdout == b""
    assert 0 < len(done.stderr) < 2000, done.stderr[:2000]
    assert time.monotonic() - start < 60
    for pid in _hops(world):
        os.kill(pid, signal.SIGTERM)
    assert wait_for(lambda: not _pids_running(str(flooder)) and not _hops(world), timeout=60)


def _pids_running(word: str) -> list:
    found = []
    for pid in os.listdir("/proc"):
        try:
            if word.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            continue
    return found


def test_rsync_tree_both_ways(world, tmp_path):
    job = world.submit("sleep", "600")
    src = tmp_path / "tree"
    files = _make_tree(src)
    rsh = f"ssh -F {world.ssh_config}"
    world.run(["rsync", "-a", "-e", rsh, f"{src}/", f"{HOST.format(job)}:tree/"])
    remote = sandbox(world, job) / "tree"
    for rel, data in files.items():
        assert (remote / rel).read_bytes() == data
    assert (remote / "d1" / "exec.sh").stat().st_mode & 0o777 == 0o750
    back = tmp_path / "back"
    world.run(["rsync", "-a", "-e", rsh, f"{HOST.format(job)}:tree/", f"{back}/"])
    for rel, data in files.items():
        assert (back / rel).read_bytes() == data
    assert os.readlink(back / "link") == "d0"


def test_sftp_put_and_get(world, tmp_path):
    job = world.submit("sleep", "600")
    local = tmp_path / "put.bin"
    local.write_bytes(os.urandom(3 << 20))
    batch = tmp_path / "batch"
    batch.write_text(f"put {local} put.bin\nget put.bin {tmp_path / 'got.bin'}\n")
    world.run(["sftp", "-F", str(world.ssh_config), "-b", str(batch), HOST.format(job)])
    assert (sandbox(world, job) / "put.bin").read_bytes() == local.read_bytes()
    assert (tmp_path / "got.bin").read_bytes() == local.read_bytes()


def test_local_and_dynamic_forwarding_to_a_server_in_the_job(world):
    port = free_port()
    job = world.submit("sh", "-c", f"echo job-says-hi > hello.txt; exec {sys.executable} -m http.server "
                        f"--bind 127.0.0.1 {port}")
    assert wait_for(lambda: (sandbox(world, job) / "hello.txt").exists())
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
        assert wait_for(lambda: fetch() == b"job-says-hi\n", timeout=30)
        assert _socks5_get(socks, port, "/hello.txt").endswith(b"\r\n\r\njob-says-hi\n")
    finally:
        stop_ssh(fwd)


def test_twelve_sessions_at_once(world):
    jobs = [world.submit("sleep", "600") for _ in range(3)]
    procs = [subprocess.Popen(world.ssh_argv(HOST.format(jobs[i % 3]), "echo", f"ok-{i}", "$_CONDOR_JOB_PIDS"),
                              env=world.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(12)]
    results = [(p.wait(180), *p.communicate()) for p in procs]
    for i, (code, out, err) in enumerate(results):
        assert code == 0, err
        assert out.split()[:2] == [f"ok-{i}", str(job_pid(world, jobs[i % 3]))]  # then live sessions' sshd
    assert_nothing_left(world)


def test_idle_job_is_waited_for_then_reached(world):
    job = world.submit("sleep", "600", idle=True)
    (world.sim_root / "fake-faults.json").write_text('{"retry_delay": 1}')
    ssh = subprocess.Popen(world.ssh_argv(HOST.format(job), "echo", "connected"), env=world.env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)
        assert ssh.poll() is None, "ssh should still be waiting for the idle job"
        world.sim("release", job)
        out, err = ssh.communicate(timeout=60)
    finally:
        (world.sim_root / "fake-faults.json").unlink()
    assert ssh.returncode == 0, err
    assert out.strip() == "connected"
    assert f"condor-job-proxy: job {job} is idle: it has not started running yet; waiting for it to run" in err


def test_a_running_job_whose_starter_is_busy_is_waited_for_as_starting(world):
    """As a docker job's starter during `docker start`: the schedd cannot reach it, condor_ssh_to_job on the
    AP prints only its retry hint, and the AP's condor_q says Running."""
    job = world.submit("sleep", "600")
    (world.sim_root / "fake-faults.json").write_text('{"starter_busy": 2}')
    try:
        done = world.ssh(HOST.format(job), "echo", "connected", check=False)
    finally:
        (world.sim_root / "fake-faults.json").unlink()
    assert (done.returncode, done.stdout) == (0, "connected\n"), done.stderr
    assert f"condor-job-proxy: job {job} is running, but its starter does not answer yet (a container job's " \
           "starter is busy until Docker has started the container); waiting for it to be ready" in done.stderr
    assert f"condor-job-proxy: job {job} is ready after" in done.stderr


def test_held_unknown_and_not_yours_are_refused_with_one_sentence(world):
    held = world.submit("sleep", "600")
    world.sim("hold", held, "--reason", "exceeded its memory request")
    theirs = world.run([tool("condor-job-ssh"), "sim", "submit", "--owner", "alice", "--root",
                         str(world.sim_root), "--", "sleep", "600"]).stdout.strip()
    expected = {held: f"condor-job-proxy: job {held} is held: exceeded its memory request",
                "99.0": "condor-job-proxy: job 99.0 is not in the queue (it may have finished or been removed)",
                theirs: f"condor-job-proxy: job {theirs} belongs to another user, not to you"}
    for job, line in expected.items():
        done = world.ssh(HOST.format(job), "true", check=False)
        assert done.returncode == 255
        assert proxy_line(done.stderr).startswith(line), done.stderr
    assert_nothing_left(world)


@pytest.mark.parametrize("dest, line", [
    (f"{ALIAS}-dead", "condor-job-proxy: cannot reach the access point ap-dead with ssh: ssh: connect to host "
                      "127.0.0.1 port"),
    (f"{ALIAS}-bare", "condor-job-proxy: the access point ap-bare has no condor_ssh_to_job on PATH"),
    (f"{ALIAS}-says", "condor-job-proxy: the access point ap-says closed the connection before opening a session "
                      "to job 1.0: This account is locked: see https://help.example/locked"),
])
def test_an_unreachable_ap_or_one_without_htcondor_is_one_sentence(world, dest, line):
    """At once: an AP that prints a line and closes (issue 24, item 4) once made ssh wait 330 s."""
    start = time.monotonic()
    done = world.run([tool("condor-job-proxy"), "--via", dest, "--via-config", str(world.ssh_config),
                       "--relay", "1.0.job.condor"], check=False, timeout=60)
    assert time.monotonic() - start < 20
    assert done.returncode == 1
    assert done.stderr.startswith(line) and len(done.stderr.splitlines()) == 1, done.stderr


def test_sync_lists_the_users_jobs_through_the_hop(world):
    job = world.submit("sleep", "600")
    world.run([tool("condor-job-ssh"), "sim", "submit", "--owner", "alice", "--root", str(world.sim_root), "--",
                "sleep", "600"])
    done = world.run([tool("condor-job-ssh"), "sync", "--ssh-config", str(world.ssh_config)])
    block = world.ssh_config.read_text()
    assert f"Host {HOST.format(job)}\n    # cmd: sleep 600 | on: slot" in block, done.stdout
    listed = [line for line in block.splitlines() if line.startswith("Host ") and line.endswith(".job.condor")]
    mine = {f"Host {HOST.format(j['id'])}" for j in SimPool(world.sim_root).jobs()
            if j["owner"] != "alice" and j["status"] == "running"}
    assert set(listed) == mine
    assert world.ssh(HOST.format(job), "true", check=False).returncode == 0  # the synced name reaches the job


def test_doctor_checks_the_hop(world):
    from proxycmd.backends.hop.checks import check_hop

    env = dict(os.environ)
    os.environ.update({"HOME": world.env["HOME"]})
    try:
        ok, line = check_hop(ALIAS, str(world.ssh_config))
        assert ok, line
        assert line.startswith(f"{ALIAS} is reachable without a prompt and has HTCondor's tools"), line
        ok, line = check_hop(f"{ALIAS}-bare", str(world.ssh_config))
        assert not ok and "has no condor_ssh_to_job or condor_q on PATH" in line
        ok, line = check_hop(f"{ALIAS}-dead", str(world.ssh_config))
        assert not ok and line.startswith(f"cannot reach the access point {ALIAS}-dead without a prompt")
    finally:
        os.environ.clear()
        os.environ.update(env)


def test_a_tcsh_login_shell_on_the_ap():
    gen = make_laptop("tcsh")
    lap = next(gen)
    try:
        lap.setup("--no-multiplex")
        job = lap.submit("sleep", "600")
        done = lap.ssh(HOST.format(job), "echo", "$_CONDOR_JOB_PIDS", check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [str(job_pid(lap, job))]
        assert lap.ssh(HOST.format(job), "exit 3", check=False).returncode == 3
        held = lap.submit("sleep", "600")
        lap.sim("hold", held, "--reason", "it's over quota!")
        done = lap.ssh(HOST.format(held), "true", check=False)
        assert proxy_line(done.stderr) == (f"condor-job-proxy: job {held} is held: it's over quota!; after fixing "
                                           f"the cause, release it with: ssh ap condor_release {held}")
        lap.run([tool("condor-job-ssh"), "sync", "--ssh-config", str(lap.ssh_config)])
        assert f"Host {HOST.format(job)}\n" in lap.ssh_config.read_text()
        assert_nothing_left(lap)
    finally:
        try:
            next(gen)
        except StopIteration:
            pass


def test_doctor_command_checks_the_access_point(world):
    done = world.run([tool("condor-job-ssh"), "doctor", "--ssh-config", str(world.ssh_config)], check=False)
    flat = flat_table(done.stdout)  # doctor wraps its table at 80 columns
    row = flat[flat.index("access point "):flat.index(" ssh config ")]  # this check's row alone
    assert row.startswith(f"access point OK {ALIAS} is reachable"), done.stdout
    assert row.endswith("(CondorVersion: 25.14.1 2026-09-24 BuildID: condor-job-proxy-fake)"), done.stdout
    assert "condor_ssh_to_job" not in row.replace("has HTCondor's tools", ""), done.stdout


def _hops(lap):
    found = []
    for pid in os.listdir("/proc"):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd[:3] == [b"ssh", b"-F", str(lap.ssh_config).encode()] and ALIAS.encode() in cmd:
            found.append(int(pid))
    return found


def test_the_hop_survives_a_hangup_or_ctrl_c_meant_for_the_terminal(world):
    job = world.submit("sleep", "600")
    ssh = subprocess.Popen(world.ssh_argv(HOST.format(job), "echo started; sleep 3; echo finished"),
                           env=world.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert ssh.stdout.readline() == b"started\n"
        hops = _hops(world)
        assert len(hops) == 1
        os.kill(hops[0], signal.SIGHUP)
        os.kill(hops[0], signal.SIGINT)
        out, err = ssh.communicate(timeout=30)
        assert (ssh.returncode, out) == (0, b"finished\n"), err
    finally:
        if ssh.poll() is None:
            ssh.kill()
    assert wait_for(lambda: not _hops(world), timeout=10)  # and it ends with the session


def test_with_multiplexing_and_a_control_master_for_the_ap():
    """The setup docs/laptop.md recommends: job connections shared (setup's default) and one master
    connection to the AP that every hop rides on."""
    gen = make_laptop("bash")
    lap = next(gen)
    try:
        text = lap.ssh_config.read_text().replace(
            f"Host {ALIAS}\n", f"Host {ALIAS}\n    ControlMaster auto\n    ControlPath {lap.base}/ap-cm-%C\n"
                               "    ControlPersist 60\n", 1)
        lap.ssh_config.write_text(text)
        lap.setup()
        jobs = [lap.submit("sleep", "600") for _ in range(2)]
        for job in jobs + jobs:
            done = lap.ssh(HOST.format(job), "echo", "$_CONDOR_JOB_PIDS", check=False)
            assert (done.returncode, done.stdout.split()) == (0, [str(job_pid(lap, job))]), done.stderr
        assert lap.run(lap.ssh_argv("-O", "check", ALIAS), check=False).returncode == 0  # the AP's master runs
        # 12 job connections at once, none shared, each held open a while: 12 hops on the AP's master, more
        # than the AP's MaxSessions (10) lets one connection carry
        procs = [subprocess.Popen(lap.ssh_argv("-o", "ControlMaster=no", "-o", "ControlPath=none",
                                               HOST.format(jobs[i % 2]), f"echo ok-{i}; sleep 4"), env=lap.env,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(12)]
        for i, p in enumerate(procs):
            out, err = p.communicate(timeout=120)
            assert (p.returncode, out) == (0, f"ok-{i}\n"), err
        for host in [HOST.format(job) for job in jobs] + [ALIAS]:
            lap.run(lap.ssh_argv("-O", "exit", host), check=False)
        assert_nothing_left(lap)
    finally:
        try:
            next(gen)
        except StopIteration:
            pass


def test_the_users_own_options_for_the_ap_cannot_break_the_hop(world):
    """A RemoteCommand, a LocalCommand, a forced terminal, agent and port forwarding set for the AP in the
    user's config, and a login script there that prints a greeting: the hop still carries the job's sshd
    and nothing else."""
    job = world.submit("sleep", "600")
    done = world.run([tool("condor-job-proxy"), "--via", f"{ALIAS}-noisy", "--via-config", str(world.ssh_config),
                       "--relay", HOST.format(job)], check=False, text=False)
    assert done.stdout.startswith(b"SSH-2.0-OpenSSH"), (done.stdout[:200], done.stderr)


def test_ssh_to_job_disabled_by_the_pool_is_one_sentence(world):
    job = world.submit("sleep", "600")
    faults = world.sim_root / "fake-faults.json"
    faults.write_text('{"starter_disabled": true}')
    try:
        done = world.ssh(HOST.format(job), "true", check=False)
    finally:
        faults.unlink()
    assert done.returncode == 255
    assert proxy_line(done.stderr).startswith(f"condor-job-proxy: job {job} may not be reached with ssh: its "
                                              "execute node"), done.stderr
    assert "ENABLE_SSH_TO_JOB = false" in done.stderr


def test_the_backend_lists_and_removes_jobs_through_the_hop(world):
    from proxycmd.backends.hop.backend import HopBackend
    from proxycmd.hostname import parse_job_id

    job = world.submit("sleep", "600")
    backend = HopBackend(ALIAS, config=str(world.ssh_config))
    assert job in [j.job_id for j in backend.list_jobs()]
    backend.remove_job(parse_job_id(job), reason="done with it")
    assert wait_for(lambda: next(j["status"] for j in SimPool(world.sim_root).jobs() if j["id"] == job)
                    == "removed", timeout=20)
    assert job not in [j.job_id for j in backend.list_jobs(include_idle=True)]


def test_no_wait_says_why_the_job_does_not_run(world):
    job = world.submit("sleep", "600", idle=True)
    done = world.run([tool("condor-job-proxy"), "--via", ALIAS, "--via-config", str(world.ssh_config), "--no-wait",
                       "--relay", HOST.format(job)], check=False)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"condor-job-proxy: job {job} is idle: it has not started running yet "
                                        "(not waiting: --no-wait)"]


def test_any_case_and_a_trailing_dot_reach_the_job_through_the_hop(world):
    job = world.submit("sleep", "600")
    for host in (HOST.format(job).upper(), HOST.format(job) + "."):
        done = world.ssh(host, "echo", "hi", check=False)
        assert (done.returncode, done.stdout) == (0, "hi\n"), (host, done.stderr)
    assert_nothing_left(world)
