"""A user of our commands isolated in a private directory: its HOME, config and state, no XDG_RUNTIME_DIR
(`User`), the `base` fixture that makes that directory, and `one_line_error`, which checks a refusal is
one line.  Used by the unit and sim tests of setup, remove and the runtime directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from conftest import private_tmp, tool


class User:
    """An isolated user: HOME, config and state directories, no XDG_RUNTIME_DIR."""

    def __init__(self, base: Path, home: Optional[Path] = None) -> None:
        self.base = base
        self.home = home or base / "home"
        self.home.mkdir(mode=0o755, parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "SSH_AUTH_SOCK")}
        self.env.update({"HOME": str(self.home), "XDG_CONFIG_HOME": str(base / "config"),
                         "XDG_STATE_HOME": str(base / "state"), "LC_ALL": "C.UTF-8",
                         "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"})

    @property
    def ssh_config(self) -> Path:
        return self.home / ".ssh" / "config"

    @property
    def rundir(self) -> Path:
        return self.home / ".ssh" / "cjp"

    def run(self, *args: str, env: Optional[Dict[str, str]] = None, text: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([tool("condor-job-ssh"), *args], env=env or self.env, capture_output=True, text=text,
                              timeout=120, stdin=subprocess.DEVNULL)

    def setup(self, *args: str) -> subprocess.CompletedProcess:
        return self.run("setup", "--yes", *args)

    def ssh_g(self, host: str = "1.0.job.condor") -> Dict[str, List[str]]:
        out = subprocess.run(["ssh", "-G", "-F", str(self.ssh_config), host], env=self.env, capture_output=True,
                             text=True, timeout=20)
        assert out.returncode == 0, out.stderr
        options: Dict[str, List[str]] = {}
        for line in out.stdout.splitlines():
            key, _, value = line.partition(" ")
            options.setdefault(key, []).append(value)
        return options


@pytest.fixture
def base():
    path = private_tmp("s-")
    yield path
    for root, dirs, _ in os.walk(path):  # tests make read-only or foreign directories: make them removable
        for name in dirs:
            if not os.path.islink(os.path.join(root, name)):
                os.chmod(os.path.join(root, name), 0o700)
    shutil.rmtree(path, ignore_errors=True)


def one_line_error(done: subprocess.CompletedProcess, prog: str = "condor-job-ssh") -> str:
    lines = done.stderr.strip().split("\n")
    assert done.returncode != 0, done
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]
