"""A command a message prints works as printed, also when our scripts are not on PATH (a venv's bin)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from conftest import BIN, private_tmp, tool

BARE_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


@pytest.fixture
def user():
    """An isolated user whose PATH does not hold our scripts."""
    base = private_tmp("pc-")  # not under /tmp: the product refuses a runtime dir there
    (base / "home").mkdir()
    (base / "run").mkdir(mode=0o700)
    env = dict(os.environ, PATH=BARE_PATH, HOME=str(base / "home"), XDG_CONFIG_HOME=str(base / "config"),
               XDG_STATE_HOME=str(base / "state"), XDG_RUNTIME_DIR=str(base / "run"))
    yield base, env
    subprocess.run([tool("condor-job-ssh"), "sim", "stop", "--root", str(base / "pool")], env=env,
                   capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


def run(argv, env, **kw):
    return subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, **kw)


def quoted_command(text: str) -> str:
    found = re.findall(r"`([^`]+)`", text)
    assert found, text
    return found[-1]


def test_setup_sim_without_a_pool_warns_with_a_start_command_that_works(user):
    base, env = user
    root = base / "pool"
    done = run([tool("condor-job-ssh"), "setup", "--sim", str(root), "--yes"], env)
    assert done.returncode == 0, done.stderr
    warning = [line for line in done.stderr.splitlines() if "no simulated pool runs there" in line]
    assert len(warning) == 1 and "(no such directory)" in warning[0], done.stderr
    command = quoted_command(warning[0])
    assert command.startswith(str(BIN) + "/condor-job-ssh sim start"), command
    assert run(["sh", "-c", command], env).returncode == 0
    # with the pool up, setup says nothing about it, and the printed `sync` works as printed
    done = run([tool("condor-job-ssh"), "setup", "--sim", str(root), "--yes"], env)
    assert done.returncode == 0 and "no simulated pool" not in done.stderr
    changed = run([tool("condor-job-ssh"), "setup", "--sim", str(root), "--no-multiplex", "--yes"], env)
    assert changed.returncode == 0
    command = quoted_command(changed.stdout.splitlines()[-1])
    assert command == f"{BIN}/condor-job-ssh sync" and run(["sh", "-c", command], env).returncode == 0


def test_the_proxy_names_the_start_command_by_its_absolute_path(user):
    base, env = user
    done = run([tool("condor-job-proxy"), "--sim", str(base / "pool"), "--relay", "1.0.job.condor"], env)
    assert done.returncode == 1
    command = quoted_command(done.stderr)
    assert command == f"{BIN}/condor-job-ssh sim start --root {base / 'pool'}"
    assert run(["sh", "-c", command], env).returncode == 0


def test_doctor_and_sync_fixes_name_setup_by_its_absolute_path(user):
    base, env = user
    config = base / "home" / "ssh_config"
    config.write_text("Host example\n    User someone\n")
    done = run([tool("condor-job-ssh"), "doctor", "--ssh-config", str(config)], env)
    assert done.returncode == 1
    assert f"{BIN}/condor-job-ssh setup" in [line.strip() for line in done.stdout.splitlines()], done.stdout
    done = run([tool("condor-job-ssh"), "sync", "--ssh-config", str(config)], env)
    assert done.returncode == 1 and f"run `{BIN}/condor-job-ssh setup` first" in done.stderr
    # on PATH, the bare name is enough
    on_path = dict(env, PATH=f"{BIN}:{BARE_PATH}")
    done = run([tool("condor-job-ssh"), "sync", "--ssh-config", str(config)], on_path)
    assert "run `condor-job-ssh setup` first" in done.stderr


def test_names_from_a_pool_are_quoted_in_the_commands_we_suggest(tmp_path):
    """A schedd or pool name from a collector goes into `setup --route ...` as one word (issue 24, item 4)."""
    import shlex

    from proxycmd.backends.poolschedd import the_schedd
    from proxycmd.errors import ProxyError

    odd = "s1;touch pwned"
    for names in ([odd, "s2"], []):
        with pytest.raises(ProxyError) as refused:
            the_schedd("cm;id", names)
        words = shlex.split(quoted_command(str(refused.value)))
        assert words[:3] == ["condor-job-ssh", "setup", "--route"] and len(words) == 4, words
        assert words[3] in (f"SUFFIX={odd}@cm;id", "SUFFIX=SCHEDD@cm;id")
