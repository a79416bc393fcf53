"""Shared fixtures: an isolated user (HOME, config, state and runtime dirs), a simulated pool, an ssh config
written by the real `condor-job-ssh setup`, and helpers that run the real OpenSSH tools against it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Tests sit by tier (unit/, sim/, real/) and their helpers in support/; each is put on sys.path here, so a
# helper (`import realpool`) or another module's test helpers (`from test_e2e import sha256`) import by name
# from any tier, whichever tier pytest collects first.  Basenames are unique across tiers (test_structure).
for _dir in ("support", "unit", "sim", "real"):
    if str(REPO / "tests" / _dir) not in sys.path:
        sys.path.insert(0, str(REPO / "tests" / _dir))
FAKES = Path(__file__).resolve().parent / "support" / "fakes"


def _ignore_here_only(signum, frame) -> None:
    """SIGINT or SIGHUP, which this run's starter ignored: still ignored in pytest itself."""


# Started in the background (sh's `&` ignores SIGINT) or under nohup (SIGHUP), pytest inherits those signals
# ignored, and every program the tests start would too: the tests that interrupt a proxy or a shim would then
# test the runner, not the product.  A handler, unlike SIG_IGN, is not inherited across exec.
for _signum in (signal.SIGINT, signal.SIGHUP):
    if signal.getsignal(_signum) == signal.SIG_IGN:
        signal.signal(_signum, _ignore_here_only)
FAKE_POOL_ENV = "CONDOR_JOB_PROXY_FAKE_POOL"  # where tests/support/fakes/condor_ssh_to_job finds its pool
BACKENDS = ["sim", "condor"]


def tool(name: str) -> str:
    """Our console script next to this interpreter (not a pyenv shim), else on PATH."""
    candidate = BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (pip install -e .)")
    return found


@dataclass
class World:
    """One isolated user with one simulated pool and an ssh config that reaches it.

    backend "sim": the proxy asks the pool itself (--sim).  backend "condor": the proxy runs
    condor_ssh_to_job, which is tests/support/fakes/condor_ssh_to_job playing HTCondor's tool on the same pool.
    """

    base: Path
    env: Dict[str, str]
    sim_root: Path
    ssh_config: Path
    rundir: Path
    backend: str = "sim"
    extra_cleanup: List = field(default_factory=list)

    # ----- pool -----------------------------------------------------------------------------------
    def sim(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run([tool("condor-job-ssh"), "sim", *args, "--root", str(self.sim_root)], check=check)

    def submit(self, *cmd: str, idle: bool = False, env: Optional[Dict[str, str]] = None, wait: bool = True,
               schedd: Optional[str] = None) -> str:
        """A job running *cmd* (idle: it waits until released); the sim's submit returns at once, *wait* is
        for real pools (RealWorld), where it means: until the job can be reached.  *schedd*: one of the
        simulated pool's named schedds (make_world(schedds=...))."""
        args = ["submit"] + (["--idle"] if idle else []) + (["--schedd", schedd] if schedd else [])
        for key, value in (env or {}).items():
            args += ["--env", f"{key}={value}"]
        out = self.run([tool("condor-job-ssh"), "sim", *args, "--root", str(self.sim_root), "--", *cmd]).stdout
        return out.strip()

    def sandbox(self, job_id: str) -> Path:
        return self.sim_root / "execute" / f"dir_{job_id}"

    def session_dirs(self, job_id: str) -> List[Path]:
        """The job's live .condor_ssh_to_job_N session directories (in its scratch directory)."""
        return sorted(self.sandbox(job_id).glob(".condor_ssh_to_job_*"))

    # ----- tools ----------------------------------------------------------------------------------
    def run(self, argv: List[str], check: bool = True, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("stdin", subprocess.DEVNULL)
        env = kw.pop("env", self.env)
        done = subprocess.run(argv, env=env, capture_output=True, text=kw.pop("text", True), timeout=timeout, **kw)
        if check and done.returncode != 0:
            raise AssertionError(f"{argv} exited {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}")
        return done

    def proxy_args(self) -> List[str]:
        """The condor-job-proxy options that reach this world's pool through its backend."""
        return ["--sim", str(self.sim_root)] if self.backend == "sim" else []

    def ssh_argv(self, *args: str) -> List[str]:
        return ["ssh", "-F", str(self.ssh_config), *args]

    def ssh(self, host: str, *command: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
        return self.run(self.ssh_argv(host, *command), check=check, **kw)

    def known_hosts_lines(self) -> List[str]:
        from proxycmd import paths

        path = paths.known_hosts(self.rundir)
        return [line for line in path.read_text().splitlines() if line.strip()] if path.exists() else []

    def agent_status(self):
        from proxycmd.agent import client

        return client.status(self.rundir)

    # ----- steering a job the same way on every backend ------------------------------------------------
    def hold(self, job: str, reason: str) -> None:
        self.sim("hold", job, "--reason", reason)

    def release(self, job: str) -> None:
        """Let an idle (submitted with idle=True) or held job run."""
        self.sim("release", job)

    def rm(self, job: str) -> None:
        self.sim("rm", job)

    def job_pid(self, job: str) -> int:
        from proxycmd.sim.client import SimPool

        return next(j["pid"] for j in SimPool(self.sim_root).jobs() if j["id"] == job)

    def job_status(self, job: str) -> str:
        """idle, running, held, completed, removed (the sim keeps finished jobs; a real queue forgets them:
        RealWorld says "gone" for both)."""
        from proxycmd.sim.client import SimPool

        return next(j["status"] for j in SimPool(self.sim_root).jobs() if j["id"] == job)

    def wait_completed(self, job: str) -> None:
        from proxycmd.sim.client import SimPool

        assert wait_for(lambda: any(j["id"] == job and j["status"] == "completed"
                                    for j in SimPool(self.sim_root).jobs()), timeout=30)

    def other_users_job(self) -> Optional[str]:
        """A running job of another user, where the backend can make one."""
        return self.run([tool("condor-job-ssh"), "sim", "submit", "--owner", "alice", "--root", str(self.sim_root),
                         "--", "sleep", "600"]).stdout.strip()


def safe_tmp_root() -> Path:
    """Where tests make their homes and runtime directories: a private directory under the real user's
    home (or $CJP_TEST_TMP), short enough for unix socket paths.  Not /tmp: the product refuses a runtime
    directory under a directory other users can write (proxycmd/paths.py, the safe-chain rule)."""
    import pwd

    root = Path(os.environ.get("CJP_TEST_TMP") or Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cjp-t")
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root


_MADE: List[Path] = []  # what _short_tmp made in this process: removed when the session ends


def _short_tmp(prefix: str) -> Path:
    # unix socket paths must stay under 104 bytes: pytest's tmp_path is often too long (and under /tmp)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=safe_tmp_root()))
    path.chmod(0o700)
    _MADE.append(path)
    return path


private_tmp = _short_tmp


def pytest_sessionfinish(session, exitstatus):
    """Remove every directory _short_tmp made that its test left (each run left some behind before)."""
    while _MADE:
        shutil.rmtree(_MADE.pop(), ignore_errors=True)


def _kill_pool_leftovers(sim_root: Path) -> None:
    pidfile = sim_root / "pool.pid"
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
        except (ValueError, ProcessLookupError):
            pass


WORLD_OPTIONS = {"backends", "via", "multiplex", "keygen_options", "schedds", "setup", "pool_args", "scope"}


def world_options(node) -> dict:
    """The `world` marker closest to *node* (a test, or its module's pytestmark), its words checked."""
    mark = node.get_closest_marker("world")
    options = dict(mark.kwargs) if mark else {}
    unknown = set(options) - WORLD_OPTIONS
    if unknown or (mark and mark.args):
        raise pytest.UsageError(f"{node.nodeid}: pytest.mark.world takes only the words {sorted(WORLD_OPTIONS)}")
    return options


def tier_backends(node, via: Optional[str]) -> List[str]:
    """Where a `world` test's jobs are, by tier: Docker for tests marked `containers`, a real pool in tests/real,
    the simulated pool through both backends elsewhere (tests/sim; through an AP, the AP runs the fakes)."""
    if node.get_closest_marker("containers"):
        return ["containers"]
    if Path(str(node.path)).parent.name == "real":
        return ["real"]
    return ["sim"] if via else list(BACKENDS)


def pytest_generate_tests(metafunc):
    """`world` is the tier's world: in tests/sim the simulated pool through both backends (the pool itself,
    and tests/support/fakes/condor_ssh_to_job on it), in tests/real a real HTCondor pool (marked `real`), under
    the `containers` marker a real pool with Docker.  `pytest.mark.world(...)` (on the test or the module's
    pytestmark) chooses a variant: backends=[...] some of them, via="ap" a laptop reaching them through an
    access point (tests/support/ap_fixture.py), multiplex=True the default block (ControlMaster) or
    multiplex=(True, False) both, keygen_options, schedds (more named schedds in the simulated pool),
    setup=(...) more words for setup (setup=False: none run), pool_args=(...) more words for `sim start`,
    scope="module" one world for the module's tests.  A test marked `also_real` runs on a real pool too
    (tests/support/realpool.py), so a difference shows as one passing and one failing."""
    if "world" not in metafunc.fixturenames:
        return
    options = world_options(metafunc.definition)
    via = options.get("via")
    backends = list(options.get("backends") or tier_backends(metafunc.definition, via))
    if metafunc.definition.get_closest_marker("also_real") and "real" not in backends:
        backends.append("real")
    multiplex = options.get("multiplex", False)
    params = []
    for backend in backends:
        marks = {"real": [pytest.mark.real], "containers": [pytest.mark.containers]}.get(backend, [])
        name = f"{via}-{backend}" if via else backend
        for each in (multiplex if isinstance(multiplex, (tuple, list)) else [multiplex]):
            label = f"{name}-{'multiplex' if each else 'plain'}" if isinstance(multiplex, (tuple, list)) else name
            params.append(pytest.param((backend, bool(each)), id=label, marks=marks))
    metafunc.parametrize("world", params, indirect=True)


def pytest_itemcollected(item):
    """Tests that use a real pool's fixtures are `real` tests (marked as they are collected: before -m chooses)."""
    if {"real_pool", "second_real_pool"} & set(getattr(item, "fixturenames", ())):
        item.add_marker(pytest.mark.real)


@pytest.hookimpl(trylast=True)  # after -k and -m have chosen
def pytest_collection_modifyitems(config, items):
    """Where no real pool can run (and CJP_REQUIRE_REAL_POOL is not set), leave the real tests out and say
    so in one line at the end (pytest_terminal_summary); the same for the container tier (tests marked
    `containers`: a real pool with Docker, CJP_REQUIRE_CONTAINERS).  Here, not in pytest_collection_finish:
    pytest-xdist's workers report what they collected there, and a list that shrinks afterwards makes its
    scheduler hand out tests a worker no longer has (INTERNALERROR, IndexError in run_one_test)."""
    import realdocker
    import realpool

    notes = []
    for marker, what, require, why in (
            ("real", "real-pool", realpool.REQUIRE_ENV, realpool.why_unavailable),
            ("containers", "container", realdocker.REQUIRE_ENV, realdocker.why_unavailable)):
        tests = [item for item in items if item.get_closest_marker(marker)]
        reason = why() if tests and not os.environ.get(require) else None
        if reason:
            items[:] = [item for item in items if not item.get_closest_marker(marker)]
            config.hook.pytest_deselected(items=tests)
            notes.append(f"{len(tests)} {what} tests not run: {reason}")
    config.stash[_REAL_NOTE] = notes
    if hasattr(config, "workeroutput"):  # a pytest-xdist worker: the controller, which prints, collects nothing
        config.workeroutput["cjp_notes"] = notes


_REAL_NOTE = pytest.StashKey[list]()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist's controller: a worker's notes, once (every worker collects the same tests)."""
    notes = node.config.stash.setdefault(_REAL_NOTE, [])
    for note in getattr(node, "workeroutput", {}).get("cjp_notes", []):
        if note not in notes:
            notes.append(note)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for note in config.stash.get(_REAL_NOTE, []):
        terminalreporter.write_line(note)


@pytest.fixture
def world(request):
    """The tier's world, the variant its `world` marker chooses (pytest_generate_tests)."""
    backend, multiplex = request.param
    options = world_options(request.node)
    options.pop("backends", None)
    options["multiplex"] = multiplex
    return world_variant(request, backend, **options)


def world_variant(request, backend: str, via: Optional[str] = None, multiplex: bool = False, keygen_options: str = "",
                  schedds=(), setup=(), pool_args=(), scope: str = "function"):
    """A world where jobs are on *backend* (sim, condor, real, containers), reached directly or with via="ap"
    through an access point: what the `world` fixture gives, and for the test that needs two worlds at once, the
    second.  With scope="module" the module's tests that ask for the same variant share one."""
    pool = {"real": "real_pool", "containers": "docker_pool"}.get(backend)
    pool = request.getfixturevalue(pool) if pool else None  # before the cache: a pool outlives its worlds
    key = (backend, via, multiplex, keygen_options, tuple(schedds), setup if setup is False else tuple(setup),
           tuple(pool_args))
    cache = request.getfixturevalue("_module_worlds") if scope == "module" else None
    if cache is not None and key in cache:
        return cache[key][1]
    if via == "ap":
        made = _ap_world(pool, multiplex, keygen_options, schedds, setup)
    elif via:
        raise pytest.UsageError(f"pytest.mark.world(via={via!r}): the only way through is via='ap'")
    elif pool is not None:
        from realworld import make_real_world

        made = make_real_world(pool, multiplex=multiplex)
    else:
        made = make_world(multiplex=multiplex, keygen_options=keygen_options, backend=backend, schedds=schedds,
                          setup_args=setup or (), start_args=pool_args)
    made_world = next(made)
    if cache is not None:
        cache[key] = (made, made_world)
    else:
        request.addfinalizer(lambda: next(made, None))
    return made_world


def _ap_world(pool, multiplex: bool, keygen_options: str, schedds, setup):
    """A laptop reaching the jobs through an access point (tests/support/ap_fixture.py): the simulated pool,
    or *pool*, behind it; `setup --via ap` run unless *setup* is False."""
    from ap_fixture import make_laptop

    made = make_laptop("bash", keygen_options, pool=pool, schedds=schedds)
    laptop = next(made)
    try:
        if setup is not False:
            laptop.setup(*([] if multiplex else ["--no-multiplex"]), *setup)
        yield laptop
    finally:
        next(made, None)


@pytest.fixture(scope="module")
def _module_worlds():
    """The worlds a module's tests share (pytest.mark.world(scope="module")), ended with the module."""
    made = {}
    yield made
    for gen, _ in reversed(list(made.values())):
        next(gen, None)


def _real_pool(name: str, schedd_name: Optional[str] = None, config: Optional[Dict[str, str]] = None,
               why_unavailable=None, require_env: Optional[str] = None):
    """A real pool (with *config*) for a fixture; skipped, or failed when *require_env* is set, where
    *why_unavailable()* (default: realpool's) says it cannot run."""
    import realpool

    reason = (why_unavailable or realpool.why_unavailable)()
    require_env = require_env or realpool.REQUIRE_ENV
    if reason:
        if os.environ.get(require_env):
            pytest.fail(f"{reason} ({require_env} is set)", pytrace=False)
        pytest.skip(reason)
    pool = realpool.start_pool(safe_tmp_root(), name, schedd_name, config)
    try:
        yield pool
    finally:
        pool.remove_all()
        pool.stop()
        realpool.remove_pool_dir(pool)


@pytest.fixture(scope="session")
def real_pool():
    """A real HTCondor personal pool for the whole session (skipped, with one line, where none can run)."""
    yield from _real_pool("rp")


@pytest.fixture(scope="session")
def second_real_pool():
    """A second real pool whose schedd is named `second`."""
    yield from _real_pool("rq", "second")


# What the starter needs besides its defaults (measured on 25.14): without this knob it looks for the
# image as "htcondor.org/USER@DOMAIN/IMAGE" and pulls it from a registry (docker-api.cpp,
# toAnnotatedImageName), so a job on a locally built image is held ("Cannot pull image").  The user must
# be in the docker group (scripts/test-containers.sh adds it): the starter runs /usr/bin/docker as the user.
DOCKER_POOL_CONFIG = {"DOCKER_TRUST_LOCAL_IMAGES": "true"}


@pytest.fixture(scope="module")
def docker_pool():
    """A real pool whose starter runs docker- and container-universe jobs (the container tier)."""
    import realdocker

    yield from _real_pool("dp", config=DOCKER_POOL_CONFIG, why_unavailable=realdocker.why_unavailable,
                          require_env=realdocker.REQUIRE_ENV)


def install_fakes(directory: Path) -> Path:
    """Copy tests/support/fakes into *directory*, each run by this interpreter (no pyenv shim, no other Python)."""
    directory.mkdir(parents=True, exist_ok=True)
    for fake in FAKES.iterdir():
        if fake.is_file() and os.access(fake, os.X_OK):
            text = fake.read_text()
            if text.startswith("#!") and "python" in text.splitlines()[0]:
                text = f"#!{sys.executable}\n" + text.split("\n", 1)[1]
            target = directory / fake.name
            target.write_text(text)
            target.chmod(0o755)
        elif fake.is_file() and fake.suffix == ".py":  # what the fakes share (fakeschedd.py), beside them
            (directory / fake.name).write_text(fake.read_text())
    return directory


def stop_agent(rundir: Path) -> None:
    """Stop a test user's agent, if one runs (teardown: never raises)."""
    try:
        from proxycmd.agent import client

        client.stop(rundir)
    except Exception:
        pass


def user_env(base: Path):
    """(HOME, environment) of an isolated test user under *base*: its own HOME, config and state dirs,
    our commands first on PATH, no agent of the caller's and no runtime dir (setup picks ~/.ssh/cjp)."""
    home = base / "home"
    home.mkdir(mode=0o755)
    env = dict(os.environ)
    for name in ("XDG_RUNTIME_DIR", "SSH_AUTH_SOCK", FAKE_POOL_ENV, "CONDOR_SSH_TO_JOB"):
        env.pop(name, None)
    env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(base / "config"), "XDG_STATE_HOME": str(base / "state"),
                "PATH": f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}", "LC_ALL": "C.UTF-8"})
    return home, env


def make_world(multiplex: bool = False, keygen_options: str = "", backend: str = "sim", schedds=(), setup_args=(),
               start_args=()):
    """*schedds*: named schedds the simulated pool serves besides its default one (sim start --schedd);
    *setup_args*, *start_args*: more words for setup and for `sim start`."""
    base = _short_tmp("w-")
    home, env = user_env(base)
    sim_root = base / "pool"
    if backend == "condor":
        tmp = base / "tmp"  # condor_ssh_to_job's session directories: checked for left-over keys
        tmp.mkdir(mode=0o700)
        env.update({"PATH": f"{install_fakes(base / 'fakes')}:{env['PATH']}", FAKE_POOL_ENV: str(sim_root),
                    "TMP": str(tmp)})
    w = World(base=base, env=env, sim_root=sim_root, ssh_config=home / "ssh_config",
              rundir=home / ".ssh" / "cjp", backend=backend)
    try:
        start = ["start"] + (["--keygen-options", keygen_options] if keygen_options else []) + \
            [word for name in schedds for word in ("--schedd", name)] + list(start_args)
        w.sim(*start)
        where = ["--sim", str(sim_root)] if backend == "sim" else ["--condor"]
        setup = [tool("condor-job-ssh"), "setup", "--ssh-config", str(w.ssh_config), *where, "--yes"]
        if not multiplex:
            setup.append("--no-multiplex")
        w.run(setup + list(setup_args))
        yield w
    finally:
        for cleanup in w.extra_cleanup:
            cleanup()
        w.sim("stop", check=False)
        _kill_pool_leftovers(sim_root)
        stop_agent(w.rundir)
        shutil.rmtree(base, ignore_errors=True)


def flat_table(text: str) -> str:
    """doctor's table as one line of words: its wrapped lines joined, a path broken after a '/' made whole
    again (sshconfig/ui.py)."""
    import re

    return " ".join(re.sub(r"/\n +", "/", text).split())


def proxy_said(stderr: str) -> List[str]:
    """Our lines in ssh's stderr: progress and `condor-job-proxy: ...` lines, and a refusal, which ssh
    itself prints as `Received disconnect from ...:7: condor-job-proxy: ...` (the proxy then stays quiet)."""
    out = []
    for line in stderr.splitlines():
        if line.startswith("Received disconnect from ") and ":7: condor-job-proxy:" in line:
            line = line.partition(":7: ")[2]
        if line.startswith("condor-job-proxy:"):
            out.append(line)
    return out


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
