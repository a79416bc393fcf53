"""doctor's rows about the managed block: it is there and comes first, `ssh -G` resolves a job host to our
ProxyCommand, and the user ssh sends for job hosts is the one the jobs run as (setup's warnings use that
row too: sshconfig/setupwarn.py)."""

from __future__ import annotations

import os
import pwd
import shlex
from pathlib import Path
from typing import Optional

from proxycmd import ourcommands, paths
from proxycmd.checkresult import FAIL, OK, WARN, Check

from .. import sshclient, ui
from ..block import resolved as resolved_mod
from ..block import render, splice, write


def check_block(config: Path, suffix: str) -> Check:
    """The managed block is there, nothing that can win over it comes first, and ssh resolves a job host
    to our ProxyCommand."""
    name = "ssh config"
    again = f"run: `{ui.cjs()} setup`"
    try:
        text = write.read_text(config)
        span = splice.find_block(text) if text is not None else None
    except (write.ConfigFileError, splice.ManagedBlockError) as exc:
        return Check(name, FAIL, str(exc), "repair the file by hand, then " + again)
    if span is None:
        return Check(name, FAIL, f"{config} has no condor-job-ssh managed block", again)
    before = splice.lines_before(text)
    first = [line for line in before if line.split()[0].lower() in ("host", "match")]
    if first:
        return Check(name, FAIL, f"{config} has {first[0]!r} above the managed block, so ssh may never reach it",
                     f"move that section below the line {splice.END!r}")
    values, why = sshclient.ssh_g(["ssh", "-G", "-F", str(config), f"1.0.{suffix}"])
    if values is None:
        return Check(name, FAIL, f"ssh cannot read {config}: {why}", "fix the line ssh names, then " + again)
    proxy = values.get("proxycommand", "")
    if "condor-job-proxy" not in proxy or values.get("proxyusefdpass") != "yes":
        return Check(name, FAIL, f"ssh resolves 1.0.{suffix} to ProxyCommand {proxy or 'none'!r}, not ours",
                     "something above the managed block wins: move it below the block, then " + again)
    executable, missing = _proxy_program(proxy)
    if missing:
        return Check(name, FAIL, f"the ProxyCommand's {missing}", "reinstall condor-job-proxy, then " + again)
    unread = _not_read_by_ssh(config)
    if unread:
        return Check(name, WARN, f"ssh reads {unread} (your home in the password database), not {config} (from "
                                 "$HOME): a plain `ssh` never sees this block",
                     f"run: `{ui.cjs()} setup --ssh-config {shlex.quote(unread)}`, or give ssh `-F {config}`")
    if render.NOT_OURS not in (splice.block_text(text) or ""):
        return Check(name, WARN, "the block was written by an earlier version, which sends host and user names "
                                 "with a '!' to the ProxyCommand too: csh and tcsh expand history there, even "
                                 "inside quotes", again)
    includes = [line for line in before if line.split()[0].lower() == "include"]
    if includes or before:
        shown = (includes or before)[0]
        return Check(name, WARN, f"{shown!r} comes before the managed block; ssh keeps the first value it reads",
                     f"move it below the line {splice.END!r}")
    return Check(name, OK, f"{config}: the block comes first and 1.0.{suffix} goes through {executable}")


def _not_read_by_ssh(config: Path) -> Optional[str]:
    """The file ssh reads by default, when *config* is our default (~ from $HOME) and that is another file:
    ssh finds ~/.ssh/config through the password database, never $HOME."""
    try:
        theirs = str(sshclient.default_config())
    except KeyError:
        return None
    ours = os.path.abspath(config)
    if ours != os.path.abspath(paths.default_ssh_config()) or os.path.realpath(ours) == os.path.realpath(theirs):
        return None
    return theirs


def local_user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def check_login_user(resolved: "resolved_mod.Resolved", wanted: Optional[str], me: str) -> Check:
    """The user ssh sends for job hosts.  A starter without HTCondor's getpwnam shim accepts only the
    job's own account; a `Host *` `User alice` below the block then breaks every job host."""
    name = "login user"
    sent = resolved.user
    if wanted:
        if sent == wanted:
            return Check(name, OK, f"ssh logs in to job hosts as {sent} (setup --user)")
        return Check(name, FAIL, f"setup --user {shlex.quote(wanted)} is saved, but ssh logs in to {resolved.host} as "
                                 f"{sent}: something above the managed block sets User, so every connection "
                                 "fails",
                     f"move that User line below the line {splice.END!r}")
    if sent == me:
        return Check(name, OK, f"ssh logs in to job hosts as {sent}, your local user")
    return Check(name, FAIL, f"ssh logs in to {resolved.host} as {sent}, not as your local user {me}: a User "
                             "line outside the managed block applies to job hosts, and a job that runs as "
                             "another account refuses every connection",
                 f"name the account your jobs run as (usually {me}): `{ui.cjs()} setup --user {shlex.quote(me)}`")


def _proxy_program(proxy: str):
    """(what the ProxyCommand runs, None) or (it, what is wrong with it): the console script, or the quick
    start's launcher `python -I -S .../proxycmd/condor-job-proxy` (proxycmd/ourcommands.py)."""
    try:
        words = [word.replace("%%", "%") for word in shlex.split(proxy)]
    except ValueError:
        words = proxy.split()
    if not words:
        return "", "command is empty"
    if not os.access(words[0], os.X_OK):
        return words[0], f"{words[0]} is not an executable file"
    program = words[ourcommands.program_words(words) - 1]
    if program != words[0] and not os.path.isfile(program):
        return program, f"launcher {program} is missing"
    return program, None
