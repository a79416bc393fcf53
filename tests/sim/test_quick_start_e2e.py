"""The block's quick start on a real connection (issue 29): setup writes `<python> -I -S .../proxycmd/condor-job-proxy`
for a regular install, and that ProxyCommand connects on both backends without reading PYTHONPATH or the working
directory (a planted `proxycmd/` there would run as the user in every connection of the console script)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.also_real
def test_the_quick_start_connects_and_reads_no_pythonpath(world):
    probe = "from proxycmd import ourcommands; print(ourcommands.quick_start() is not None)"
    installed = subprocess.run([sys.executable, "-I", "-c", probe], cwd="/", capture_output=True, text=True, timeout=60)
    if installed.stdout.strip() != "True":  # what the installed package (not this checkout) makes of itself
        pytest.skip("this venv's install is editable (pip install -e): setup rightly writes the console script")
    where = Path(tempfile.mkdtemp(prefix="cjp-qs-", dir="/tmp"))
    mark = where / "ran"
    for name in ("proxycmd/__init__.py", "proxycmd/cli.py", "sitecustomize.py"):
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        (where / name).write_text(f"open({str(mark)!r}, 'a').write('planted {name} ran\\n')\n")
    try:
        proxy = next(line for line in world.ssh_config.read_text().splitlines() if "ProxyCommand '" in line)
        assert " -I -S " in proxy and "/proxycmd/condor-job-proxy' --runtime-dir" in proxy, proxy
        job = world.submit("sleep", "600")
        # on the condor path the fake condor_ssh_to_job is Python too, and it would take the planted package:
        # HTCondor's own tool is not, so the planted PYTHONPATH is tried on the simulated and the real pool
        env = dict(world.env, PYTHONPATH=f"{where}:") if world.backend in ("sim", "real") else world.env
        done = world.run(world.ssh_argv(f"{job}.job.condor", "echo", "through"), cwd=where, env=env)
        assert done.stdout == "through\n", done.stderr
        assert not mark.exists(), mark.read_text()
    finally:
        shutil.rmtree(where, ignore_errors=True)
