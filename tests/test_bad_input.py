"""Bad input gets one line and a non-zero exit, never a traceback (issue 18, item 8): a ProxyCommand run
with its standard input and output closed, a bad option to the agent, paths holding control characters,
and output cut short by its reader (`setup --dry-run | head`)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import make_world, private_tmp, tool

CONTROL = "\r\n\x0c\x1b"


def _no_control(text: str) -> None:
    for line in text.splitlines():
        assert line.isprintable(), repr(line)


@pytest.fixture
def home():
    base = private_tmp("bi-")
    env = dict(os.environ, HOME=str(base), XDG_CONFIG_HOME=str(base / "config"), XDG_STATE_HOME=str(base / "state"))
    env.pop("XDG_RUNTIME_DIR", None)
    yield base, env
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def sim_world():
    made = make_world(backend="sim")
    yield next(made)
    next(made, None)


@pytest.mark.parametrize("closed, said", [("<&- >&-", "standard input and standard output are closed"),
                                          ("<&-", "standard input is closed"),
                                          (">&-", "standard output is closed")])
def test_the_proxy_with_stdin_or_stdout_closed_says_so_in_one_line(sim_world, closed, said):
    job = sim_world.submit("sleep", "600")
    command = f"exec '{tool('condor-job-proxy')}' --sim '{sim_world.sim_root}' --relay {job}.job.condor {closed}"
    done = subprocess.run(["sh", "-c", command], env=sim_world.env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"condor-job-proxy: {said}") and "ProxyCommand" in line, line


def test_a_bad_agent_option_is_one_line(home):
    _, env = home
    done = subprocess.run([tool("condor-job-proxy"), "agent", "--bogus"], env=env, capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["condor-job-proxy agent: unrecognized arguments: --bogus "
                                        "(see condor-job-proxy agent --help)"]


def test_control_characters_in_paths_are_escaped_not_printed(home):
    base, env = home
    sim = f"/nonexistent/a{CONTROL}b"
    done = subprocess.run([tool("condor-job-proxy"), "--sim", sim, "1.0.job.condor"], env=env, capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert "/nonexistent/a\\r\\n\\x0c\\x1bb" in line, line
    _no_control(done.stderr)

    weird = base / f"x{CONTROL}y"
    weird.mkdir()
    config = weird / "config"
    done = subprocess.run([tool("condor-job-ssh"), "setup", "--dry-run", "--ssh-config", str(config)], env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert f"--- {base}/x\\r\\n\\x0c\\x1by/config (now)" in done.stdout.splitlines()
    _no_control(done.stdout + done.stderr)
    done = subprocess.run([tool("condor-job-ssh"), "sync", "--ssh-config", str(config)], env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert "x\\r\\n\\x0c\\x1by/config has no managed block" in line, line


def test_dry_run_into_a_pipe_its_reader_closed_stops_quietly(home):
    base, env = home
    config = base / "ssh_config"
    config.write_text("".join(f"Host h{i}\n    User u\n" for i in range(2000)))
    proc = subprocess.Popen([tool("condor-job-ssh"), "setup", "--dry-run", "--ssh-config", str(config)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    proc.stdout.close()  # `| head` that has already exited
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) != 0
    assert err == "", err  # before: "condor-job-ssh: error: I/O error: Broken pipe"
