"""Each setup option is declared once (sshconfig/block/options.py) and everything else follows from it:
the Settings fields, setup's and sync's flags, the sentences that name an option, and the block's order."""

from __future__ import annotations

import random
import re
from dataclasses import fields

import pytest

from sshconfig.block import options, render
from sshconfig.block.options import BY_KEY, OPTIONS, SETTINGS
from sshconfig.block.settings import Settings
from sshconfig.cli import build_app
from test_render import context  # the render tests' context (paths, proxy, runtime dir)
from typer.testing import CliRunner


def _flags(*argv: str) -> set:
    """The flags a command's help lists (the start of each entry of its Options)."""
    entries = [line.strip().split("  ")[0] for line in _help(*argv).split("Options:")[1].splitlines()
               if line.startswith("  -")]
    return {flag for entry in entries for flag in re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", entry)}


def _help(*argv: str) -> str:
    result = CliRunner().invoke(build_app(), [*argv, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_every_setting_is_one_declared_option():
    keys = [option.key for option in SETTINGS]
    assert len(keys) == len(set(keys))
    assert [f.name for f in fields(Settings) if f.name != "extra"] == keys
    assert {f.name: f.default for f in fields(Settings) if f.name in BY_KEY and not callable(f.default_factory)} \
        == {key: BY_KEY[key].default for key in keys if not isinstance(BY_KEY[key].default, (list, tuple))}


def test_every_flag_setup_and_sync_show_comes_from_a_declaration():
    declared = set()
    for option in SETTINGS:
        for flag in option.flags:
            declared.update(flag.split("/"))
        if option.reset_flag:
            declared.add(option.reset_flag[0])
    assert len(_flags("setup")) > 20
    own = {"--ssh-config", "--dry-run", "--yes", "-y", "--help", "--watch", "--quiet", "-q"}
    for command in ("setup", "sync"):
        assert _flags(command) - own <= declared, command
    assert declared <= _flags("setup")  # and setup takes every declared flag
    assert all(option.help for option in SETTINGS if option.flags)


def test_the_docs_table_names_every_option():
    page = options.markdown()
    for option in SETTINGS:
        assert f"`{option.key}`" in page
        for flag in option.flags[:1]:
            assert f"`{flag.split('/')[0]}" in page


@pytest.mark.parametrize("key,spelled", [("sim_root", "--sim DIR"), ("via", "--via DEST"),
                                         ("wait_timeout", "--wait-timeout SECONDS"), ("wait", "--no-wait"),
                                         ("forward_agent", "--forward-agent")])
def test_a_sentence_names_an_option_as_the_user_gives_it(key, spelled):
    assert BY_KEY[key].spelled() == spelled


def test_the_declarations_order_places_the_blocks_lines(monkeypatch):
    ctx = context(Settings(forward_agent=True, user="alice", multiplex=False))
    before = render.render_block(ctx)
    shuffled = list(OPTIONS)
    random.Random(7).shuffle(shuffled)
    assert shuffled != list(OPTIONS)
    monkeypatch.setattr(render, "OPTIONS", shuffled)
    after = render.render_block(ctx)
    assert sorted(before.split()) == sorted(after.split()) and after != before  # the same words, elsewhere
