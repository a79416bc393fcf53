"""`condor-job-ssh doctor`: check everything a connection relies on, and say how to fix what is broken.

Each check gives ok, warn or fail, a detail and, unless ok, a fix.  The command prints a table within 80
columns (the fix under its row, each command on a line of its own: sshconfig/ui.py) and exits 1
when any check fails; warnings (a schedd the bindings cannot reach, an option set above the managed block)
leave the exit status at 0, because connections still work.

The rows about the place where jobs are (HTCondor's tools and schedd, the simulated pool, the access point)
are the backend's own (`Backend.checks`); doctor never asks which backend it has.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import List, Optional
import pwd

import typer

from proxycmd import ourcommands, paths

from .. import sshclient, ui
from ..block import resolved as resolved_mod
from ..block import settings as settings_mod
from proxycmd.agent import client
from ..block import splice, write
from ..failures_check import check_recent_failures
from ..jobdoctorcmd import diagnose
from ..places import backend_for
from ..profiles.check import check_profiles
from proxycmd.checkresult import FAIL, OK, WARN, Check

WIDTH = ui.WIDTH
MIN_OPENSSH = (8, 0)


# ----- OpenSSH -----------------------------------------------------------------------------------------------
def check_ssh_version() -> Check:
    name = "OpenSSH client"
    done = sshclient.run(["ssh", "-V"])
    if done is None:
        return Check(name, FAIL, "ssh is not installed (or not on PATH)",
                     "install the OpenSSH client, version 8.0 or newer")
    said = (done.stderr or done.stdout).strip().splitlines()
    version, text = sshclient.parse(said[0] if said else "")
    if version is None:
        return Check(name, FAIL, f"`ssh -V` said {said[0] if said else 'nothing'!r}: not OpenSSH",
                     "install the OpenSSH client, version 8.0 or newer")
    if version < MIN_OPENSSH:
        return Check(name, FAIL, f"{text} is older than 8.0", "upgrade the OpenSSH client to 8.0 or newer")
    return Check(name, OK, text)


# option: (the value given, what `ssh -G` prints back for it)
_OPTIONS = {"ProxyUseFdpass": ("yes", "yes"), "IdentityAgent": ("/nonexistent/agent.sock",) * 2,
            "IdentityFile": ("none", "none"), "UserKnownHostsFile": ("/nonexistent/known_hosts",) * 2,
            "StrictHostKeyChecking": ("yes", "true"), "UpdateHostKeys": ("no", "false"),
            "ControlMaster": ("no", "false")}


def check_ssh_options() -> Check:
    name = "ssh options"
    argv = ["ssh", "-G", "-F", "/dev/null"] + [f"-o{key}={given}" for key, (given, _) in _OPTIONS.items()]
    values, why = sshclient.ssh_g(argv + ["1.0.job.condor"])
    if values is None:
        return Check(name, FAIL, f"ssh does not accept the options condor-job-proxy relies on: {why}",
                     "upgrade the OpenSSH client to 8.0 or newer")
    wrong = [key for key, (_, shown) in _OPTIONS.items() if values.get(key.lower(), "").split(" ")[0] != shown]
    if wrong:
        return Check(name, FAIL, f"ssh ignores {', '.join(wrong)}", "upgrade the OpenSSH client to 8.0 or newer")
    return Check(name, OK, "accepts " + ", ".join(_OPTIONS))


# ----- the ssh config ----------------------------------------------------------------------------------------
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
    executable = proxy.split()[0].strip("'\"")
    if not os.access(executable, os.X_OK):
        return Check(name, FAIL, f"the ProxyCommand {executable} is not an executable file",
                     "reinstall condor-job-proxy, then " + again)
    includes = [line for line in before if line.split()[0].lower() == "include"]
    if includes or before:
        shown = (includes or before)[0]
        return Check(name, WARN, f"{shown!r} comes before the managed block; ssh keeps the first value it reads",
                     f"move it below the line {splice.END!r}")
    return Check(name, OK, f"{config}: the block comes first and 1.0.{suffix} goes through {executable}")


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
                     f"move that User line below the line {_end_marker()!r}")
    if sent == me:
        return Check(name, OK, f"ssh logs in to job hosts as {sent}, your local user")
    return Check(name, FAIL, f"ssh logs in to {resolved.host} as {sent}, not as your local user {me}: a User "
                             "line outside the managed block applies to job hosts, and a job that runs as "
                             "another account refuses every connection",
                 f"name the account your jobs run as (usually {me}): `{ui.cjs()} setup --user {shlex.quote(me)}`")


def _end_marker() -> str:
    return splice.END


# ----- local state -------------------------------------------------------------------------------------------
def _check_dir(path: Path) -> "tuple[str, str, str]":
    """(state, detail, fix) for one private directory the block names."""
    if not os.path.lexists(path):
        if path.parent.is_dir():
            return OK, f"{path} (made on the first connection)", ""
        return FAIL, f"{path} and its parent {path.parent} do not exist", \
            f"pick a runtime directory: `{ui.cjs()} setup`"
    try:
        paths.check_safe_chain(path)
    except paths.PathError as exc:
        return FAIL, str(exc), _dir_fix(path, exc)
    return OK, f"{path} is private (700, yours)", ""


def _dir_fix(path: Path, exc: Exception) -> str:
    if "lets others in" in str(exc):
        return f"make it private: `chmod 700 {shlex.quote(str(path))}`"
    return f"remove {path}, then run: `{ui.cjs()} setup`"


def check_block_runtime_dirs(resolved: "resolved_mod.Resolved") -> "tuple[Check, Optional[Path]]":
    """Every directory the block's ProxyCommand, IdentityAgent, ControlPath and UserKnownHostsFile use;
    with them, the directory of the agent."""
    name = "runtime dir"
    if resolved.known_hosts and "%l" in resolved.known_hosts:  # written by `setup` on a node with OpenSSH 8.4+
        return Check(name, FAIL, f"this ssh (OpenSSH before 8.4) reads UserKnownHostsFile {resolved.known_hosts} "
                                 "literally: it does not expand %l there, so no job's host key is found",
                     f"run `{ui.cjs()} setup` on this host: it writes the one known_hosts file every login node "
                     "reads"), None
    results = [(Path(directory),) + _check_dir(Path(directory)) for directory in resolved.runtime_dirs()]
    agent_dir = resolved.proxy_runtime_dir or (os.path.dirname(resolved.identity_agent)
                                               if resolved.identity_agent else None)
    for path, state, detail, fix in results:
        if state != OK:
            return Check(name, state, detail, fix), None
    details = "; ".join(detail for _, _, detail, _ in results)
    if agent_dir is None:
        return Check(name, OK, details), None
    agent_path = Path(agent_dir)
    return Check(name, OK, details), (agent_path if os.path.isdir(agent_path) else None)


def check_runtime_dir(chosen: Optional[str]) -> "tuple[Check, Optional[Path]]":
    name = "runtime dir"
    path = Path(chosen) if chosen else paths.runtime_dir(create=False)
    if not os.path.lexists(path):
        if path.parent.is_dir():
            return Check(name, OK, f"{path} (made on the first connection)"), None
        return Check(name, FAIL, f"{path} and its parent {path.parent} do not exist",
                     f"pick a runtime directory: `{ui.cjs()} setup`"), None
    try:
        paths.check_safe_chain(path)
    except paths.PathError as exc:
        return Check(name, FAIL, str(exc), _dir_fix(path, exc)), None
    return Check(name, OK, f"{path} is private (700, yours)"), path


def check_agent(rundir: Optional[Path], identity_agent: Optional[str] = None) -> Check:
    """The agent answers on control.sock, and *identity_agent* (the socket ssh really uses, as `ssh -G`
    resolves IdentityAgent) is that agent's listening socket, not a removed or foreign one."""
    name = "key agent"
    if rundir is None:
        return Check(name, OK, "not running (it starts on the first connection)")
    try:
        status = client.status(rundir)
    except client.AgentError as exc:
        return Check(name, FAIL, str(exc), f"remove {paths.agent_socket(rundir)}, or see why it fails in a terminal: "
                                           f"`{ourcommands.command_word('condor-job-proxy')} agent --runtime-dir "
                                           f"{shlex.quote(str(rundir))}`")
    if status is None:
        return Check(name, OK, "not running (it starts on the first connection)")
    pid = status.get("pid")
    if identity_agent:
        fix = f"connect again (the agent then listens there anew), or run: `{ui.cjs()} agent stop`"
        try:
            st = os.stat(identity_agent)
        except OSError as exc:
            return Check(name, FAIL, f"pid {pid} answers, but ssh's IdentityAgent {identity_agent} is not there "
                                     f"({exc.strerror}): ssh would find no key", fix)
        if status.get("socket") is not None and [st.st_dev, st.st_ino] != status.get("socket"):
            return Check(name, FAIL, f"ssh's IdentityAgent {identity_agent} is not the socket of the agent that "
                                     f"answers (pid {pid}): ssh would find no key", fix)
    return Check(name, OK, f"pid {pid} answers: {ui.plural(status.get('sessions', 0), 'session')}, "
                           f"{ui.plural(status.get('keys', 0), 'key')}" + (f", on {identity_agent}" if identity_agent else ""))


# ----- the command -------------------------------------------------------------------------------------------
def run_checks(config: Path) -> List[Check]:
    checks: List[Check] = [check_ssh_version(), check_ssh_options()]
    try:
        chosen = settings_mod.load(warn=lambda message: None)
    except settings_mod.SettingsError as exc:
        return checks + [Check("settings", FAIL, str(exc), f"fix or delete that file, then run: `{ui.cjs()} setup`")]

    backend = backend_for(chosen, config)  # the simulated pool, the access point or HTCondor: its own rows
    checks += backend.checks()
    checks.append(check_block(config, chosen.suffix))
    resolved = resolved_mod.resolve_block(config, chosen.suffix)  # what ssh really uses: the block's paths, not ours
    if resolved is not None:
        runtime, rundir = check_block_runtime_dirs(resolved)
        checks += [check_login_user(resolved, chosen.user, local_user()), runtime]
    else:
        runtime, rundir = check_runtime_dir(chosen.runtime_dir)
        checks.append(runtime)
    checks.append(check_agent(rundir, resolved.identity_agent if resolved is not None else None))

    checks.append(check_recent_failures(settings=chosen, jobs=backend.queue_times))

    checks += check_profiles()
    return checks


def render(checks: List[Check], width: int = WIDTH) -> str:
    """The table (sshconfig/ui.py): one row for each check, its details wrapped and its fix under
    it, within *width* columns, every command on a line of its own."""
    rows = [(check.name, check.state, check.detail, check.fix if check.state != OK else "") for check in checks]
    failed = sum(1 for check in checks if check.state == FAIL)
    warned = sum(1 for check in checks if check.state == WARN)
    lines = ui.table(rows, width) + ["", f"{failed} failed, {ui.plural(warned, 'warning')}, "
                                      f"{len(checks) - failed - warned} ok."]
    return "\n".join(lines) + "\n"


def doctor_command(
    job: Optional[str] = typer.Argument(None, metavar="JOB",
                                        help="A job (32.0, or a job host name): what its sessions can and cannot do."),
    ssh_config: Optional[Path] = typer.Option(None, "--ssh-config", metavar="PATH",
                                              help="The ssh client config file to check (default: ~/.ssh/config)."),
) -> None:
    """Check ssh, HTCondor, the ssh config, the runtime directory and the key agent.

    Prints a line for each check (ok, warn or fail), with how to fix each problem under it.
    Exits 1 when a check fails; warnings (such as a schedd the Python bindings cannot reach)
    leave connections working.

    With JOB: where that job's sessions land (the execute host, or inside its container) and, for a
    container job, whether scp, sftp, rsync, ssh -L and exit statuses work there (docs/containers.md).
    """
    if job is not None:
        raise typer.Exit(diagnose(job, Path(os.path.expanduser(str(ssh_config))) if ssh_config else None, render))
    config = Path(os.path.expanduser(str(ssh_config))) if ssh_config else paths.default_ssh_config()
    checks = run_checks(config)
    typer.echo(render(checks), nl=False)
    if any(check.state == FAIL for check in checks):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("doctor", cls=ui.PlainCommand)(doctor_command)

