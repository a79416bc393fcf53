"""The editor config: a second, separate ssh config for editors that read ssh_config themselves (issue 26).

open-remote-ssh (VSCodium's Remote-SSH; forks in Windsurf, Antigravity, Positron) reads the file its
``remote.SSH.configFile`` names with its own parser and speaks SSH with the ssh2 library, so the OpenSSH
block does not work for it (docs/editors.md).  `setup --editor-config PATH` writes this file, `sync` rewrites
it with the jobs it lists, `remove` deletes it.  Its shape::

    # condor-job-ssh editor config: ...            our header: a file without it is never overwritten
    Host 32.0.job.condor                           one per job host sync lists, and one per profile
        ProxyCommand /abs/condor-job-proxy --identity-fifo --runtime-dir /abs/dir ... --login %r %h
        IdentityFile /abs/dir/host-NODE/editor/32.0.job.condor
        IdentitiesOnly yes
        IdentityAgent none
    Include /home/u/.ssh/config                    every other host still reached as before

* The ProxyCommand is the OpenSSH block's own, as written in the user's file (one source for the proxy's
  options), re-quoted for an argv splitter without a shell: open-remote-ssh splits on blanks, groups with
  ``"``, takes single quotes literally and replaces only the first ``%h``/``%n``/``%p``/``%r`` of a word.  A
  word is written bare when it is plain, else in double quotes, which sh reads alike when it holds no
  ``"``, ``\\``, ``$`` or backquote; anything else, and ``%`` outside the two tokens (OpenSSH undoubles
  ``%%``, the editor does not), is refused with one line.  ``--identity-fifo`` makes the proxy hand the
  session key over once through a FIFO at the IdentityFile's path (proxycmd/identityfifo.py) instead of
  registering it with the agent, which the editor asks before it starts the proxy.
* ``--wait-timeout`` (EDITOR_WAIT) unless the user chose a limit or --no-wait: the editor gives up after
  ``remote.SSH.connectTimeout`` (60 s by default: ssh2's readyTimeout covers the wait for an idle job), while
  the proxy started without a terminal waits 2 hours and is not ended until the window goes.  Ending the
  wait at 50 s lets our sentence ("job 32.0 is still idle ...") reach the editor's error before it shows a
  bare timeout.  A user whose jobs queue longer sets `setup --wait-timeout` and raises connectTimeout above it.
* The IdentityFile is literal (the editor expands only ``~``), one per host (identityfifo.key_path), and its
  ``.pub`` is written here, before any connection: open-remote-ssh reads the private half at authentication
  time only when a ``.pub`` beside it parses.
* No HostName (it would replace ``%h``), lower-case names (its Host matching is case-sensitive).
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Iterable, List, Optional, Tuple

from proxycmd import identityfifo, ourcommands, paths
from proxycmd.errors import shown

from . import ui
from .block import splice, write

HEADER = ("# condor-job-ssh editor config: written by `condor-job-ssh setup --editor-config`, rewritten by `sync`,\n"
          "# deleted by `remove`; edits are lost.  Point your editor's remote.SSH.configFile here (docs/editors.md).\n")
MARK = HEADER.split("\n", 1)[0]
EDITOR_WAIT = 50  # seconds: below open-remote-ssh's default connectTimeout (60 s), so our sentence arrives first
INDENT = "    "
_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./-]+\Z")
# the rule that carries our ProxyCommand: `Match host "*.S,*.S.,!*'*,!*!*"` (earlier blocks wrote
# `Match host "*.S,*.S.,!*'*"`, and before issue 26 `Match host "*.S,*.S." !host "*'*"`: still read here until
# `setup` rewrites them), never the user rule
_RULE = re.compile(r'Match host "\*\.([^,"]+),\*\.[^",]*(?:,!\*\'\*(?:,!\*!\*)?"\s*$|" !host )')
_INCLUDE_BAD = set(' \t,"\'\\*?[]{}%$`#')  # its parser splits Include on ',' and globs it; ssh splits on blanks
_PATH_BAD = set(' \t"\'\\%$`#')


class EditorConfigError(ui.Failure):
    """The editor config cannot be written as asked (one line)."""


# ----- the path the user gives ------------------------------------------------------------------------------
def check_target(path: str, ssh_config: Path) -> Path:
    """*path* if setup may write the editor config there: its directory passes the safe-chain rule (nobody
    else can swap a file in), it is not the ssh config itself, and what is there is ours or nothing."""
    target = Path(path)
    if os.path.realpath(target) == os.path.realpath(ssh_config):
        raise EditorConfigError(f"--editor-config {shown(path)} is the ssh config itself: name a separate file, "
                                "such as ~/.ssh/cjp-editor-config")
    try:
        paths.check_ssh_config_dir(target)
    except paths.PathError as exc:
        raise EditorConfigError(f"--editor-config {shown(path)}: {exc}") from None
    existing = _read(target)
    if existing is not None and not is_ours(existing):
        raise EditorConfigError(f"--editor-config {shown(path)}: that file was not written by condor-job-ssh "
                                "(no header of ours): it is left alone; name another path or move it away")
    return target


def is_ours(text: str) -> bool:
    return text.startswith(MARK + "\n") or text.startswith(MARK + "\r\n")


def _read(path: Path) -> Optional[str]:
    """The file's text, None when missing; a directory or special file is refused (one line)."""
    try:
        write.resolve(path)
        return write.read_text(path)
    except write.ConfigFileError as exc:
        raise EditorConfigError(f"--editor-config: {exc}") from None


# ----- rendering --------------------------------------------------------------------------------------------
def argv_word(word: str, what: str) -> str:
    """One ProxyCommand word that open-remote-ssh's splitter and OpenSSH's `sh -c` both read as *word*."""
    if _PLAIN.match(word):
        return word
    if not word.isprintable() or set(word) & set('"\\$`'):
        raise EditorConfigError(f"the {what} {word!r} cannot be written so that an editor's ProxyCommand splitter "
                                "reads it as one word (no '\"', '\\', '$' or backquote)")
    return f'"{word}"'


def proxy_commands(block: str) -> List[Tuple[str, List[str]]]:
    """(suffix, ProxyCommand words) of every suffix of the managed block *block*, in the block's order."""
    found: List[Tuple[str, List[str]]] = []
    lines = block.split("\n")
    for i, line in enumerate(lines[:-1]):
        rule = _RULE.match(line)
        command = lines[i + 1].strip()
        if rule and command.startswith("ProxyCommand "):
            found.append((rule.group(1).lower(), shlex.split(command[len("ProxyCommand "):])))
    if not found:
        raise EditorConfigError("the managed block has no ProxyCommand of ours: run `condor-job-ssh setup` first")
    return found


def editor_words(words: List[str]) -> List[str]:
    """The block's ProxyCommand words made into the editor's: --identity-fifo, a wait the editor outlasts."""
    if words[-3:] != ["--login", "%r", "%h"]:
        raise EditorConfigError("the managed block's ProxyCommand does not end in --login %r %h: run "
                                "`condor-job-ssh setup` again")
    body = [word.replace("%%", "%") for word in words[:-3]]  # ssh undoubles %%; the editor would not
    for word in body:
        if "%" in word:
            raise EditorConfigError(f"{word!r} in the ProxyCommand holds '%', which an editor's ssh_config parser "
                                    "does not read as ssh does: choose a path or name without it")
    extra = ["--identity-fifo"]
    if "--no-wait" not in body and "--wait-timeout" not in body:
        extra += ["--wait-timeout", str(EDITOR_WAIT)]
    program = ourcommands.program_words(body)  # the console script, or the quick start's python -I -S launcher
    return [*body[:program], *extra, *body[program:], "--login", "%r", "%h"]


def runtime_dir_of(words: List[str]) -> Path:
    try:
        return Path(words[words.index("--runtime-dir") + 1])
    except (ValueError, IndexError):
        raise EditorConfigError("the managed block's ProxyCommand names no --runtime-dir: run `condor-job-ssh "
                                "setup` again") from None


def _literal(value: str, what: str, bad: set) -> str:
    if not value.isprintable() or set(value) & bad:
        raise EditorConfigError(f"the {what} {value!r} holds a blank, quote, '%', '$', '#' or '\\', which an "
                                "editor's ssh_config parser does not read as ssh does: choose a plain path")
    return value


def suffix_of(host: str, suffixes: Iterable[str]) -> Optional[str]:
    """The longest suffix *host* ends in (a route's ap2.job.condor before job.condor)."""
    matching = [s for s in suffixes if host.endswith("." + s)]
    return max(matching, key=len) if matching else None


def render(block: str, hosts: Iterable[str], include: Path, user: Optional[str] = None,
           node: Optional[str] = None) -> str:
    """The editor config for the managed block *block* (as written in the user's file), one entry per name
    in *hosts*, then ``Include`` *include*.  *node*: the login node whose runtime paths to name (this one)."""
    rules = {suffix: editor_words(words) for suffix, words in proxy_commands(block)}
    out = [HEADER]
    for host in sorted({h.lower() for h in hosts}, key=_host_order):
        suffix = suffix_of(host, rules)
        if suffix is None:
            continue
        words = rules[suffix]
        command = " ".join(argv_word(w, "ProxyCommand word") for w in words)
        key = _literal(str(identityfifo.key_path(runtime_dir_of(words), host, node)), "key path", _PATH_BAD)
        out.append(f"\nHost {host}\n{INDENT}ProxyCommand {command}\n{INDENT}IdentityFile {key}\n"
                   f"{INDENT}IdentitiesOnly yes\n{INDENT}IdentityAgent none\n")
        if user:
            out.append(f"{INDENT}User {user}\n")
    out.append(f"\nInclude {_literal(str(include), 'ssh config path to include', _INCLUDE_BAD)}\n")
    return "".join(out)


def _host_order(host: str):
    parts = host.split(".")
    numeric = len(parts) > 2 and parts[0].isdigit() and parts[1].isdigit()
    return (not numeric, host.partition(".")[2] if not numeric else ".".join(parts[2:]),
            (int(parts[0]), int(parts[1])) if numeric else (0, 0), host)


def host_names(hosts_text: str) -> List[str]:
    """The names of the ``Host`` entries in rendered job entries (sync's, or the block's kept ones)."""
    return [line[5:].strip() for line in hosts_text.split("\n") if line.startswith("Host ")]


def block_hosts(block: str) -> List[str]:
    try:
        return [name for name, _ in splice.host_entries(block)]
    except splice.ManagedBlockError:
        return []


# ----- writing ----------------------------------------------------------------------------------------------
def refresh(path: str, ssh_config: Path, block: str, hosts: Iterable[str], user: Optional[str],
            dry_run: bool = False) -> bool:
    """Write the editor config at *path* for *block* and *hosts*, and every host's ``.pub`` (the others are
    removed).  True when the file changed (dry run: would change, and the diff is shown)."""
    target = check_target(path, ssh_config)
    hosts = sorted({h.lower() for h in hosts})
    text = render(block, hosts, ssh_config, user)
    before = _read(target)
    if dry_run:
        if before != text:
            ui.echo_exact(splice.unified_diff(before or "", text, target))
        return before != text
    rundirs = {runtime_dir_of(words) for _, words in proxy_commands(block)}
    for rundir in rundirs:
        try:
            identityfifo.write_pub_files(paths.ensure_runtime_dir(rundir), hosts, prune=True)
        except (OSError, paths.PathError, identityfifo.HandoverError) as exc:
            raise EditorConfigError(f"cannot write the editor config's key placeholders in {shown(rundir)}: "
                                    f"{exc}") from None
    if before == text:
        return False

    def still_ours() -> None:  # a file someone put there since the check is not replaced
        now = _read(target)
        if now is not None and not is_ours(now):
            raise EditorConfigError(f"{shown(target)} was replaced by a file that is not ours: left alone")

    try:
        write.write_file(target, text, mode=0o600, before_rename=still_ours)
    except write.ConfigFileError as exc:
        raise EditorConfigError(str(exc)) from None
    return True


def delete(path: str, block: Optional[str], dry_run: bool = False) -> Optional[str]:
    """Remove the editor config at *path* when it is ours, and the key placeholders; a sentence saying what
    was done (None: nothing there)."""
    target = Path(path)
    text = _read(target)
    if text is None:
        return None
    if not is_ours(text):
        return f"{shown(target)} is not an editor config of ours (no header): left alone"
    if dry_run:
        return f"(the editor config {shown(target)} will be deleted)"
    try:
        write.delete_file(target)
    except write.ConfigFileError as exc:
        raise EditorConfigError(str(exc)) from None
    if block is not None:
        for rundir in {runtime_dir_of(words) for _, words in _quiet_rules(block)}:
            try:
                paths.check_runtime_dir(rundir)
                if identityfifo.key_dir(rundir).is_dir():
                    identityfifo.write_pub_files(rundir, [], prune=True)
            except (OSError, paths.PathError):
                pass  # the placeholders are harmless; the config naming them is gone
    return f"Deleted the editor config {shown(target)}."


def _quiet_rules(block: str) -> List[Tuple[str, List[str]]]:
    try:
        return proxy_commands(block)
    except EditorConfigError:
        return []


# ----- the hooks in setup, sync and remove --------------------------------------------------------------------
def _block_of(config: Path, text: Optional[str]) -> Optional[str]:
    if text is None:
        text = write.read_text(config)
    return splice.block_text(text) if text is not None else None


def after_setup(chosen, current, config: Path, text: Optional[str], dry_run: bool) -> None:
    """Setup wrote (or would write) *text* to *config* (None: read it back): write the editor config the
    settings name, with the job hosts the block keeps; delete the one they named before, when ours."""
    import typer

    old = current.editor_config
    if old and old != chosen.editor_config:
        said = delete(old, _block_of(config, text) if not chosen.editor_config else None, dry_run)
        if said:
            typer.echo(said)
    if not chosen.editor_config:
        return
    block = _block_of(config, text)
    if block is None:
        return
    changed = refresh(chosen.editor_config, config, block, block_hosts(block), chosen.user, dry_run)
    if changed and not dry_run:
        typer.echo(f"Wrote the editor config {shown(chosen.editor_config)}: set your editor's remote.SSH.configFile "
                   "to it (docs/editors.md).")


def after_sync(chosen, config: Path, text: Optional[str], hosts_text: str, dry_run: bool) -> None:
    """Sync listed *hosts_text* into *config*: the editor config names the same hosts (and profiles)."""
    if not chosen.editor_config:
        return
    block = _block_of(config, text)
    if block is not None:
        refresh(chosen.editor_config, config, block, host_names(hosts_text), chosen.user, dry_run)


def after_remove(block: Optional[str], dry_run: bool) -> None:
    """Remove took the block out: the editor config goes too (when ours); the setting stays for `setup`."""
    import typer

    from .block import settings as settings_mod

    try:
        chosen = settings_mod.load(warn=lambda message: None)  # setup and sync say what is wrong with it
    except settings_mod.SettingsError as exc:
        ui.warn(f"the editor config (if any) was left alone: {exc}")
        return
    if chosen.editor_config:
        said = delete(chosen.editor_config, block, dry_run)
        if said:
            typer.echo(said)
