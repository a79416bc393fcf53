"""scripts/install.sh as a user without sudo: it names what is missing and why, and changes nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import REPO

NOBODY = 65534


@pytest.fixture
def copy():
    """A copy of the script in a directory anyone can read, and a PATH with no ssh, rsync, tcsh or sudo
    (apt-get is a fake that records being called)."""
    base = Path(tempfile.mkdtemp(prefix="cjp-inst-", dir="/tmp"))
    base.chmod(0o777)  # nobody may create .venv here: the script must stop before it tries
    (base / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "install.sh", base / "scripts" / "install.sh")
    bin_dir = base / "bin"
    bin_dir.mkdir()
    for name in ("id", "dirname", "python3", "sed"):
        # the system's own tools: a pyenv shim under /root is out of the unprivileged user's reach
        found = next((p for p in (f"/usr/bin/{name}", f"/bin/{name}") if os.path.exists(p)), shutil.which(name))
        assert found, name
        (bin_dir / name).symlink_to(found)
    (bin_dir / "apt-get").write_text(f"#!/bin/sh\necho called >> {base}/apt-get-called\nexit 1\n")
    (bin_dir / "apt-get").chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def install(base: Path, *args: str) -> subprocess.CompletedProcess:
    argv = ["/bin/sh", str(base / "scripts" / "install.sh"), *args]
    if os.getuid() == 0:  # as an unprivileged user, the way a user without sudo runs it
        setpriv = shutil.which("setpriv")
        if not setpriv:
            pytest.skip("setpriv is needed to run the script as an unprivileged user")
        argv = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]
    env = {"PATH": str(base / "bin"), "HOME": str(base), "LC_ALL": "C"}
    return subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)


def listed(stderr: str) -> set:
    return {line.split(":")[0].strip() for line in stderr.splitlines() if line.startswith("  ")}


def test_without_sudo_it_says_what_to_install_and_why(copy):
    done = install(copy)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "not found" not in done.stderr and "sudo" not in done.stderr
    assert "  openssh-client: ssh, scp and sftp, which connect to the jobs\n" in done.stderr
    # a real pool needs no sshd, rsync or tcsh here: only the demo and the tests do
    assert listed(done.stderr) == {"openssh-client"}
    assert "Install them as root: apt-get install -y openssh-client (or ask your administrator)" in done.stderr
    assert "Nothing was changed." in done.stderr
    assert not (copy / ".venv").exists() and not (copy / "apt-get-called").exists()


def test_test_mode_also_names_what_the_tests_need(copy):
    done = install(copy, "--test")
    assert done.returncode == 1
    assert {"openssh-client", "rsync", "tcsh"} <= listed(done.stderr)
    assert "  tcsh: a test logs in with a tcsh login shell\n" in done.stderr
    assert "apt-get install -y openssh-client" in done.stderr and " rsync" in done.stderr
    assert not (copy / ".venv").exists() and not (copy / "apt-get-called").exists()


def test_an_unknown_option_is_one_line(copy):
    done = install(copy, "--bogus")
    assert (done.returncode, done.stderr) == (2, "install.sh: unknown option --bogus (use --test, or nothing)\n")


def test_ci_runs_the_documented_test_commands():
    """.ci/run is the documented test commands, each as README or CONTRIBUTING gives it (with the variables
    that make a missing tier fail rather than skip), and every tier runs."""
    documented = "".join((REPO / name).read_text() for name in ("README.md", "CONTRIBUTING.md")
                         if (REPO / name).exists())
    ci = (REPO / ".ci" / "run").read_text()
    lines = [line for line in ci.splitlines() if line.strip() and not line.startswith("#")]
    commands = lines[lines.index('cd "$(dirname "$0")/.."') + 1:]
    # one command a line: set -e stops at none that fails inside an && list but its last
    assert not any("&&" in command or "||" in command for command in commands), commands
    assert commands[:2] == ["sh scripts/install.sh --test", ".venv/bin/python -m pytest -q -n 2"]
    assert [c.split(" sh ", 1)[-1] for c in commands[2:]] == ["scripts/test-real-pool.sh",
                                                             "scripts/test-containers.sh"]
    for command in commands:
        bare = " ".join(word for word in command.split() if not word.startswith("CJP_REQUIRE_"))
        assert bare in documented, command
    assert "CJP_REQUIRE_CONTAINERS=1" in commands[3] and "CJP_REQUIRE_REAL_POOL=1" in commands[2]
