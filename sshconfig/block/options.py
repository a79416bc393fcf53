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
import re
import reprlib
import shlex
import sys
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple

from proxycmd.backends.hop.command import check_dest
from proxycmd.errors import ProxyError
from proxycmd.hostname import DEFAULT_SUFFIX, HostnameError, parse
from proxycmd.paths import AGENT_SOCKET, CONTROL_NAME, HOST_DIR, KNOWN_HOSTS, SHARED_KNOWN_HOSTS
from proxycmd.sessionkey import DEFAULT_KEYGEN_OPTIONS

from .quoting import config_path, shell_word

# The largest number or time ssh_config takes (readconf.c parse_int: atoi_err's strtonum(0, INT_MAX); parse_time
# and ControlPersist: misc.c convtime, whose total must stay <= INT_MAX).  A larger one made every ssh command on
# the machine fail on the config ("invalid time value").
SSH_INT_MAX = 2 ** 31 - 1
_USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.@-]{0,63}\Z")
_PERSIST = re.compile(r"(yes|no|[0-9]+|([0-9]+[smhdwSMHDW])+)\Z")
_TIME_PART = re.compile(r"([0-9]+)([smhdwSMHDW]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NAME_BAD = re.compile(r"[\s'\"`$\\]|[^\x20-\x7e]")
_PATH_MAX = 4096  # bytes of a path (Linux's PATH_MAX): sim_root and runtime_dir go into every ProxyCommand
_KEYGEN_MAX = 1000  # characters of keygen_options, which go into every ProxyCommand too
_SIM_ONLY = "while --sim is on (the simulated pool answers alone): `condor-job-ssh setup --condor` uses it"


class SettingsError(ValueError):
    """A setting that cannot be used; str() is one line naming where it came from and the key."""


@dataclass(frozen=True)
class Route:
    """An extra host name suffix that reaches another schedd and/or pool."""

    suffix: str
    schedd: Optional[str] = None
    pool: Optional[str] = None


def _short_repr(value: Any, limit: int = 60) -> str:
    """repr(value), cut to *limit* characters: a hand-edited key or value may be a flood (reprlib never
    renders all of a huge one first)."""
    short = reprlib.Repr()
    short.maxstring = short.maxother = 2 * limit
    text = short.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def bad(where: str, key: str, value: Any, why: str) -> SettingsError:
    return SettingsError(f"{where}: bad value for {_short_repr(key)} ({_short_repr(value)}): {why}")


# ----- the value checks: (where, key, value) -> the value (normalised) or SettingsError -----------------
def check_suffix(where: str, key: str, value: str) -> str:
    try:
        parse(f"1.0.{value}", (value,))
    except HostnameError:
        raise bad(where, key, value, "a suffix is one or more DNS labels, such as job.condor") from None
    return value.strip(".").lower()


def check_name(where: str, key: str, value: Optional[str]) -> Optional[str]:
    if value is not None and (not value or _NAME_BAD.search(value)):
        raise bad(where, key, value, "use a plain name: no spaces, quotes, '$', '\\' or control characters")
    if value is not None and value.startswith("-"):  # no host name starts so; the proxy would read an option
        raise bad(where, key, value, "a schedd or pool name cannot start with '-'")
    return value


def _check_path(where: str, key: str, value: Optional[str]) -> Optional[str]:
    if value is None:
        return value
    if not os.path.isabs(value):
        raise bad(where, key, value, "use an absolute path")
    if len(os.fsencode(value)) >= _PATH_MAX:  # it goes into the ProxyCommand, which the shell must still take
        raise bad(where, key, value, f"a path has fewer than {_PATH_MAX} bytes")
    if not value.isprintable() or '"' in value or "\\" in value or "${" in value:
        raise bad(where, key, value, "the path holds a character ssh_config cannot carry (\", \\, ${ or control)")
    return value


def _check_user(where: str, key: str, value: Optional[str]) -> Optional[str]:
    if value is not None and not _USER.match(value):
        raise bad(where, key, value, "a user name is letters, digits, '_', '.', '@' and '-'")
    return value


def _check_keygen(where: str, key: str, value: str) -> str:
    if not isinstance(value, str) or not value.isprintable() or len(value) > _KEYGEN_MAX:
        raise bad(where, key, value, f"use ssh-keygen options on one line of at most {_KEYGEN_MAX} "
                  "characters, such as -t ed25519")
    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise bad(where, key, value, f"unbalanced quotes ({exc})") from None
    if words and not words[0].startswith("-"):
        raise bad(where, key, value, "start with an option, such as -t ed25519")
    return value


def _time_seconds(text: str) -> int:
    """A time as ssh_config writes it (`_PERSIST`'s form: 90, 10m, 1h30m) in seconds (any number of more
    than 10 digits counts as too many: int() of a flood of digits is refused by Python itself)."""
    parts = _TIME_PART.findall(text)
    if any(len(number.lstrip("0")) > 10 for number, _ in parts):
        return SSH_INT_MAX + 1
    return sum(int(number) * _UNIT[unit.lower()] for number, unit in parts)


def _check_persist(where: str, key: str, value: str) -> str:
    if not _PERSIST.match(value):
        raise bad(where, key, value, "use yes, no, seconds or a time like 10m")
    if value not in ("yes", "no") and _time_seconds(value) > SSH_INT_MAX:
        raise bad(where, key, value, f"ssh takes at most {SSH_INT_MAX} seconds in all (about 68 years)")
    return value


def check_wait_timeout(where: str, key: str, value: Optional[float]) -> Optional[float]:
    if value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < float("inf")):
        raise bad(where, key, value, "use a number of seconds above 0 (leave it out for no limit)")
    return value


def parse_wait_timeout(text: str, where: str = "setup options") -> Optional[float]:
    """`--wait-timeout SECONDS`: a positive number of seconds; 0 or '' for no limit (None)."""
    text = text.strip()
    if text in ("", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise bad(where, "wait_timeout", text, "use a number of seconds (0 or '' for no limit)") from None
    if value == 0:
        return None
    return check_wait_timeout(where, "wait_timeout", value)


def _check_via(where: str, key: str, value: Optional[str]) -> Optional[str]:
    if value is None:
        return value
    try:
        check_dest(value)
    except ProxyError:
        raise bad(where, key, value, "give an ssh Host alias of yours or user@host") from None
    return value


def parse_route(text: str) -> Route:
    """``SUFFIX=SCHEDD[@POOL]``; the last '@' starts the pool, so ``s2@ap1@`` is schedd s2@ap1 on the
    default pool and ``SUFFIX=@POOL`` is the pool's default schedd."""
    suffix, sep, target = text.partition("=")
    if not sep or not suffix:
        raise SettingsError(f"--route {text!r}: expected SUFFIX=SCHEDD[@POOL], e.g. ap2.condor=ap2.example.org")
    schedd, _, pool = target.rpartition("@") if "@" in target else (target, "", "")
    return Route(suffix.strip(), schedd or None, pool or None)


def read_routes(where: str, value: Any) -> List[Route]:
    """config.toml's [[routes]] tables."""
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise bad(where, "routes", value, "use [[routes]] tables with suffix, schedd and pool")
    return [_read_route(where, table) for table in value]


def _read_route(where: str, table: dict) -> Route:
    for key in table:
        if key not in ("suffix", "schedd", "pool"):
            raise bad(where, f"routes.{key}", table[key], "a route has only suffix, schedd and pool")
        if not isinstance(table[key], str):
            raise bad(where, f"routes.{key}", table[key], "use a string")
    if "suffix" not in table:
        raise bad(where, "routes", table, "a route needs a suffix")
    return Route(table["suffix"], table.get("schedd"), table.get("pool"))


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


def _known_hosts_lines(ctx, s) -> List[str]:
    # The agent's known_hosts, where ssh can name one per host, is in this login node's own directory (%l:
    # the local host name): a home shared by several nodes has one runtime directory.
    known_hosts = SHARED_KNOWN_HOSTS if ctx.shared_known_hosts else f"{HOST_DIR}/{KNOWN_HOSTS}"
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
           ssh=lambda ctx, s: [f"IdentityAgent {config_path(ctx.runtime_dir, f'{HOST_DIR}/{AGENT_SOCKET}', 'runtime dir')}",
                               "IdentityFile none", "IdentitiesOnly no"]),
    Option("sim_root", flags=("--sim",), metavar="DIR", empty_resets=True,
           help="Use the simulated pool under DIR instead of HTCondor.",
           reset_flag=("--condor", "Use HTCondor again (undoes --sim)."),
           parse=lambda text: os.path.abspath(os.path.expanduser(str(text))),
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
    Part("known_hosts", proxy=lambda ctx, s, route: ["--shared-known-hosts"] if ctx.shared_known_hosts else [],
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
    Part("loglevel", ssh=lambda ctx, s: ["LogLevel ERROR"]),
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
