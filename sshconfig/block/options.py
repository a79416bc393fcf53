"""Every setup option declared once, in the order of the block.

An `Option` says what a setting is (its key in Settings and config.toml, its kind, default and bounds, its
check), how `setup` takes it (flags, metavar, help, '' to reset, a reset flag, how the command line's text
becomes the setting), which other setting it cannot apply with or leaves unused, and what it writes into the
block (`proxy`: words of each suffix's ProxyCommand; `ssh`: lines of every Host section).  A `Part` is a
piece of the block that no setting controls.

Everything else follows from `OPTIONS`: the Settings dataclass (settings.py), setup's and sync's command-line
parameters (sshconfig/commands/params.py), reading, checking, settling and saving the settings, the block's
words and lines (render.py), and docs/setup-options.md (`python -m sshconfig.block.options --markdown`).  The
ORDER of the list is the order of the block: the ProxyCommand's words and the lines of each Host section
come out in declaration order, and `setup --help` lists the options in that order too.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple

from proxycmd.hostname import DEFAULT_SUFFIX
from proxycmd.paths import AGENT_SOCKET, CONTROL_NAME, HOST_DIR, KNOWN_HOSTS, ONE_HOST_DIR, SHARED_KNOWN_HOSTS
from proxycmd.sessionkey import DEFAULT_KEYGEN_OPTIONS

from .quoting import config_path, shell_word
from .values import (Route, SSH_INT_MAX, _SIM_ONLY, _check_keygen, _check_path, _check_per_node,
                     _check_persist, _check_user, _check_via, bad, check_name,
                     check_suffix, check_wait_timeout, parse_route, parse_wait_timeout)

# ----- the declarations -------------------------------------------------------------------------------
ProxyHook = Callable[[Any, Any, Route], List[str]]  # (RenderContext, Settings, route) -> words of its ProxyCommand
SshHook = Callable[[Any, Any], List[str]]  # (RenderContext, Settings) -> lines of every Host section


@dataclass(frozen=True)
class Part:
    """A piece of the block that no setting controls, or that the render context decides (ctx.*)."""

    key: str
    proxy: Optional[ProxyHook] = None
    ssh: Optional[SshHook] = None


@dataclass(frozen=True)
class Option(Part):
    """One setting: config.toml key and Settings field (`key`), its kind and default, how setup takes it, what
    it cannot apply with, and (Part's hooks) what it writes into the block."""

    kind: type = str  # bool, int, float, str, or list (routes)
    default: Any = None
    flags: Tuple[str, ...] = ()  # ("--schedd",) or ("--wait/--no-wait",); (): only in config.toml
    metavar: Optional[str] = None
    help: str = ""
    empty_resets: bool = False  # `--schedd ''` returns to the default
    reset_flag: Optional[Tuple[str, str]] = None  # ("--condor", its help): a flag that returns to the default
    parse: Optional[Callable[[Any], Any]] = None  # the command line's value -> the setting
    bounds: Optional[Tuple[int, int]] = None  # whole numbers: lo <= value <= hi
    check: Optional[Callable[[str, str, Any], Any]] = None  # (where, key, value) -> value, or SettingsError
    excludes: Optional[str] = None  # the key of a setting that cannot apply together with this one
    unused_while: Optional[Tuple[Callable[[Any], bool], str]] = None  # (settings -> unused?, "while ...: fix")
    sync_help: Optional[str] = None  # also a per-run option of `sync`, with this help

    def is_set(self, settings) -> bool:
        """Set, for `excludes`: it differs from the default."""
        return getattr(settings, self.key) not in (self.default, None)

    def spelled(self) -> str:
        """How a sentence names the option as set: `--sim DIR`, `--no-wait`."""
        if self.kind is bool:
            on, _, off = self.flags[0].partition("/")
            return off if self.default else on
        return f"{self.flags[0]} {self.metavar}" if self.metavar else self.flags[0]

    def named(self) -> str:
        """How a note names the setting: `--schedd`, `--routes`, `--control-persist`."""
        return "--" + self.key.replace("_", "-")

    def reset_name(self) -> Optional[str]:
        """The command-line parameter of the reset flag (`condor`, `no_routes`)."""
        return self.reset_flag[0].lstrip("-").replace("-", "_") if self.reset_flag else None


def absolute(text: str) -> str:
    """A path given on the command line as saved: absolute, ~ expanded ('' stays '': the default again)."""
    return "" if str(text) == "" else os.path.abspath(os.path.expanduser(str(text)))


def _seconds(value: float) -> str:
    """A number of seconds as one plain word: 600, not 600.0 or 6e+02."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _keygen_words(ctx, s, route) -> List[str]:
    if s.keygen_options == DEFAULT_KEYGEN_OPTIONS:  # '' too: it turns the proxy's ECDSA default off
        return []
    if s.keygen_options.startswith("-") and len(s.keygen_options.split()) == 1:  # argparse would take '-q'
        return [shell_word(f"--keygen-options={s.keygen_options}", "keygen options")]  # for an option
    return ["--keygen-options", shell_word(s.keygen_options, "keygen options")]


def _pool_words(ctx, s, route) -> List[str]:
    words = ["--pool", shell_word(route.pool, "pool")] if route.pool else []
    if route.pool and not route.schedd and route.suffix != s.suffix:  # a route naming only a pool: never the
        words.append("--pool-only")  # local schedd
    return words


def _via_words(ctx, s, route) -> List[str]:
    if not s.via or s.sim_root:
        return []
    words = ["--via", shell_word(s.via, "via")]
    return words + (["--via-config", shell_word(ctx.ssh_config, "ssh config path")] if ctx.ssh_config else [])


def _host_dir(ctx) -> str:
    """The agent's socket, and its known_hosts where ssh can name one per host, are in this login node's own
    directory (%l: the local host name): a home shared by several nodes has one runtime directory.  Where one
    machine owns it, that directory is named literally (every path in the block is then absolute and free of
    tokens but ControlPath's %C, which only OpenSSH uses)."""
    return HOST_DIR if ctx.per_node else ONE_HOST_DIR


def _known_hosts_lines(ctx, s) -> List[str]:
    shared = ctx.shared_known_hosts and ctx.per_node
    known_hosts = SHARED_KNOWN_HOSTS if shared else f"{_host_dir(ctx)}/{KNOWN_HOSTS}"
    return [f"UserKnownHostsFile {config_path(ctx.runtime_dir, known_hosts, 'runtime dir')}",
            "StrictHostKeyChecking yes", "UpdateHostKeys no", "CheckHostIP no"]


def _multiplex_lines(ctx, s) -> List[str]:
    if s.multiplex:
        return ["ControlMaster auto", f"ControlPath {config_path(ctx.runtime_dir, CONTROL_NAME, 'runtime dir')}"]
    # ControlPath none too: with only `ControlMaster no`, ssh still joins a master a later Host * names.
    return ["ControlMaster no", "ControlPath none"]


def _int_option(key: str, default: int, lowest: int, ssh_name: str) -> Option:
    """A whole number only config.toml sets, as ssh reads it (SSH_INT_MAX at most)."""
    return Option(key, kind=int, default=default, bounds=(lowest, SSH_INT_MAX),
                  help=f"ssh's {ssh_name} for job hosts (only in config.toml).",
                  ssh=lambda ctx, s: [f"{ssh_name} {getattr(s, key)}"])


OPTIONS: List[Part] = [
    Part("fdpass", ssh=lambda ctx, s: ["ProxyUseFdpass yes"]),
    Option("runtime_dir", flags=("--runtime-dir",), metavar="DIR", empty_resets=True,
           help="Private directory for the agent and shared connections (default ~/.ssh/cjp; '' resets). Refused "
                "under a directory others can write, such as /tmp: see docs/security.md.",
           check=_check_path,
           proxy=lambda ctx, s, route: ["--runtime-dir", shell_word(ctx.runtime_dir, "runtime dir")],
           # the agent's socket is in this login node's own directory (%l): a socket answers only in its kernel
           ssh=lambda ctx, s: [f"IdentityAgent {config_path(ctx.runtime_dir, f'{_host_dir(ctx)}/{AGENT_SOCKET}', 'runtime dir')}",
                               "IdentityFile none", "IdentitiesOnly no"]),
    Option("sim_root", flags=("--sim",), metavar="DIR", empty_resets=True,
           help="Use the simulated pool under DIR instead of HTCondor.",
           reset_flag=("--condor", "Use HTCondor again (undoes --sim)."),
           parse=absolute,  # '' stays '' (the reset), never the working directory
           check=_check_path, excludes="via",
           proxy=lambda ctx, s, route: ["--sim", shell_word(s.sim_root, "sim root")] if s.sim_root else []),
    Option("schedd", flags=("--schedd",), metavar="NAME", empty_resets=True,
           help="Schedd to ask for jobs (default: the local one).",
           check=check_name, unused_while=(lambda s: bool(s.sim_root and s.schedd), _SIM_ONLY),
           proxy=lambda ctx, s, route: ["--schedd", shell_word(route.schedd, "schedd")] if route.schedd else []),
    Option("pool", flags=("--pool",), metavar="HOST", empty_resets=True,
           help="Central manager of the pool (default: HTCondor's own setting).",
           check=check_name, unused_while=(lambda s: bool(s.sim_root and s.pool), _SIM_ONLY), proxy=_pool_words),
    Option("routes", kind=list, default=(), flags=("--route",), metavar="SUFFIX=SCHEDD[@POOL]",
           help="Extra suffix reaching another schedd or pool; repeat for more. Replaces the saved routes.",
           reset_flag=("--no-routes", "Forget all saved extra suffixes."),
           parse=lambda texts: [parse_route(text) for text in texts],
           unused_while=(lambda s: bool(s.sim_root and s.routes), _SIM_ONLY)),  # one Host section each (render)
    Option("suffix", default=DEFAULT_SUFFIX, flags=("--suffix",), metavar="SUFFIX",
           help="Host name suffix for jobs (default job.condor).", check=check_suffix,
           proxy=lambda ctx, s, route: ["--suffix", shell_word(route.suffix, "suffix")]
           if route.suffix != DEFAULT_SUFFIX else []),
    Option("wait", kind=bool, default=True, flags=("--wait/--no-wait",),
           help="Wait for an idle job to start, or fail at once.",
           proxy=lambda ctx, s, route: [] if s.wait else ["--no-wait"]),
    Option("wait_timeout", kind=float, flags=("--wait-timeout",), metavar="SECONDS", empty_resets=True,
           help="Give up waiting for an idle job after SECONDS (ssh then says so and exits 255). Default: no "
                "limit from a terminal, 2 hours without one (scripts, cron); 0 or '' returns to that.",
           parse=lambda text: "" if (limit := parse_wait_timeout(text)) is None else limit,
           check=check_wait_timeout, excludes="wait",
           proxy=lambda ctx, s, route: ["--wait-timeout", _seconds(s.wait_timeout)] if s.wait and s.wait_timeout
           else []),
    # OpenSSH before 8.4 expands no %l in UserKnownHostsFile: one file for all login nodes (ctx, from ssh -V)
    # literal paths (one machine owns the runtime directory): --one-host keeps the proxy and agent on them
    Part("known_hosts", proxy=lambda ctx, s, route: (["--shared-known-hosts"] if ctx.shared_known_hosts else [])
         if ctx.per_node else ["--one-host"],
         ssh=_known_hosts_lines),
    Option("multiplex", kind=bool, default=True, flags=("--multiplex/--no-multiplex",),
           help="Share one connection among sessions to a job (ControlMaster).", ssh=_multiplex_lines),
    Option("control_persist", default="10m", flags=("--control-persist",), metavar="TIME",
           help="How long a shared connection outlives its last session.", check=_check_persist,
           unused_while=(lambda s: not s.multiplex, "with --no-multiplex (no shared connection to keep): "
                                                    "`condor-job-ssh setup --multiplex` uses it"),
           ssh=lambda ctx, s: [f"ControlPersist {s.control_persist}"] if s.multiplex else []),
    _int_option("server_alive_interval", 30, 0, "ServerAliveInterval"),
    _int_option("server_alive_count_max", 4, 1, "ServerAliveCountMax"),
    _int_option("connect_timeout", 60, 1, "ConnectTimeout"),
    # INFO, ssh's own default: ERROR hid the only line a shell that dies over a shared connection gets
    # ("Shared connection to HOST closed.") and why a -L connection failed ("channel N: open failed").
    Part("loglevel", ssh=lambda ctx, s: ["LogLevel INFO"]),
    Option("user", flags=("--user",), metavar="NAME", empty_resets=True,
           help="Log in as NAME on the execute side ('' to stop setting it).", check=_check_user,
           ssh=lambda ctx, s: [f"User {s.user}"] if s.user else []),
    # Always say it: without `ForwardAgent no` a user's own `Host *` `ForwardAgent yes` further down would
    # forward our agent (IdentityAgent) into the job.  IdentityAgent makes ssh set SSH_AUTH_SOCK to our agent
    # before it forwards, so `ForwardAgent yes` forwards our agent: the ProxyCommand's --forward-agent tells it
    # where the user's own agent is, and it passes the user's keys on (proxycmd/upstream.py).  `ForwardAgent
    # ${SSH_AUTH_SOCK}` is no way out: ssh rejects the whole file, for every host, when the variable is unset
    # (checked at parse time even in unmatched blocks).
    Option("forward_agent", kind=bool, default=False, flags=("--forward-agent/--no-forward-agent",),
           help="Forward your ssh agent to the job.",
           proxy=lambda ctx, s, route: ["--forward-agent"] if s.forward_agent else [],
           ssh=lambda ctx, s: ["ForwardAgent yes" if s.forward_agent else "ForwardAgent no"]),
    Option("keygen_options", default=DEFAULT_KEYGEN_OPTIONS, flags=("--keygen-options",), metavar="OPTS",
           help="ssh-keygen options for each session key the starter makes (default '-t ecdsa -b 256': FIPS-"
                "approved, a few ms instead of RSA's 0.3-3 s per connection). '' leaves the starter's own default.",
           check=_check_keygen, proxy=_keygen_words),
    Option("via", flags=("--via",), metavar="DEST", empty_resets=True,
           help="Reach the jobs through the access point DEST with ssh (your Host alias or user@host), from a "
                "machine without HTCondor ('' resets). See docs/laptop.md.",
           check=_check_via, proxy=_via_words),
    Option("include_idle", kind=bool, default=False, flags=("--include-idle/--running-only",),
           help="Let `sync` list idle jobs too.", sync_help="List idle jobs too (default: as saved by setup)."),
    Option("all_schedds", kind=bool, default=False, flags=("--all-schedds/--block-schedds",),
           help="Let `sync` list the jobs of every schedd of the pool (as `condor_q -global`), not only of the "
                "schedds the block names."),
    Option("sync_limit", kind=int, default=1000, flags=("--sync-limit",), metavar="N", bounds=(1, SSH_INT_MAX),
           help="The most job hosts `sync` writes, the newest jobs (default 1000); every other job is still "
                "reached by its host name."),
    # the render context's per_node (sshconfig/pernode.py decides "auto") places the host directory: _host_dir
    Option("per_node_paths", default="auto", flags=("--per-node-paths",), metavar="auto|yes|no",
           help="Name the agent and known_hosts with one directory per login node (host-%l), for a home that "
                "several machines share; no: literal paths, which SSH libraries and editors read too. Default "
                "auto: from the runtime directory's file system type (literal with --via).",
           check=_check_per_node),
    # setup, sync and remove write, keep and delete the file (sshconfig/editorconfig.py); the block names it not
    Option("editor_config", flags=("--editor-config",), metavar="PATH", empty_resets=True, parse=absolute,
           help="Also write a separate ssh config at PATH for editors that read ssh_config themselves (VSCodium, "
                "Windsurf, Antigravity, Positron: point remote.SSH.configFile at it); sync keeps it up to date, "
                "remove deletes it; '' stops. See docs/editors.md.",
           check=_check_path),
]
SETTINGS: List[Option] = [part for part in OPTIONS if isinstance(part, Option)]
BY_KEY = {option.key: option for option in SETTINGS}


def check_bounds(where: str, option: Option, value: Any) -> Any:
    """A whole number within the option's bounds (the most ssh takes, for what goes into the block)."""
    lo, hi = option.bounds
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        why = " (the most ssh takes)" if option.ssh else ""
        raise bad(where, option.key, value, f"use a whole number from {lo} to {hi}{why}")
    return value


def _shown_default(value: Any) -> str:
    if value in (None, ()):
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def markdown() -> str:
    """docs/setup-options.md: every option setup takes (and those only config.toml sets), in block order."""
    lines = ["# `condor-job-ssh setup` options", "",
             "Generated from `sshconfig/block/options.py` by `python -m sshconfig.block.options --markdown`. "
             "`setup` saves each option you give in config.toml under its key, and later runs reuse it; `setup` "
             "alone applies them again.", "",
             "| option | config.toml key | default | what it does |", "| --- | --- | --- | --- |"]
    for option in SETTINGS:
        flags = " / ".join(f"`{flag}{' ' + option.metavar if option.metavar else ''}`"
                           for flag in option.flags[0].split("/")) if option.flags else "-"
        if option.reset_flag:
            flags += f", `{option.reset_flag[0]}`"
        lines.append(f"| {flags} | `{option.key}` | {_shown_default(option.default)} | "
                     f"{option.help.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - the docs page's generator
    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m sshconfig.block.options --markdown")
    sys.stdout.write(markdown())
