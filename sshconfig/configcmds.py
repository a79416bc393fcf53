"""`condor-job-ssh setup`, `sync` and `remove`: keep the managed block in the user's ssh_config.

`setup` writes the rules (how to reach *.job.condor), `sync` writes one Host entry per job (what VS Code
lists), `remove` takes the block out again.  Each reads the file, computes the new text, shows or writes
it, and touches nothing outside the block's markers.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import List, Optional, Tuple

import typer

from proxycmd import paths
from proxycmd.errors import shown

from . import editorconfig as editor_hook, pernode, sshclient, ui
from .block import render, settings as settings_mod, splice, write
from .block.render import RenderContext
from .block.settings import Route, Settings
from .block.splice import ManagedBlockError

PROXY = "condor-job-proxy"

# Options shared by the three commands.
SSH_CONFIG = typer.Option(None, "--ssh-config", metavar="PATH",
                          help="The ssh client config file to change (default: ~/.ssh/config).")
DRY_RUN = typer.Option(False, "--dry-run", help="Show the change as a diff; write nothing.")
YES = typer.Option(False, "--yes", "-y", help="Apply without asking.")


def find_proxy() -> str:
    """The absolute path of condor-job-proxy (see paths.console_script)."""
    found = paths.console_script(PROXY)
    if found:
        return found
    raise ui.Failure(f"cannot find {PROXY} next to {sys.executable} or on PATH; "
                  "reinstall condor-job-proxy (pip install condor-job-proxy) and run setup again")


def _ssh_config_path(option: Optional[Path]) -> Path:
    """The ssh config to change: the one named, else ~/.ssh/config, whose directories (it follows $HOME) must
    pass the safe-chain rule (`paths.check_ssh_config_dir`) before anything is read or written there."""
    if option is not None:
        return Path(os.path.expanduser(str(option)))
    config = paths.default_ssh_config()
    paths.check_ssh_config_dir(config)
    return config


def _read(config: Path) -> Tuple[Optional[str], Optional[str]]:
    """The file's text (None when missing) and its managed block (LF line ends, None when absent)."""
    write.resolve(config)  # a symlink to nothing is refused here, before anything is shown or made
    text = write.read_text(config)
    block = splice.block_text(text) if text is not None else None
    return text, block


# ----- setup --------------------------------------------------------------------------------------------------
def parse_route(text: str) -> Route:
    """``SUFFIX=SCHEDD[@POOL]``; the last '@' starts the pool, so ``s2@ap1@`` is schedd s2@ap1 on the
    default pool and ``SUFFIX=@POOL`` is the pool's default schedd."""
    suffix, sep, target = text.partition("=")
    if not sep or not suffix:
        raise ui.Failure(f"--route {text!r}: expected SUFFIX=SCHEDD[@POOL], e.g. ap2.condor=ap2.example.org")
    schedd, _, pool = target.rpartition("@") if "@" in target else (target, "", "")
    return Route(suffix.strip(), schedd or None, pool or None)


def apply_options(current: Settings, given: dict, routes: Optional[List[str]], no_routes: bool,
                  notes: Optional[List[str]] = None) -> Settings:
    """The saved settings with the options given on the command line (None: not given) put in.  A given
    option that cannot apply together with a saved one replaces it (a sentence for *notes* says so)."""
    if routes and no_routes:
        raise ui.Failure("--route and --no-routes contradict each other: give one of them")
    changes = {key: value for key, value in given.items() if value is not None}
    if no_routes:
        changes["routes"] = []
    if routes:
        changes["routes"] = [parse_route(text) for text in routes]
    for key in ("schedd", "pool", "user", "runtime_dir", "via", "sim_root", "wait_timeout", "editor_config"):
        if changes.get(key) == "":  # an empty value ("--schedd ''"): the default
            changes[key] = None
    chosen, said = settings_mod.settle(replace(current, **changes), set(changes))
    for sentence in settings_mod.conflicts(chosen, str(paths.config_file())):
        raise ui.Failure(sentence)  # a hand-edited file, and this run chose neither
    if notes is not None:
        notes.extend(said)
    return settings_mod.validate(chosen, "setup options")


def _hop_config(config: Path) -> Optional[str]:
    return sshclient.hop_config(config)


def _kept_hosts(block: Optional[str], suffixes: List[str]) -> str:
    """The synced job entries of the old block whose names still end in a configured suffix."""
    if block is None:
        return ""
    try:
        entries = splice.host_entries(block)
    except ManagedBlockError:
        return ""  # a hand-edited block: setup writes it fresh, the next sync lists the jobs again
    return "".join(entry for name, entry in entries if any(name.endswith("." + s) for s in suffixes))


def _runtime_dir(chosen: Settings, dry_run: bool) -> str:
    """The runtime directory for the block: the one chosen (it must pass the safe-chain rule, see
    paths.check_safe_chain), else ~/.ssh/cjp, or /run/user/<uid>/... where the home cannot hold sockets."""
    if chosen.runtime_dir:
        try:
            if dry_run:
                paths.check_runtime_dir(chosen.runtime_dir)
            else:
                paths.ensure_runtime_dir(Path(chosen.runtime_dir))
        except paths.PathError as exc:
            raise ui.Failure(f"{exc}; `condor-job-ssh setup --runtime-dir ''` returns to the default, "
                          f"{paths.default_runtime_dir()}") from None
        return chosen.runtime_dir
    if dry_run:
        path = paths.default_runtime_dir()
        paths.check_runtime_dir(path)
        return str(path)
    path, warning = paths.pick_runtime_dir()
    if warning:
        ui.warn(warning)
    return str(path)


def _setup_transform(proxy: str, rundir: str, chosen: Settings, hop_config: Optional[str] = None,
                     shared_known_hosts: bool = False, per_node: bool = True):
    """The file's text (None: no file) -> the text with the block written for *chosen*; with
    *shared_known_hosts*, for an OpenSSH client before 8.4 (one known_hosts file for every login node)."""

    def transform(text: Optional[str]) -> str:
        old_block = splice.block_text(text) if text is not None else None
        created = text is None or (old_block is not None and splice.was_created(old_block))
        ctx = RenderContext(proxy=proxy, runtime_dir=rundir, settings=chosen, created_file=created,
                            ssh_config=hop_config, shared_known_hosts=shared_known_hosts, per_node=per_node)
        block = render.render_block(ctx, hosts=_kept_hosts(old_block, chosen.suffixes))
        return splice.splice(text if text is not None else "", block)

    return transform


def setup_command(
    ssh_config: Optional[Path] = SSH_CONFIG,
    sim: Optional[Path] = typer.Option(None, "--sim", metavar="DIR",
                                       help="Use the simulated pool under DIR instead of HTCondor."),
    condor: bool = typer.Option(False, "--condor", help="Use HTCondor again (undoes --sim)."),
    user: Optional[str] = typer.Option(None, "--user", metavar="NAME",
                                       help="Log in as NAME on the execute side ('' to stop setting it)."),
    forward_agent: Optional[bool] = typer.Option(None, "--forward-agent/--no-forward-agent",
                                                 help="Forward your ssh agent to the job."),
    multiplex: Optional[bool] = typer.Option(None, "--multiplex/--no-multiplex",
                                             help="Share one connection among sessions to a job (ControlMaster)."),
    control_persist: Optional[str] = typer.Option(None, "--control-persist", metavar="TIME",
                                                  help="How long a shared connection outlives its last session."),
    suffix: Optional[str] = typer.Option(None, "--suffix", metavar="SUFFIX",
                                         help="Host name suffix for jobs (default job.condor)."),
    schedd: Optional[str] = typer.Option(None, "--schedd", metavar="NAME",
                                         help="Schedd to ask for jobs (default: the local one)."),
    pool: Optional[str] = typer.Option(None, "--pool", metavar="HOST",
                                       help="Central manager of the pool (default: HTCondor's own setting)."),
    route: Optional[List[str]] = typer.Option(None, "--route", metavar="SUFFIX=SCHEDD[@POOL]",
                                              help="Extra suffix reaching another schedd or pool; repeat for "
                                                   "more. Replaces the saved routes."),
    no_routes: bool = typer.Option(False, "--no-routes", help="Forget all saved extra suffixes."),
    wait: Optional[bool] = typer.Option(None, "--wait/--no-wait",
                                        help="Wait for an idle job to start, or fail at once."),
    keygen_options: Optional[str] = typer.Option(
        None, "--keygen-options", metavar="OPTS",
        help="ssh-keygen options for each session key the starter makes (default '-t ecdsa -b 256': FIPS-"
             "approved, a few ms instead of RSA's 0.3-3 s per connection). '' leaves the starter's own default."),
    wait_timeout: Optional[str] = typer.Option(
        None, "--wait-timeout", metavar="SECONDS",
        help="Give up waiting for an idle job after SECONDS (ssh then says so and exits 255). Default: no "
             "limit from a terminal, 2 hours without one (scripts, cron); 0 or '' returns to that."),
    include_idle: Optional[bool] = typer.Option(None, "--include-idle/--running-only",
                                                help="Let `sync` list idle jobs too."),
    all_schedds: Optional[bool] = typer.Option(None, "--all-schedds/--block-schedds",
                                               help="Let `sync` list the jobs of every schedd of the pool (as "
                                                    "`condor_q -global`), not only of the schedds the block names."),
    sync_limit: Optional[int] = typer.Option(None, "--sync-limit", metavar="N",
                                             help="The most job hosts `sync` writes, the newest jobs (default "
                                                  "1000); every other job is still reached by its host name."),
    runtime_dir: Optional[str] = typer.Option(None, "--runtime-dir", metavar="DIR",
                                              help="Private directory for the agent and shared connections (default "
                                                   "~/.ssh/cjp; '' resets). Refused under a directory others "
                                                   "can write, such as /tmp: see docs/security.md."),
    via: Optional[str] = typer.Option(None, "--via", metavar="DEST",
                                      help="Reach the jobs through the access point DEST with ssh (your Host alias "
                                           "or user@host), from a machine without HTCondor ('' resets). See "
                                           "docs/laptop.md."),
    per_node_paths: Optional[str] = typer.Option(
        None, "--per-node-paths", metavar="auto|yes|no",
        help="Name the agent and known_hosts with one directory per login node (host-%l), for a home that "
             "several machines share; no: literal paths, which SSH libraries and editors read too. Default "
             "auto: from the runtime directory's file system type (literal with --via)."),
    editor_config: Optional[str] = typer.Option(
        None, "--editor-config", metavar="PATH",
        help="Also write a separate ssh config at PATH for editors that read ssh_config themselves (VSCodium, "
             "Windsurf, Antigravity, Positron: point remote.SSH.configFile at it); sync keeps it up to date, "
             "remove deletes it; '' stops. See docs/editors.md."),
    dry_run: bool = DRY_RUN,
    yes: bool = YES,
) -> None:
    """Write the block that makes ssh reach *.job.condor.

    Puts a block at the top of your ssh config that sends every host ending in .job.condor through
    condor-job-proxy. Options you give are saved and reused by later runs, so `setup` alone re-applies
    your choices; a run that changes nothing says so and leaves the file alone. Job hosts written by
    `sync` are kept.

    \b
    Examples:
      condor-job-ssh setup                     # HTCondor, local schedd
      condor-job-ssh setup --schedd ap1.example.org --pool cm.example.org
      condor-job-ssh setup --sim ~/sim-pool    # try it on the simulated pool
      condor-job-ssh setup --route ap2.condor=ap2.example.org --yes
      condor-job-ssh setup --dry-run           # only show the diff
    """
    with ui.one_line_errors():
        if sim is not None and condor:
            raise ui.Failure("--sim and --condor contradict each other: give one of them")
        current = settings_mod.load(warn=ui.warn)
        given = dict(user=user, forward_agent=forward_agent, multiplex=multiplex,
                     control_persist=control_persist, suffix=suffix, schedd=schedd, pool=pool, wait=wait,
                     keygen_options=keygen_options, include_idle=include_idle, all_schedds=all_schedds,
                     sync_limit=sync_limit,
                     runtime_dir=runtime_dir, via=via, per_node_paths=per_node_paths)
        if editor_config is not None:
            given["editor_config"] = editor_hook.normalise(editor_config)
        if sim is not None:
            given["sim_root"] = os.path.abspath(os.path.expanduser(str(sim)))
        if condor:
            given["sim_root"] = ""
        if wait_timeout is not None:
            limit = settings_mod.parse_wait_timeout(wait_timeout)
            given["wait_timeout"] = "" if limit is None else limit
        notes: List[str] = []
        chosen = apply_options(current, given, route, no_routes, notes)
        for note in notes:
            ui.warn(note)
        if sim is not None:
            from .simcmds import pool_warning

            for problem in filter(None, [pool_warning(given["sim_root"])]):
                ui.warn(problem)
        config = _ssh_config_path(ssh_config)
        if chosen.editor_config:  # a bad path or a file not ours: one line, before anything is written
            editor_hook.check_target(chosen.editor_config, config)
        if not dry_run:
            write.check_writable(config)  # before anything is saved or created
        text, _ = _read(config)
        shared_known_hosts = not sshclient.known_hosts_per_host(sshclient.client_version())
        rundir = _runtime_dir(chosen, dry_run)
        per_node, why = pernode.decide(chosen.per_node_paths, rundir, bool(chosen.via and not chosen.sim_root))
        typer.echo(why)
        transform = _setup_transform(find_proxy(), rundir, chosen, _hop_config(config), shared_known_hosts,
                                     per_node)
        before = text if text is not None else ""
        after = transform(text)
        settings_changed = chosen != current
        if text is not None and after == before:
            if settings_changed and not dry_run:
                settings_mod.save(chosen)
                typer.echo(f"Saved the settings to {shown(paths.config_file())}.")
            if not dry_run:
                paths.set_one_host(Path(rundir), not per_node)
            typer.echo(f"{shown(config)}: no changes.")
            editor_hook.after_setup(chosen, current, config, after, dry_run)
            _warn_problems(config, chosen)
            return
        ui.echo_exact(splice.unified_diff(before, after, config))
        if dry_run:
            editor_hook.after_setup(chosen, current, config, after, dry_run)
            typer.echo("Dry run: nothing was written.")
            return
        ui.confirm(f"Write these changes to {config}?", yes)
        if settings_changed:  # first: a config written with settings that failed to save would be undone
            settings_mod.save(chosen)  # by the next bare `setup`
        written = write.update(config, transform)
        paths.set_one_host(Path(rundir), not per_node)  # the proxy and the agent find what the block names
        if written == write.UNCHANGED:
            typer.echo(f"{shown(config)}: no changes.")
            editor_hook.after_setup(chosen, current, config, None, dry_run)
            return
        editor_hook.after_setup(chosen, current, config, None, dry_run)
        for line in splice.lines_before(after)[:1]:
            ui.warn(f"{config} sets {line!r} above the managed block; ssh keeps the first value it reads, so "
                  "options above the block win over ours: move them below it")
        _warn_problems(config, chosen)
        from .setupwarn import a_running_job

        job = a_running_job(chosen, config)
        try_it = f"Try `ssh {shlex.quote(job)}`" if job else f"Try `ssh CLUSTER.PROC.{chosen.suffix}` with one of your job ids"
        typer.echo(f"Updated {shown(config)}. {try_it}; "
                   f"`{paths.command_word('condor-job-ssh')} sync` lists your jobs for VS Code.")
        if chosen.via and not chosen.sim_root:
            from .hopsetup import advice

            typer.echo(advice(chosen.via))


def _warn_problems(config: Path, chosen) -> None:
    from .setupwarn import problems

    for problem in problems(config, chosen):
        ui.warn(problem)


# ----- sync -----------------------------------------------------------------------------------------------------
def _listed(job, include_idle: bool) -> bool:
    return job.status in ("running", "transferring") or (include_idle and job.status == "idle")


def sync_once(config: Path, include_idle: Optional[bool], dry_run: bool) -> Tuple[bool, int]:
    """One listing written into the block: (whether the text changed, how many job hosts it has)."""
    chosen = settings_mod.load(warn=ui.warn)
    for sentence in settings_mod.conflicts(chosen, str(paths.config_file())):
        ui.warn(sentence)
    idle = chosen.include_idle if include_idle is None else include_idle
    text, block = _read(config)
    if text is None or block is None:
        raise ui.Failure(f"{config} has no managed block: run `{paths.command_word('condor-job-ssh')} setup` first")
    splice.split_block(block)  # a hand-edited block stops us here, before the pool is asked
    if not dry_run:
        write.check_writable(config)
    from .joblist import list_everywhere
    from .places import backend_for

    def open_at(schedd: Optional[str], pool: Optional[str], pool_only: bool):
        return backend_for(chosen, config, (schedd, pool, pool_only))

    taken = time.time()
    try:
        listed = list_everywhere(chosen, open_at, idle, ui.warn, all_schedds=chosen.all_schedds)
    except ImportError as exc:
        raise ui.Failure(f"cannot ask HTCondor for your jobs: {exc} (install HTCondor's Python bindings, "
                      "or use `setup --sim DIR` to try the simulated pool)") from None
    from proxycmd.ondemand import profile_names

    from .joblist import newest

    wanted = [item for item in listed if _listed(item.job, idle)]
    if len(wanted) > chosen.sync_limit:
        ui.warn(f"{len(wanted)} jobs are listed, more than the {chosen.sync_limit} job hosts sync writes: the ssh "
              f"config names the newest {chosen.sync_limit}; every job is still reached by its host name without "
              f"an entry (ssh CLUSTER.PROC.{chosen.suffix}), and "
              f"`{paths.command_word('condor-job-ssh')} setup --sync-limit N` changes the bound")
        wanted = newest(wanted, chosen.sync_limit)
    hosts = render.render_listed(wanted, chosen, taken) + render.render_profile_hosts(profile_names(), chosen)

    def transform(now: Optional[str]) -> str:
        now_block = splice.block_text(now) if now is not None else None
        if now is None or now_block is None:
            raise ui.Failure(f"{config} has no managed block any more: run `condor-job-ssh setup` first")
        return splice.splice(now, splice.replace_hosts(now_block, hosts))

    after = transform(text)
    count = sum(1 for line in hosts.split("\n") if line.startswith("Host "))
    if after == text:
        editor_hook.after_sync(chosen, config, after, hosts, dry_run)
        return False, count
    if dry_run:
        ui.echo_exact(splice.unified_diff(text, after, config))
        editor_hook.after_sync(chosen, config, after, hosts, dry_run)
        return True, count
    changed = write.update(config, transform) != write.UNCHANGED
    editor_hook.after_sync(chosen, config, None, hosts, dry_run)
    return changed, count


def sync_command(
    ssh_config: Optional[Path] = SSH_CONFIG,
    include_idle: Optional[bool] = typer.Option(None, "--include-idle/--running-only",
                                                help="List idle jobs too (default: as saved by setup)."),
    watch: Optional[float] = typer.Option(None, "--watch", metavar="SECONDS",
                                          help="Keep syncing every SECONDS (1 or more) until interrupted."),
    dry_run: bool = DRY_RUN,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Say nothing unless something changed."),
) -> None:
    """List your running jobs as ssh hosts, for VS Code.

    Asks every schedd the block reaches for your jobs (the default one, each route's, and with
    `setup --all-schedds` every schedd of the pool) and writes one `Host 32.0.job.condor` entry per job
    inside the managed block (32.0.SUFFIX for a route's, 32.0.SCHEDD.job.condor for another schedd's), so
    VS Code's Remote Explorer and shell completion offer it, and drops jobs that have left. A schedd that
    does not answer is a warning; the others are listed. It never asks and writes only when the list
    changed, so it suits a timer (see contrib/). Run `setup` first.

    \b
    Examples:
      condor-job-ssh sync
      condor-job-ssh sync --include-idle --dry-run
      condor-job-ssh sync --watch 60          # until Ctrl-C
    """
    config = _ssh_config_path(ssh_config)
    if watch is not None and not watch >= 1:  # also nan; checked here, not by typer's "x>=1.0"
        raise ui.fail(f"--watch wants a number of seconds, at least 1, not {watch:g}", 2)
    if watch is not None and dry_run:
        raise ui.fail("--watch with --dry-run would show the same diff again and again: use one of them")
    if watch is None:
        with ui.one_line_errors():
            changed, count = sync_once(config, include_idle, dry_run)
        if changed and not dry_run:
            typer.echo(f"Updated {shown(config)}: {count} job host{'s' * (count != 1)}.")
        elif changed:
            typer.echo("Dry run: nothing was written.")
        elif not quiet:
            typer.echo(f"{shown(config)}: no changes ({count} job host{'s' * (count != 1)}).")
        return
    _watch(config, include_idle, watch)


def _watch(config: Path, include_idle: Optional[bool], every: float) -> None:
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        while True:
            try:
                changed, count = sync_once(config, include_idle, dry_run=False)
                if changed:
                    typer.echo(f"{time.strftime('%H:%M:%S')} {shown(config)}: {count} job hosts")
            except ui.Failure as exc:  # no block: waiting will not help
                raise ui.fail(str(exc)) from None
            except ui.ERRORS + (OSError,) as exc:  # the pool may come back: say so and go on
                ui.warn(str(exc))
            time.sleep(every)
    except KeyboardInterrupt:
        typer.echo("Stopped.", err=True)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


# ----- remove -----------------------------------------------------------------------------------------------
def remove_command(
    ssh_config: Optional[Path] = SSH_CONFIG,
    dry_run: bool = DRY_RUN,
    yes: bool = YES,
) -> None:
    """Take the managed block out of your ssh config.

    Nothing else in the file changes: after `setup` then `remove` it is exactly as it was, byte for byte. When `setup` created the file and
    nothing else has been added to it since, the file is deleted (the ~/.ssh directory stays). Saved
    settings are kept for a later `setup`.

    \b
    Examples:
      condor-job-ssh remove --dry-run
      condor-job-ssh remove --yes
    """
    with ui.one_line_errors():
        config = _ssh_config_path(ssh_config)
        text, block = _read(config)
        if text is None or block is None:
            typer.echo(f"{shown(config)}: no managed block, nothing to remove.")
            editor_hook.after_remove(block, dry_run)
            return
        if not dry_run:
            write.check_writable(config)
        after, created = splice.remove(text)
        delete = created and after == ""
        ui.echo_exact(splice.unified_diff(text, after, config))
        if delete:
            typer.echo(f"(setup created {shown(config)} and nothing else is in it: it will be deleted)")
        if dry_run:
            editor_hook.after_remove(block, dry_run)
            typer.echo("Dry run: nothing was written.")
            return
        ui.confirm(f"{'Delete' if delete else 'Change'} {config}?", yes)
        outcome = write.update(config, _remove_transform)
        editor_hook.after_remove(block, dry_run)
        if outcome == write.DELETED:
            typer.echo(f"Deleted {shown(config)}.")
        elif outcome == write.WRITTEN:
            typer.echo(f"Removed the managed block from {shown(config)}.")
        else:
            typer.echo(f"{shown(config)}: no managed block, nothing to remove.")


def _remove_transform(text: Optional[str]) -> object:
    if text is None or splice.find_block(text) is None:
        return text
    after, created = splice.remove(text)
    return write.DELETE if created and after == "" else after


def register(app: typer.Typer) -> None:
    """Add `setup`, `sync` and `remove` to the `condor-job-ssh` app."""
    app.command("setup")(setup_command)
    app.command("sync")(sync_command)
    app.command("remove")(remove_command)
