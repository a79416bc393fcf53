"""`condor-job-ssh setup --editor-config PATH`: the editor config's text, and setup/sync/remove keeping it.

The editor itself (open-remote-ssh's own code) reading the file and connecting through it is
tests/sim/test_editors_e2e.py; here: the file (a golden file), what sync and remove do to it, bad PATHs.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
from pathlib import Path

import pytest

from proxycmd import identityfifo
from proxycmd.session import JobInfo
from sshconfig import editorconfig
from sshconfig.block import render
from sshconfig.block.render import RenderContext
from sshconfig.block.settings import Route, Settings

from test_configcmds import fake_pool, home, one_line_error, run  # noqa: F401  (home: a fixture)

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def splitter(line: str):
    """open-remote-ssh's splitProxyCommand as its source reads (authResolver.ts, 41e5095): blanks separate
    words, '"' groups (dropped), '\\' takes the next character; single quotes are ordinary characters."""
    words, word, quoted, escaped, started = [], "", False, False, False
    for char in line:
        if escaped:
            word, escaped, started = word + char, False, True
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted, started = not quoted, True
        elif char in " \t" and not quoted:
            if started:
                words.append(word)
            word, started = "", False
        else:
            word, started = word + char, True
    if started:
        words.append(word)
    return words


def editor_config_of(settings: Settings, hosts, node="login1") -> str:
    ctx = RenderContext(proxy="/opt/cjp/bin/condor-job-proxy", runtime_dir="/home/u/.ssh/cjp", settings=settings)
    return editorconfig.render(render.render_block(ctx), hosts, Path("/home/u/.ssh/config"), settings.user, node)


def test_the_editor_config_matches_its_golden_file():
    """Rewrite with UPDATE_GOLDEN=1 when the change is meant."""
    text = editor_config_of(Settings(sim_root="/home/u/sim pool", user="alice",
                                     routes=[Route("ap2.condor", "ap2.example.org")]),
                            ["35.1.job.condor", "gpu.job.condor", "32.0.job.condor", "7.0.ap2.condor",
                             "9.0.other-ap.job.condor"])
    path = GOLDEN / "editor-config.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text(), "the editor config changed; if on purpose, rerun with UPDATE_GOLDEN=1"


def test_both_readers_take_the_proxy_command_word_for_word():
    """open-remote-ssh's splitter and OpenSSH's `sh -c` read the same argv, a blank in a path included, and
    the editor's %r/%h stand alone in their words (it replaces only the first per word)."""
    text = editor_config_of(Settings(sim_root="/home/u/sim pool", wait_timeout=300.0), ["1.0.job.condor"])
    [line] = [line.strip()[len("ProxyCommand "):] for line in text.splitlines() if "ProxyCommand" in line]
    words = splitter(line)
    assert words == shlex.split(line)
    assert words[:2] == ["/opt/cjp/bin/condor-job-proxy", "--identity-fifo"]
    assert words[words.index("--sim") + 1] == "/home/u/sim pool"
    assert words[-3:] == ["--login", "%r", "%h"] and "'" not in line
    assert words[words.index("--wait-timeout") + 1] == "300"  # the user's own limit, not ours
    assert words.count("--wait-timeout") == 1


def test_no_wait_stays_no_wait():
    text = editor_config_of(Settings(wait=False), ["1.0.job.condor"])
    assert "--no-wait" in text and "--wait-timeout" not in text


def test_a_proxy_path_no_editor_reads_alike_is_refused_in_one_line():
    with pytest.raises(editorconfig.EditorConfigError, match="'%'"):
        editor_config_of(Settings(sim_root="/home/u/100%pool"), ["1.0.job.condor"])
    with pytest.raises(editorconfig.EditorConfigError, match="one word"):
        editor_config_of(Settings(sim_root="/home/u/$pool"), ["1.0.job.condor"])


def test_laptop_mode_keeps_the_hop(home, monkeypatch):
    run("setup", "--yes", "--via", "ap.example.org", "--editor-config", "~/.ssh/editor")
    text = (Path(home.env["HOME"]) / ".ssh" / "editor").read_text()
    assert text.startswith(editorconfig.HEADER)
    fake_pool(monkeypatch, [JobInfo(32, 0, "running")])
    run("sync")
    text = (Path(home.env["HOME"]) / ".ssh" / "editor").read_text()
    [line] = [line.strip()[len("ProxyCommand "):] for line in text.splitlines() if "ProxyCommand" in line]
    words = splitter(line)
    assert words[words.index("--via") + 1] == "ap.example.org"
    assert words[words.index("--via-config") + 1] == str(home.ssh_config)


# ----- setup, sync, remove --------------------------------------------------------------------------------------
def editor_hosts(path: Path):
    return re.findall(r"^Host (\S+)$", path.read_text(), re.M)


def pubs(home) -> list:
    directory = identityfifo.key_dir(home.rundir)
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def test_setup_writes_it_sync_refreshes_it_remove_deletes_it(home, monkeypatch):
    target = Path(home.env["HOME"]) / ".ssh" / "editor"
    result = run("setup", "--yes", "--editor-config", "~/.ssh/editor")
    assert f"Wrote the editor config {target}" in result.stdout
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    text = target.read_text()
    assert text.startswith(editorconfig.HEADER) and text.endswith(f"\nInclude {home.ssh_config}\n")
    assert "editor_config" in home.settings_file.read_text()
    jobs = [JobInfo(32, 0, "running"), JobInfo(7, 1, "running")]
    fake_pool(monkeypatch, jobs)
    run("sync")
    assert editor_hosts(target) == ["7.1.job.condor", "32.0.job.condor"]
    assert pubs(home) == ["32.0.job.condor.pub", "7.1.job.condor.pub"]
    assert f"IdentityFile {identityfifo.key_path(home.rundir, '32.0.job.condor')}\n" in target.read_text()
    jobs[:] = [JobInfo(7, 1, "running")]
    run("sync")
    assert editor_hosts(target) == ["7.1.job.condor"] and pubs(home) == ["7.1.job.condor.pub"]
    run("setup", "--yes", "--user", "bob")  # a later setup keeps the listed hosts and the saved path
    assert editor_hosts(target) == ["7.1.job.condor"] and "    User bob\n" in target.read_text()
    result = run("remove", "--yes")
    assert f"Deleted the editor config {target}." in result.stdout
    assert not target.exists() and pubs(home) == []
    run("setup", "--yes")  # the setting is kept for the next setup, as the others are
    assert target.read_text().startswith(editorconfig.HEADER)


def test_an_empty_value_stops_it_and_deletes_ours(home):
    target = Path(home.env["HOME"]) / ".ssh" / "editor"
    run("setup", "--yes", "--editor-config", str(target))
    result = run("setup", "--yes", "--editor-config", "")
    assert not target.exists() and "Deleted the editor config" in result.stdout
    assert "editor_config" not in (home.settings_file.read_text() if home.settings_file.exists() else "")


def test_the_openssh_block_is_the_same_with_or_without_it(home):
    run("setup", "--yes")
    before = home.ssh_config.read_text()
    run("setup", "--yes", "--editor-config", "~/.ssh/editor")
    assert home.ssh_config.read_text() == before


def test_a_dry_run_shows_it_and_writes_nothing(home):
    result = run("setup", "--dry-run", "--editor-config", "~/.ssh/editor")
    assert "+# condor-job-ssh editor config" in result.stdout
    assert not (Path(home.env["HOME"]) / ".ssh" / "editor").exists() and not home.ssh_config.exists()


@pytest.mark.parametrize("case", ["foreign", "the-ssh-config", "directory", "shared-dir"])
def test_a_bad_path_is_one_line_and_nothing_is_written(home, case, tmp_path_factory):
    ssh_dir = Path(home.env["HOME"]) / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    if case == "foreign":
        path = ssh_dir / "mine"
        path.write_text("Host mine\n    HostName example.org\n")
        expected = "was not written by condor-job-ssh"
    elif case == "the-ssh-config":
        path, expected = home.ssh_config, "is the ssh config itself"
    elif case == "directory":
        path = ssh_dir / "adir"
        path.mkdir()
        expected = "not an ssh config file"
    else:
        shared = home.base / "shared"
        shared.mkdir()
        shared.chmod(0o777)
        path, expected = shared / "editor", "writable by other users"
    before = path.read_text() if path.is_file() else None
    line = one_line_error(run("setup", "--yes", "--editor-config", str(path), code=1))
    assert expected in line, line
    assert (path.read_text() if path.is_file() else None) == before
    assert not home.settings_file.exists()
    assert case == "the-ssh-config" or not home.ssh_config.exists()


def test_remove_leaves_a_file_that_became_foreign(home):
    target = Path(home.env["HOME"]) / ".ssh" / "editor"
    run("setup", "--yes", "--editor-config", str(target))
    target.write_text("Host mine\n")
    result = run("remove", "--yes")
    assert "not an editor config of ours (no header): left alone" in result.stdout
    assert target.read_text() == "Host mine\n"


def test_the_editor_options_follow_the_quick_starts_launcher():
    """A block written with the quick start (`python -I -S .../proxycmd/condor-job-proxy`): the editor's options
    go after the launcher, where the proxy reads them, not between python and its flags."""
    from sshconfig.editorconfig import editor_words

    launcher = ["/opt/cjp/bin/python", "-I", "-S", "/opt/cjp/lib/site-packages/proxycmd/condor-job-proxy"]
    words = editor_words([*launcher, "--runtime-dir", "/home/u/.ssh/cjp", "--login", "%r", "%h"])
    assert words == [*launcher, "--identity-fifo", "--wait-timeout", "50", "--runtime-dir", "/home/u/.ssh/cjp",
                     "--login", "%r", "%h"]
