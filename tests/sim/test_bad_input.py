"""Bad input gets one line and a non-zero exit, never a traceback (issue 18, item 8): a ProxyCommand run
with its standard input and output closed, a bad option to the agent, paths holding control characters,
and output cut short by its reader (`setup --dry-run | head`)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import private_tmp, tool

pytestmark = pytest.mark.world(backends=["sim"])

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


@pytest.mark.parametrize("closed, said", [("<&- >&-", "standard input and standard output are closed"),
                                          ("<&-", "standard input is closed"),
                                          (">&-", "standard output is closed")])
def test_the_proxy_with_stdin_or_stdout_closed_says_so_in_one_line(world, closed, said):
    job = world.submit("sleep", "600")
    command = f"exec '{tool('condor-job-proxy')}' --sim '{world.sim_root}' --relay {job}.job.condor {closed}"
    done = subprocess.run(["sh", "-c", command], env=world.env, capture_output=True, text=True, timeout=60)
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


# ----- issue 24, item 4: tracebacks and floods instead of one line, values ssh cannot take ---------------------
def _settings_file(base) -> "os.PathLike":
    path = base / "config" / "condor-job-proxy" / "config.toml"
    path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    return path


def _setup(env, base, *args) -> subprocess.CompletedProcess:
    return subprocess.run([tool("condor-job-ssh"), "setup", "--yes", "--ssh-config", str(base / "ssh_config"),
                           "--runtime-dir", str(base / "run"), "--sim", str(base / "pool"), *args], env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("text, said", [
    ("a = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ("a = " + "{b = " * 5000 + "1" + "}" * 5000 + "\n", "nested too deeply"),
    ("server_alive_interval = " + "9" * 5000 + "\n", "not valid TOML"),
])
def test_a_config_toml_python_cannot_read_is_one_line(home, text, said):
    base, env = home
    _settings_file(base).write_text(text)
    done = _setup(env, base)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    [line] = done.stderr.strip().splitlines()
    assert said in line and len(line) < 1100, line[:300]


def test_200000_unknown_keys_are_one_warning_said_once(home, world):
    base, env = home
    _settings_file(base).write_text("".join(f"k{i} = {i}\n" for i in range(200000)))
    done = _setup(env, base)
    warnings = [line for line in done.stderr.splitlines() if "unknown key" in line]
    assert done.returncode == 0 and len(warnings) == 1, done.stderr[-2000:]
    assert "'k0', 'k1', 'k2', 'k3', 'k4' and 199995 more" in warnings[0]
    # the classic shim reads the settings in three places: it says the warning once too
    job = world.submit("sleep", "600")
    shim_env = dict(world.env, XDG_CONFIG_HOME=env["XDG_CONFIG_HOME"])
    _settings_file(base).write_text(f'sim_root = "{world.sim_root}"\nnot_a_key = 1\n')
    shim = subprocess.run([tool("condor-ssh-to-job"), job, "echo", "hi"], env=shim_env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert shim.stdout.endswith("hi\n") and shim.stderr.count("unknown key") == 1, shim.stderr


@pytest.mark.parametrize("key", ["server_alive_interval", "server_alive_count_max", "connect_timeout"])
def test_an_integer_too_large_for_ssh_is_refused_at_load(home, key):
    """ssh takes at most INT_MAX (readconf.c); 99999999999 once made every ssh on the machine fail."""
    base, env = home
    _settings_file(base).write_text(f"{key} = 99999999999\n")
    done = _setup(env, base)
    assert done.returncode == 1 and not (base / "ssh_config").exists(), done.stderr
    [line] = done.stderr.strip().splitlines()
    assert key in line and "2147483647" in line, line
    _settings_file(base).write_text(f"{key} = 2147483647\n")  # the largest ssh takes: written, and ssh reads it
    assert _setup(env, base).returncode == 0
    read = subprocess.run(["ssh", "-G", "-F", str(base / "ssh_config"), "1.0.job.condor"], capture_output=True,
                          text=True, env=env)
    assert read.returncode == 0 and f"{key.replace('_', '')} 2147483647" in read.stdout, read.stderr


@pytest.mark.parametrize("line, said", [('sim_root = "/' + "a" * 200000 + '"', "a path has fewer than 4096 bytes"),
                                        ('keygen_options = "-t ' + "x" * 200000 + '"', "at most 1000 characters")])
def test_a_value_too_long_for_the_proxycommand_is_refused_at_load(home, line, said):
    """Paths and ssh-keygen options go into every ProxyCommand, one shell word each (at most 128 KiB)."""
    base, env = home
    _settings_file(base).write_text(line + "\n")
    done = subprocess.run([tool("condor-job-ssh"), "setup", "--yes", "--ssh-config", str(base / "ssh_config"),
                           "--runtime-dir", str(base / "run")], env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 1 and not (base / "ssh_config").exists(), done.stderr[-500:]
    [line] = done.stderr.strip().splitlines()
    assert said in line and len(line) < 300, line[:300]


@pytest.mark.parametrize("persist", ["2147483648", "35791395m", "99999999999999999999999w"])
def test_a_control_persist_too_long_for_ssh_is_refused_at_setup(home, persist):
    base, env = home
    done = _setup(env, base, "--control-persist", persist)
    assert done.returncode == 1 and not (base / "ssh_config").exists(), done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "control_persist" in line and "2147483647" in line, line
    assert _setup(env, base, "--control-persist", "35791394m").returncode == 0  # 2147483640 s: ssh takes it
    read = subprocess.run(["ssh", "-G", "-F", str(base / "ssh_config"), "1.0.job.condor"], capture_output=True,
                          text=True, env=env)
    assert read.returncode == 0 and "controlpersist 2147483640" in read.stdout, read.stderr


def test_a_profile_with_a_2_mb_line_is_one_line_on_the_simulated_pool(world):
    from pathlib import Path

    profiles = Path(world.env["XDG_CONFIG_HOME"]) / "condor-job-proxy" / "profiles"
    profiles.mkdir(parents=True, exist_ok=True, mode=0o700)
    (profiles / "big.sub").write_text('request_cpus = 1\n+Junk = "' + "x" * (2 << 20) + '"\n')
    done = world.ssh("big.job.condor", "true", check=False)
    assert done.returncode == 255 and "Traceback" not in done.stderr, done.stderr[-2000:]
    from conftest import proxy_said

    [line] = proxy_said(done.stderr)
    assert "more than the 1048576 the pool takes" in line, line


@pytest.mark.world(backends=["condor"])
def test_a_listening_socket_passed_by_condor_ssh_to_job_is_one_sentence(world):
    import json

    from conftest import proxy_said

    (world.sim_root / "fake-faults.json").write_text(json.dumps({"pass_listening": True}))
    job = world.submit("sleep", "600")
    done = world.ssh(f"{job}.job.condor", "true", check=False)
    assert done.returncode == 255 and "banner exchange" not in done.stderr, done.stderr
    [line] = proxy_said(done.stderr)
    assert "condor_ssh_to_job sent a listening socket on" in line and "not a connection to the job" in line, line


@pytest.mark.skipif(os.getuid() != 0, reason="mounts a small tmpfs (root only)")
def test_the_classic_shim_on_a_full_disk_is_one_line(world):
    job = world.submit("sleep", "600")
    classic = world.rundir / "classic"
    classic.mkdir(mode=0o700, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k,mode=0700", "tmpfs", str(classic)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        subprocess.run(["dd", "if=/dev/zero", f"of={classic}/fill", "bs=1k", "count=64"], capture_output=True)
        done = world.run([tool("condor-ssh-to-job"), job, "true"], check=False)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("condor-ssh-to-job: cannot write ") and "No space left on device" in line, line
        assert [p.name for p in classic.iterdir()] == ["fill"]  # its key directory went, key and all
    finally:
        subprocess.run(["umount", str(classic)])


@pytest.mark.skipif(shutil.which("tcsh") is None, reason="needs tcsh (scripts/install.sh --test installs it)")
def test_with_a_tcsh_shell_a_name_with_a_bang_never_reaches_the_proxy(world):
    """ssh runs the ProxyCommand with $SHELL -c, and tcsh expands `!#:0` (the words typed so far) even inside
    the block's single quotes: a name built from such words could add options to our command line.  The
    block leaves any name with a '!' out; a plain name works with tcsh as the shell."""
    job = world.submit("sleep", "600")
    env = dict(world.env, SHELL=shutil.which("tcsh"))
    done = subprocess.run(world.ssh_argv(f"{job}.job.condor", "echo", "hi"), env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stdout == "hi\n", done.stderr
    for hostile in (f"{job}.job.condor!#:0", f"{job}!#:0-1.job.condor"):
        done = subprocess.run(world.ssh_argv("-v", hostile, "true"), env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 255, done.stderr
        assert "Executing proxy" not in done.stderr, done.stderr


def test_a_broken_htcondor_configuration_is_a_line_of_ours_and_doctor_still_shows_its_table(home):
    """`import htcondor2` ends the process from C when HTCondor's configuration has a syntax error: our
    commands try it in a child first and say one line (proxycmd/backends/condor/bindings.py)."""
    pytest.importorskip("htcondor2")
    base, env = home
    bad = base / "condor_config"
    bad.write_text("if garbage\n")
    env = dict(env, CONDOR_CONFIG=str(bad))
    said = f"HTCondor's configuration (CONDOR_CONFIG={bad}) does not load: Configuration Error Line 1"
    listed = subprocess.run([tool("condor-job-ssh"), "profile", "list"], env=env, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=120)
    assert listed.returncode == 1, listed.stderr
    assert listed.stderr.count("\n") == 1 and said in listed.stderr, listed.stderr
    doctor = subprocess.run([tool("condor-job-ssh"), "doctor", "--ssh-config", str(base / "ssh_config")], env=env,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert doctor.stdout.startswith("CHECK "), doctor.stdout + doctor.stderr
    assert "does not load" in " ".join(doctor.stdout.split()), doctor.stdout
    assert doctor.stdout.rstrip().splitlines()[-1].endswith("ok."), doctor.stdout
