"""Every command's --help reads as plain text for people: no typer type labels or range jargon, 80 columns."""

from __future__ import annotations

import os
import re
import subprocess
from typing import List

import pytest
import typer

from conftest import tool
from sshconfig.cli import build_app

# What typer and click print when a parameter has no metavar or help of ours.
JARGON = [re.compile(p) for p in (r"<(str|int|float|path|bool|text|list\[\w+\])>", r"\{[A-Z][A-Z_ .\[\]-]*\}",
                                   r"\[x[<>]=?", r"x[<>]=?\d", r"\[required\]",
                                   r"\w\.\.\.$", r"\[default:", r"\b0\.0\b")]
WIDTH = 80


def _commands(command, path: List[str]):
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, path + [name])


COMMANDS = list(_commands(typer.main.get_command(build_app()), []))


def help_of(argv: List[str]) -> str:
    env = dict(os.environ, COLUMNS=str(WIDTH), LC_ALL="C.UTF-8")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout


def test_every_command_is_checked():
    names = {" ".join(path) for path in COMMANDS}
    assert {"", "setup", "sync", "remove", "doctor", "demo", "sim", "sim submit", "sim hold"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "top")
def test_help_has_no_jargon_and_fits_80_columns(path):
    text = help_of([tool("condor-job-ssh"), *path, "--help"])
    for pattern in JARGON:
        found = [line for line in text.splitlines() if pattern.search(line)]
        assert not found, (pattern.pattern, found)
    wide = [line for line in text.splitlines() if len(line) > WIDTH]
    assert not wide, wide


def test_top_level_summaries_are_whole_sentences():
    text = help_of([tool("condor-job-ssh"), "--help"])
    commands = text.split("Commands:\n", 1)[1].splitlines()
    assert commands and all(line.rstrip().endswith(".") and not line.rstrip().endswith("...")
                            for line in commands if line.strip()), commands


def test_an_argument_shows_as_its_name():
    text = help_of([tool("condor-job-ssh"), "sim", "hold", "--help"])
    assert text.startswith("Usage: condor-job-ssh sim hold [OPTIONS] JOB\n")
    assert re.search(r"^  JOB +The job's id", text, re.M), text


@pytest.mark.parametrize("program", ["condor-job-ssh", "condor-job-proxy"])
def test_version(program):
    from proxycmd import __version__

    assert help_of([tool(program), "--version"]) == f"{program} {__version__}\n"


def test_proxy_help_shows_the_login_option_and_fits_80_columns():
    text = help_of([tool("condor-job-proxy"), "--help"])
    assert "ProxyCommand condor-job-proxy --login '%r' '%h'" in text
    for pattern in JARGON:
        assert not pattern.search(text), pattern.pattern
    assert not [line for line in text.splitlines() if len(line) > WIDTH]


@pytest.mark.parametrize("value, shown", [("0.5", "0.5"), ("inf", "inf"), ("1e400", "inf"), ("nan", "nan"),
                                          ("99999999999999999999", "1e+20")])
def test_sync_watch_out_of_range_is_one_line(value, shown):
    done = subprocess.run([tool("condor-job-ssh"), "sync", "--watch", value], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == ("condor-job-ssh: error: --watch wants a number of seconds from 1 to 86400 (a day), "
                           f"not {shown}\n")


def test_the_agent_help_names_the_command_a_user_types():
    text = help_of([tool("condor-job-proxy"), "agent", "--help"])
    assert text.startswith("usage: condor-job-proxy agent ") and "python -m" not in text
    assert not [line for line in text.splitlines() if len(line) > WIDTH]


def test_the_classic_shim_help_fits_80_columns_and_it_has_a_version():
    from proxycmd import __version__

    text = help_of([tool("condor-ssh-to-job"), "-help"])
    assert text.startswith("Usage: condor-ssh-to-job ") and not [l for l in text.splitlines() if len(l) > WIDTH]
    assert help_of([tool("condor-ssh-to-job"), "--version"]) == f"condor-ssh-to-job {__version__}\n"


@pytest.mark.parametrize("argv, line", [
    (["bogus"], "condor-job-ssh: error: no such command 'bogus' (see condor-job-ssh --help)\n"),
    (["sim", "bogus"], "condor-job-ssh: error: no such command 'bogus' (see condor-job-ssh sim --help)\n"),
    (["sim", "hold"], "condor-job-ssh: error: missing argument 'JOB' (see condor-job-ssh sim hold --help)\n"),
    (["sync", "--watch", "0"], "condor-job-ssh: error: --watch wants a number of seconds from 1 to 86400 (a day), not 0\n"),
])
def test_unknown_commands_and_bad_arguments_are_one_line_in_one_style(argv, line):
    done = subprocess.run([tool("condor-job-ssh"), *argv], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", line)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("argv, prefix", [
    (["condor-job-ssh", "--help"], "condor-job-ssh: error: "),
    (["condor-job-ssh", "setup", "--help"], "condor-job-ssh: error: "),
    (["condor-job-proxy", "--help"], "condor-job-proxy: "),
    (["condor-job-proxy", "--version"], "condor-job-proxy: "),
    (["condor-ssh-to-job", "-help"], "condor-ssh-to-job: "),
])
def test_help_refused_by_a_full_disk_is_one_line_and_status_1(argv, prefix):
    with open("/dev/full", "w") as full:
        done = subprocess.run([tool(argv[0]), *argv[1:]], stdout=full, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"{prefix}cannot write the output: No space left on device\n", done.stderr
