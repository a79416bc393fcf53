"""The ProxyCommand's quick start (issue 29): `<python> -I -S <site-packages>/proxycmd/condor-job-proxy`, written by
setup only where every dependency the ProxyCommand may import lives beside our package (proxycmd/ourcommands.py)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from proxycmd import ourcommands
from sshconfig.block.render import RenderContext, render_block
from sshconfig.block.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def _third_party_imports() -> set:
    """Every module outside the standard library and our package that a file of proxycmd/ imports."""
    found = set()
    for path in (REPO / "proxycmd").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found.update(name.split(".")[0] for name in names)
    return {name for name in found if name not in sys.stdlib_module_names and name != "proxycmd"}


def test_every_dependency_the_proxycommand_imports_is_checked_by_the_quick_start():
    assert _third_party_imports() <= set(ourcommands.PROXY_IMPORTS)


def _root(tmp_path: Path, mode: int = 0o644) -> Path:
    (tmp_path / "proxycmd").mkdir()
    script = tmp_path / "proxycmd" / ourcommands.QUICK_START
    script.write_text("# the launcher\n")
    script.chmod(mode)
    return tmp_path


def _spec(origin=None, locations=None):
    return SimpleNamespace(origin=origin, submodule_search_locations=locations)


def test_the_quick_start_needs_each_dependency_beside_our_package(tmp_path):
    root = _root(tmp_path)
    beside = {"platformdirs": _spec(f"{root}/platformdirs/__init__.py", [f"{root}/platformdirs"]),
              "htcondor2": _spec(f"{root}/htcondor2/__init__.py", [f"{root}/htcondor2"]),
              "tomli": _spec(f"{root}/tomli.py")}
    words = ourcommands.quick_start(str(root), find_spec=beside.get)
    assert words == [sys.executable, "-I", "-S", f"{root}/proxycmd/condor-job-proxy"]
    # an editable or --user install: a dependency in another directory (the system's, a venv inside a checkout)
    for elsewhere in (f"/usr/lib/python3/dist-packages/platformdirs/__init__.py",
                      f"{root}/.venv/lib/python3.11/site-packages/platformdirs/__init__.py"):
        found = dict(beside, platformdirs=_spec(elsewhere, [os.path.dirname(elsewhere)]))
        assert ourcommands.quick_start(str(root), find_spec=found.get) is None, elsewhere
    namespace = dict(beside, classad2=_spec(None, [f"{root}/classad2", "/opt/other/classad2"]))
    assert ourcommands.quick_start(str(root), find_spec=namespace.get) is None


def test_no_quick_start_from_a_launcher_others_may_change_or_that_is_missing(tmp_path):
    root = _root(tmp_path, mode=0o664)
    assert ourcommands.quick_start(str(root), find_spec=lambda name: None) is None
    (root / "proxycmd" / ourcommands.QUICK_START).chmod(0o644)
    assert ourcommands.quick_start(str(root), find_spec=lambda name: None) is not None
    (root / "proxycmd" / ourcommands.QUICK_START).unlink()
    assert ourcommands.quick_start(str(root), find_spec=lambda name: None) is None


def test_the_installed_package_ships_the_launcher_and_it_runs_the_proxy():
    """The test venv's own install (scripts/install.sh: a regular one) gets the quick start, and the launcher
    starts condor-job-proxy under -I -S."""
    probe = ("from proxycmd import ourcommands; import json; print(json.dumps(ourcommands.quick_start()))")
    done = subprocess.run([sys.executable, "-I", "-c", probe], cwd="/", capture_output=True, text=True, timeout=60)
    words = __import__("json").loads(done.stdout)
    if words is None:
        pytest.skip("this venv's install is editable (pip install -e): the quick start rightly does not apply")
    assert words[:3] == [sys.executable, "-I", "-S"] and words[3].endswith("/proxycmd/condor-job-proxy")
    version = subprocess.run(words + ["--version"], cwd="/", capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, PYTHONPATH="/nonexistent"))
    assert version.returncode == 0 and "condor-job-proxy" in version.stdout, version.stdout + version.stderr


def test_the_block_starts_with_the_quick_start_words_unquoted_flags():
    ctx = RenderContext(proxy="/opt/cjp/bin/condor-job-proxy", runtime_dir="/home/u/.ssh/cjp", settings=Settings(),
                        quick_start=("/opt/cjp/bin/python", "-I", "-S",
                                     "/opt/cjp/lib/site-packages/proxycmd/condor-job-proxy"))
    line = next(line for line in render_block(ctx).splitlines() if "ProxyCommand '" in line)
    assert line.strip().startswith("ProxyCommand '/opt/cjp/bin/python' -I -S "
                                   "'/opt/cjp/lib/site-packages/proxycmd/condor-job-proxy' --runtime-dir ")


def _quick_start_block(tmp_path: Path) -> "tuple[Path, Path, str]":
    """A launcher under tmp_path, the ssh config path beside it, and a block that starts it."""
    (tmp_path / "site").mkdir()
    script = _root(tmp_path / "site") / "proxycmd" / ourcommands.QUICK_START
    ctx = RenderContext(proxy="/opt/cjp/bin/condor-job-proxy", runtime_dir=str(tmp_path / "run"), settings=Settings(),
                        quick_start=(sys.executable, "-I", "-S", str(script)))
    return script, tmp_path / "ssh_config", render_block(ctx)


def test_doctor_names_the_launcher_and_finds_it_missing(tmp_path):
    """doctor's "ssh config" row with a quick-start block: it names the launcher, and fails once it is gone."""
    from sshconfig.block.splice import splice
    from sshconfig.checks.block import check_block

    script, config, block = _quick_start_block(tmp_path)
    config.write_text(splice("", block))
    row = check_block(config, "job.condor")
    assert row.state == "ok" and row.detail.endswith(f"goes through {script}"), row
    script.unlink()
    row = check_block(config, "job.condor")
    assert row.state == "fail" and f"launcher {script} is missing" in row.detail, row


def test_doctor_warns_of_a_block_that_lets_a_bang_through(tmp_path):
    """A block written before the '!' exclusion works, but a csh or tcsh user should rewrite it."""
    from sshconfig.block import render
    from sshconfig.block.splice import splice
    from sshconfig.checks.block import check_block

    _, config, block = _quick_start_block(tmp_path)
    config.write_text(splice("", block.replace(f",{render.NOT_OURS}\"", ",!*'*\"")))
    row = check_block(config, "job.condor")
    assert row.state == "warn" and "'!'" in row.detail and "tcsh" in row.detail and "setup" in row.fix, row
    config.write_text(splice("", block))
    assert check_block(config, "job.condor").state == "ok"


def test_doctor_warns_when_ssh_reads_another_home_than_home(tmp_path, monkeypatch):
    """$HOME/.ssh/config is our default, but ssh reads the one in the password database's home."""
    import pwd

    from sshconfig.block.splice import splice
    from sshconfig.checks.block import check_block

    _, elsewhere, block = _quick_start_block(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert str(tmp_path) != pwd.getpwuid(os.geteuid()).pw_dir
    default = tmp_path / ".ssh" / "config"
    default.parent.mkdir(mode=0o700)
    default.write_text(splice("", block))
    row = check_block(default, "job.condor")
    theirs = os.path.join(pwd.getpwuid(os.geteuid()).pw_dir, ".ssh", "config")
    assert row.state == "warn" and f"ssh reads {theirs}" in row.detail and "--ssh-config" in row.fix, row
    elsewhere.write_text(splice("", block))  # named on purpose (--ssh-config): no warning
    assert check_block(elsewhere, "job.condor").state == "ok"
