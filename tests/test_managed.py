"""Finding, splicing and removing the managed block; the diff; the atomic write."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from sshconfig.block import splice, write
from sshconfig.block.splice import BEGIN, CREATED_NOTE, END, ManagedBlockError
from sshconfig.block.write import ConfigFileError

BLOCK = f"{BEGIN}\nMatch host \"*.job.condor\" user \"*'*\"\n    ProxyCommand none\nMatch all\n{END}\n"
BLOCK2 = BLOCK.replace("ProxyCommand none", "ProxyCommand none\n    LogLevel ERROR")
JOBS = "Host 1.0.job.condor\n    # cmd: sleep\nHost 2.0.job.condor\n    # cmd: sleep\n"


# ----- generated ssh_config files ------------------------------------------------------------------------
word = st.text(st.characters(whitelist_categories=("L", "N"), max_codepoint=0x2FFF), min_size=1, max_size=12)
comment = st.builds(lambda w: "# " + " ".join(w), st.lists(word, max_size=4))  # unicode included
option = st.builds(lambda k, v: f"{k} {v}", st.sampled_from(["User", "Port", "IdentityFile", "Compression",
                                                                "ControlMaster", "ProxyJump"]), word)
indented = st.builds(lambda o, pad: pad + o, option, st.sampled_from(["    ", "\t", "  "]))
header = st.one_of(st.builds(lambda w: f"Host {w}", word), st.builds(lambda w: f"Match host {w}", word),
                   st.just("Host *"), st.just("Match all"), st.builds(lambda w: f"Include ~/.ssh/{w}", word))
line = st.one_of(comment, option, indented, header, st.just(""), st.just("   "))


@st.composite
def configs(draw) -> str:
    lines = draw(st.lists(line, max_size=25))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines)
    if lines and draw(st.booleans()):
        text += newline  # else: no final newline
    return text


@settings(max_examples=200)
@given(configs())
def test_splice_twice_is_splice_once(text):
    once = splice.splice(text, BLOCK)
    assert splice.splice(once, BLOCK) == once
    assert once.endswith(text)


@settings(max_examples=200)
@given(configs(), st.sampled_from([BLOCK, BLOCK2]))
def test_splice_then_remove_is_identity(text, later):
    spliced = splice.splice(splice.splice(text, BLOCK), later)  # a second setup with other options
    assert splice.remove(spliced) == (text, False)


@settings(max_examples=100)
@given(configs())
def test_job_hosts_change_nothing_outside_the_block(text):
    spliced = splice.splice(text, BLOCK)
    synced = splice.splice(spliced, splice.replace_hosts(splice.block_text(spliced), JOBS))
    assert [name for name, _ in splice.host_entries(splice.block_text(synced))] == ["1.0.job.condor",
                                                                                       "2.0.job.condor"]
    assert splice.remove(synced)[0] == text


@settings(max_examples=100)
@given(configs(), configs())
def test_a_block_in_the_middle_is_replaced_in_place(before, after):
    if before and not before.endswith("\n"):
        before += "\n"
    text = before + BLOCK + after
    replaced = splice.splice(text, BLOCK2)
    assert replaced == before + BLOCK2 + after
    assert splice.remove(replaced)[0] == before + after


@settings(max_examples=100)
@given(configs(), st.data())
def test_refuses_duplicate_and_out_of_order_markers(text, data):
    lines = text.split("\n")
    marks = data.draw(st.sampled_from([[BEGIN, BEGIN, END], [BEGIN, END, END], [END, BEGIN], [BEGIN], [END],
                                       [BEGIN, END, BEGIN, END]]))
    spots = sorted(data.draw(st.lists(st.integers(0, len(lines)), min_size=len(marks), max_size=len(marks))))
    for spot, mark in reversed(list(zip(spots, marks))):  # the marks keep their order
        lines.insert(spot, mark)
    broken = "\n".join(lines)
    with pytest.raises(ManagedBlockError) as info:
        splice.splice(broken, BLOCK)
    assert "\n" not in str(info.value)
    with pytest.raises(ManagedBlockError):
        splice.remove(broken)


def test_marker_messages_name_the_lines():
    text = f"Host a\n{END}\n{BEGIN}\n"
    with pytest.raises(ManagedBlockError, match=r"end marker \(line 2\) comes before its start marker \(line 3\)"):
        splice.find_block(text)
    with pytest.raises(ManagedBlockError, match=r"start marker appears 2 times \(lines 1, 3\)"):
        splice.find_block(f"{BEGIN}\nx\n{BEGIN}\n{END}\n")


def test_markers_count_only_as_whole_lines():
    assert splice.find_block(f"Host a # {BEGIN}\n") is None
    assert splice.find_block(f"  {BEGIN}\n{END}") == splice.Span(0, len(BEGIN) + len(END) + 3)


# ----- line ends -----------------------------------------------------------------------------------------------
def test_crlf_files_get_a_crlf_block():
    text = "Host a\r\n    User b\r\n"
    spliced = splice.splice(text, BLOCK)
    assert spliced == BLOCK.replace("\n", "\r\n") + text
    assert splice.block_text(spliced) == BLOCK


def test_an_end_marker_without_final_newline_stays_so():
    text = "Host a\n" + BLOCK[:-1]
    assert splice.splice(text, BLOCK2) == "Host a\n" + BLOCK2[:-1]


# ----- parts ---------------------------------------------------------------------------------------------------
def test_split_and_replace_hosts():
    block = BLOCK.replace("\nMatch host", f"\n{CREATED_NOTE}\n{JOBS}Match host", 1)
    parts = splice.split_block(block)
    assert parts.head == f"{BEGIN}\n{CREATED_NOTE}\n" and parts.hosts == JOBS
    assert splice.was_created(block) and not splice.was_created(BLOCK)
    assert splice.replace_hosts(block, "") == f"{BEGIN}\n{CREATED_NOTE}\n" + BLOCK.split("\n", 1)[1]


def test_a_hand_edited_block_is_refused_by_split():
    with pytest.raises(ManagedBlockError, match="changed by hand"):
        splice.split_block(f"{BEGIN}\nHost x\n    User y\n{END}\n")


def test_remove_reports_a_created_file():
    block = BLOCK.replace("\n", f"\n{CREATED_NOTE}\n", 1)
    assert splice.remove(block) == ("", True)
    assert splice.remove("Host a\n") == ("Host a\n", False)


def test_lines_before_the_block():
    assert splice.lines_before("# hi\n\n" + BLOCK) == []
    assert splice.lines_before("User x\n" + BLOCK) == ["User x"]


# ----- diff ------------------------------------------------------------------------------------------------------
def test_diff():
    assert splice.unified_diff("a\n", "a\n", "f") == ""
    diff = splice.unified_diff("a\nb", "a\nc\n", "cfg")
    assert diff.startswith("--- cfg (now)\n+++ cfg (after)\n")
    assert "-b\n\\ No newline at end of file\n+c\n" in diff


# ----- files ------------------------------------------------------------------------------------------------------
def test_read_text_keeps_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "config"
    raw = b"# caf\xe9 \xff\r\nHost a\n"
    path.write_bytes(raw)
    text = write.read_text(path)
    write.write_file(path, splice.remove(splice.splice(text, BLOCK))[0])
    assert path.read_bytes() == raw


def test_read_text_refuses_binary_and_directories(tmp_path):
    (tmp_path / "bin").write_bytes(b"Host a\n\x00\x01")
    with pytest.raises(ConfigFileError, match="not a text file"):
        write.read_text(tmp_path / "bin")
    with pytest.raises(ConfigFileError, match="is a directory"):
        write.read_text(tmp_path)
    assert write.read_text(tmp_path / "missing") is None


def test_write_keeps_mode(tmp_path):
    path = tmp_path / "config"
    path.write_text("old\n")
    path.chmod(0o640)
    write.write_file(path, "new\n")
    assert path.read_text() == "new\n" and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["config"]  # no temporary file left


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_write_keeps_owner(tmp_path):
    path = tmp_path / "config"
    path.write_text("old\n")
    os.chown(path, 12345, 23456)
    write.write_file(path, "new\n")
    assert (path.stat().st_uid, path.stat().st_gid) == (12345, 23456)


def test_write_creates_0600_file_and_0700_directory(tmp_path):
    path = tmp_path / "home" / ".ssh" / "config"
    write.write_file(path, "x\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_write_follows_a_symlink_and_keeps_it(tmp_path):
    target = tmp_path / "dotfiles" / "ssh_config"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "config"
    link.symlink_to(os.path.relpath(target, tmp_path))
    written = write.write_file(link, "new\n")
    assert written == target.resolve()
    assert link.is_symlink() and target.read_text() == "new\n"
    write.delete_file(link)
    assert link.is_symlink() and not target.exists()


def test_write_failure_changes_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("I am a file\n")
    with pytest.raises(ConfigFileError, match="nothing was changed"):
        write.write_file(blocker / "config", "x\n")
    assert blocker.read_text() == "I am a file\n"
    with pytest.raises(ConfigFileError, match="not a regular file"):
        write.write_file(tmp_path, "x\n")


def test_write_cleans_up_when_the_rename_fails(tmp_path, monkeypatch):
    path = tmp_path / "config"
    path.write_text("old\n")

    def fail(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(ConfigFileError, match="Permission denied; nothing was changed"):
        write.write_file(path, "new\n")
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["config"]


def test_roundtrip_through_files(tmp_path):
    path = Path(tmp_path / "config")
    raw = "Host a\r\n    User b".encode()
    path.write_bytes(raw)
    write.write_file(path, splice.splice(write.read_text(path), BLOCK))
    assert path.read_bytes().startswith(BEGIN.encode() + b"\r\n")
    write.write_file(path, splice.remove(write.read_text(path))[0])
    assert path.read_bytes() == raw
