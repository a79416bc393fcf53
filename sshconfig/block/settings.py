"""What `condor-job-ssh setup` remembers: a small TOML file under the user's config directory.

Every option given to `setup` is saved here and reused by later runs (and by `sync`).  The file may be
edited by hand: an unknown key is ignored with a warning (and kept when the file is written again), and a
bad value stops the command with one line that names the file and the key.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

from proxycmd import paths
from proxycmd.errors import shown
from proxycmd.hostname import DEFAULT_SUFFIX, HostnameError, parse
from proxycmd.sessionkey import DEFAULT_KEYGEN_OPTIONS

from .write import write_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

HEADER = ("# condor-job-ssh settings: written by `condor-job-ssh setup`, read by setup and sync.\n"
          "# Only values that differ from the defaults are here; the README lists every key.\n\n")

_USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.@-]{0,63}\Z")
_PERSIST = re.compile(r"(yes|no|[0-9]+|([0-9]+[smhdwSMHDW])+)\Z")
_TIME_PART = re.compile(r"([0-9]+)([smhdwSMHDW]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# The largest number or time ssh_config takes (readconf.c parse_int: atoi_err's strtonum(0, INT_MAX); parse_time
# and ControlPersist: misc.c convtime, whose total must stay <= INT_MAX).  A larger one made every ssh command on
# the machine fail on the config ("invalid time value").
SSH_INT_MAX = 2 ** 31 - 1
PER_NODE_CHOICES = ("auto", "yes", "no")
_NAME_BAD = re.compile(r"[\s'\"`$\\]|[^\x20-\x7e]")


class SettingsError(ValueError):
    """A setting that cannot be used; str() is one line naming where it came from and the key."""


@dataclass(frozen=True)
class Route:
    """An extra host name suffix that reaches another schedd and/or pool."""

    suffix: str
    schedd: Optional[str] = None
    pool: Optional[str] = None


@dataclass
class Settings:
    suffix: str = DEFAULT_SUFFIX
    schedd: Optional[str] = None
    pool: Optional[str] = None
    routes: List[Route] = field(default_factory=list)
    sim_root: Optional[str] = None  # set: the proxy uses the simulated pool under this directory
    user: Optional[str] = None
    forward_agent: bool = False
    multiplex: bool = True
    control_persist: str = "10m"
    server_alive_interval: int = 30
    server_alive_count_max: int = 4
    connect_timeout: int = 60
    wait: bool = True
    keygen_options: str = DEFAULT_KEYGEN_OPTIONS  # ssh-keygen options for each session key; "": the starter's
    wait_timeout: Optional[float] = None  # seconds the proxy waits for an idle job; None: no limit
    include_idle: bool = False
    all_schedds: bool = False  # `sync` lists the jobs of every schedd of the pool, not only the block's own
    sync_limit: int = 1000  # `sync` writes at most this many job hosts (the newest); the others still work
    runtime_dir: Optional[str] = None  # None: paths.pick_runtime_dir() when `setup` runs (~/.ssh/cjp)
    via: Optional[str] = None  # set: reach the jobs through this access point with ssh (proxycmd.backends.hop)
    per_node_paths: str = "auto"  # yes: host-%l directories; no: literal paths; auto: sshconfig/pernode.py
    editor_config: Optional[str] = None  # set: setup/sync also write this editor config (sshconfig/editorconfig.py)
    extra: Dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # unknown keys, kept

    @property
    def suffixes(self) -> List[str]:
        return [self.suffix] + [route.suffix for route in self.routes]


_KEYS = {f.name: f for f in fields(Settings) if f.name != "extra"}
_BOOLS = {"forward_agent", "multiplex", "wait", "include_idle", "all_schedds"}
_NAMED_KEYS = 5  # unknown keys named in the one warning about them
_PATH_MAX = 4096  # bytes of a path (Linux's PATH_MAX): sim_root and runtime_dir go into every ProxyCommand
_KEYGEN_MAX = 1000  # characters of keygen_options, which go into every ProxyCommand too
_INTS = {"server_alive_interval": 0, "server_alive_count_max": 1, "connect_timeout": 1,  # key: smallest value
         "sync_limit": 1}
# (largest: SSH_INT_MAX, as ssh reads ServerAliveInterval, ServerAliveCountMax and ConnectTimeout)


def _warn_stderr(message: str) -> None:
    print(f"condor-job-ssh: warning: {message}", file=sys.stderr)


def _short_repr(value: Any, limit: int = 60) -> str:
    """repr(value), cut to *limit* characters: a hand-edited key or value may be a flood (reprlib never
    renders all of a huge one first)."""
    import reprlib

    short = reprlib.Repr()
    short.maxstring = short.maxother = 2 * limit
    text = short.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _bad(where: str, key: str, value: Any, why: str) -> SettingsError:
    return SettingsError(f"{where}: bad value for {_short_repr(key)} ({_short_repr(value)}): {why}")


# ----- checking ---------------------------------------------------------------------------------------
def _check_suffix(where: str, key: str, value: str) -> str:
    try:
        parse(f"1.0.{value}", (value,))
    except HostnameError:
        raise _bad(where, key, value, "a suffix is one or more DNS labels, such as job.condor") from None
    return value.strip(".").lower()


def _check_name(where: str, key: str, value: Optional[str]) -> None:
    if value is not None and (not value or _NAME_BAD.search(value)):
        raise _bad(where, key, value, "use a plain name: no spaces, quotes, '$', '\\' or control characters")
    if value is not None and value.startswith("-"):  # no host name starts so; the proxy would read an option
        raise _bad(where, key, value, "a schedd or pool name cannot start with '-'")


def _check_path(where: str, key: str, value: Optional[str]) -> None:
    if value is None:
        return
    if not os.path.isabs(value):
        raise _bad(where, key, value, "use an absolute path")
    if len(os.fsencode(value)) >= _PATH_MAX:  # it goes into the ProxyCommand, which the shell must still take
        raise _bad(where, key, value, f"a path has fewer than {_PATH_MAX} bytes")
    if not value.isprintable() or '"' in value or "\\" in value or "${" in value:
        raise _bad(where, key, value, "the path holds a character ssh_config cannot carry (\", \\, ${ or control)")


def _check_keygen(where: str, value: str) -> None:
    import shlex

    if not isinstance(value, str) or not value.isprintable() or len(value) > _KEYGEN_MAX:
        raise _bad(where, "keygen_options", value, f"use ssh-keygen options on one line of at most {_KEYGEN_MAX} "
                   "characters, such as -t ed25519")
    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise _bad(where, "keygen_options", value, f"unbalanced quotes ({exc})") from None
    if words and not words[0].startswith("-"):
        raise _bad(where, "keygen_options", value, "start with an option, such as -t ed25519")


def _seconds(text: str) -> int:
    """A time as ssh_config writes it (`_PERSIST`'s form: 90, 10m, 1h30m) in seconds (any number of more
    than 10 digits counts as too many: int() of a flood of digits is refused by Python itself)."""
    parts = _TIME_PART.findall(text)
    if any(len(number.lstrip("0")) > 10 for number, _ in parts):
        return SSH_INT_MAX + 1
    return sum(int(number) * _UNIT[unit.lower()] for number, unit in parts)


def _check_int(where: str, key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not _INTS[key] <= value <= SSH_INT_MAX:
        why = "" if key == "sync_limit" else " (the most ssh takes)"
        raise _bad(where, key, value, f"use a whole number from {_INTS[key]} to {SSH_INT_MAX}{why}")


def parse_wait_timeout(text: str, where: str = "setup options") -> Optional[float]:
    """`--wait-timeout SECONDS`: a positive number of seconds; 0 or '' for no limit (None)."""
    text = text.strip()
    if text in ("", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise _bad(where, "wait_timeout", text, "use a number of seconds (0 or '' for no limit)") from None
    if value == 0:
        return None
    _check_wait_timeout(where, value)
    return value


def _check_wait_timeout(where: str, value: Optional[float]) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < float("inf")):
        raise _bad(where, "wait_timeout", value, "use a number of seconds above 0 (leave it out for no limit)")


def _check_via(where: str, value: Optional[str]) -> None:
    if value is None:
        return
    from proxycmd.errors import ProxyError
    from proxycmd.backends.hop.command import check_dest

    try:
        check_dest(value)
    except ProxyError:
        raise _bad(where, "via", value, "give an ssh Host alias of yours or user@host") from None


# Settings that cannot both apply: (name, the setup option that sets it, is it set?, the settings without it).
_EXCLUSIVE = [
    (("sim_root", "--sim DIR", lambda s: bool(s.sim_root), lambda s: replace(s, sim_root=None)),
     ("via", "--via DEST", lambda s: bool(s.via), lambda s: replace(s, via=None))),
    (("wait_timeout", "--wait-timeout SECONDS", lambda s: s.wait_timeout is not None,
      lambda s: replace(s, wait_timeout=None)),
     ("wait", "--no-wait", lambda s: not s.wait, lambda s: replace(s, wait=True))),
]


# Settings kept but not used while another one is on: (name, option, unused?, while what and how to use it).
_IDLE_WHILE = [
    (key, f"--{key}", lambda s, key=key: bool(s.sim_root and getattr(s, key)),
     "while --sim is on (the simulated pool answers alone): `condor-job-ssh setup --condor` uses it")
    for key in ("schedd", "pool", "routes")
] + [("control_persist", "--control-persist", lambda s: not s.multiplex,
      "with --no-multiplex (no shared connection to keep): `condor-job-ssh setup --multiplex` uses it")]


def settle(chosen: Settings, given: set) -> "tuple[Settings, List[str]]":
    """*chosen* with every contradictory pair settled: the setting given now (its name in *given*) wins over
    the saved one, which is dropped, with a sentence saying so.  Both given at once: SettingsError."""
    notes: List[str] = []
    for first, second in _EXCLUSIVE:
        if first[0] in given and second[0] in given and first[2](chosen) and second[2](chosen):
            raise SettingsError(f"{first[1].split()[0]} and {second[1].split()[0]} contradict each other: give one "
                                "of them")
        for (new, new_option, new_set, _), (old, old_option, old_set, drop) in ((first, second), (second, first)):
            if new in given and new_set(chosen) and old_set(chosen):
                chosen = drop(chosen)
                notes.append(f"{new_option.split()[0]} replaces the saved {old_option.split()[0]} setting (they "
                             f"cannot both apply); give {old_option} again to go back")
    for key, option, unused, why in _IDLE_WHILE:
        if key in given and unused(chosen):
            notes.append(f"{option} is saved but not used {why}")
    return chosen, notes


def conflicts(settings: Settings, where: str) -> List[str]:
    """One sentence per pair of settings that cannot both apply (a hand-edited file), with the fix."""
    return [f"{where}: {a!r} and {b!r} cannot both apply ({a_option} and {b_option}): run `condor-job-ssh setup "
            f"{a_option}` or `condor-job-ssh setup {b_option}` to keep one of them"
            for (a, a_option, a_set, _), (b, b_option, b_set, _) in _EXCLUSIVE if a_set(settings) and b_set(settings)]


def validate(settings: Settings, where: str) -> Settings:
    """The settings with suffixes normalised, or SettingsError naming *where* and the key."""
    suffix = _check_suffix(where, "suffix", settings.suffix)
    routes = []
    seen = {suffix}
    for route in settings.routes:
        route_suffix = _check_suffix(where, "routes.suffix", route.suffix)
        if route_suffix in seen:
            raise _bad(where, "routes.suffix", route.suffix, "every suffix may be used only once")
        seen.add(route_suffix)
        _check_name(where, "routes.schedd", route.schedd)
        _check_name(where, "routes.pool", route.pool)
        routes.append(Route(route_suffix, route.schedd, route.pool))
    _check_name(where, "schedd", settings.schedd)
    _check_name(where, "pool", settings.pool)
    if settings.user is not None and not _USER.match(settings.user):
        raise _bad(where, "user", settings.user, "a user name is letters, digits, '_', '.', '@' and '-'")
    _check_path(where, "sim_root", settings.sim_root)
    _check_path(where, "runtime_dir", settings.runtime_dir)
    _check_path(where, "editor_config", settings.editor_config)
    _check_keygen(where, settings.keygen_options)
    _check_wait_timeout(where, settings.wait_timeout)
    _check_via(where, settings.via)
    if settings.per_node_paths not in PER_NODE_CHOICES:
        raise _bad(where, "per_node_paths", settings.per_node_paths, "use auto, yes or no")
    if not _PERSIST.match(settings.control_persist):
        raise _bad(where, "control_persist", settings.control_persist, "use yes, no, seconds or a time like 10m")
    if settings.control_persist not in ("yes", "no") and _seconds(settings.control_persist) > SSH_INT_MAX:
        raise _bad(where, "control_persist", settings.control_persist,
                   f"ssh takes at most {SSH_INT_MAX} seconds in all (about 68 years)")
    for key in _INTS:
        _check_int(where, key, getattr(settings, key))
    return replace(settings, suffix=suffix, routes=routes)


# ----- reading --------------------------------------------------------------------------------------------
def _value(where: str, key: str, value: Any) -> Any:
    if key in _BOOLS:
        if not isinstance(value, bool):
            raise _bad(where, key, value, "use true or false")
    elif key in _INTS:
        _check_int(where, key, value)
    elif key == "wait_timeout":
        _check_wait_timeout(where, value)
    elif key == "routes":
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise _bad(where, key, value, "use [[routes]] tables with suffix, schedd and pool")
        return [_route(where, item) for item in value]
    elif not isinstance(value, str):
        raise _bad(where, key, value, "use a string")
    return value


def _route(where: str, table: Dict[str, Any]) -> Route:
    for key in table:
        if key not in ("suffix", "schedd", "pool"):
            raise _bad(where, f"routes.{key}", table[key], "a route has only suffix, schedd and pool")
        if not isinstance(table[key], str):
            raise _bad(where, f"routes.{key}", table[key], "use a string")
    if "suffix" not in table:
        raise _bad(where, "routes", table, "a route needs a suffix")
    return Route(table["suffix"], table.get("schedd"), table.get("pool"))


def from_dict(data: Dict[str, Any], where: str, warn: Optional[Callable[[str], None]] = None) -> Settings:
    warn = warn or _warn_stderr
    known: Dict[str, Any] = {}
    extra: Dict[str, Any] = {}
    for key, value in data.items():
        if key not in _KEYS:
            extra[key] = value
        else:
            known[key] = _value(where, key, value)
    if extra:  # one warning however many there are (a file with 200,000 of them once printed 200,000 lines)
        names = ", ".join(_short_repr(key) for key in list(extra)[:_NAMED_KEYS])
        more = f" and {len(extra) - _NAMED_KEYS} more" if len(extra) > _NAMED_KEYS else ""
        warn(f"{where}: ignoring unknown key{'s' * (len(extra) > 1)} {names}{more}")
    return validate(Settings(**known, extra=extra), where)


def load(path: Union[str, os.PathLike, None] = None, *,
         warn: Optional[Callable[[str], None]] = None) -> Settings:
    """The saved settings (defaults when the file does not exist)."""
    from proxycmd.ownfile import NotOwnFile, read_own_text

    if path is None:
        try:  # a settings directory others could swap things in is refused, as the state directory is
            paths.check_config_dir()
        except paths.PathError as exc:
            raise SettingsError(str(exc)) from None
    path = Path(path) if path is not None else paths.config_file()
    try:
        text = read_own_text(path, "settings file")  # what it says runs as the user: ssh's rule for its config
    except FileNotFoundError:
        return Settings()
    except NotOwnFile as exc:
        raise SettingsError(str(exc)) from None
    except OSError as exc:
        raise SettingsError(f"cannot read {shown(path)}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{shown(path)}: not valid TOML: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{shown(path)}: not valid TOML: {exc}") from None
    except RecursionError:  # arrays or tables nested thousands deep
        raise SettingsError(f"{shown(path)}: not valid TOML for condor-job-ssh: nested too deeply") from None
    except ValueError as exc:  # what tomllib lets through, such as an integer of more than 4300 digits
        raise SettingsError(f"{shown(path)}: not valid TOML: {exc}") from None
    return from_dict(data, str(path), warn)


# ----- writing --------------------------------------------------------------------------------------------
def to_dict(settings: Settings) -> Dict[str, Any]:
    """The settings that differ from the defaults (so a later version's new defaults apply), and the
    unknown keys the file had."""
    data: Dict[str, Any] = {}
    defaults = Settings()
    for key in _KEYS:
        value = getattr(settings, key)
        if value == getattr(defaults, key):
            continue
        if key == "routes":
            value = [{k: v for k, v in vars(route).items() if v is not None} for route in value]
        if value is not None:
            data[key] = value
    data.update({k: v for k, v in settings.extra.items() if k not in data})
    return data


def dumps(settings: Settings) -> str:
    import tomli_w

    return HEADER + tomli_w.dumps(to_dict(settings))


def save(settings: Settings, path: Union[str, os.PathLike, None] = None) -> Path:
    """Write the settings (atomically, mode 0600; the directory is made 0700 when missing, and must pass the
    safe-chain rule: `paths.check_config_dir`)."""
    if path is None:
        paths.check_config_dir(create=True)
    path = Path(path) if path is not None else paths.config_file()
    return write_file(path, dumps(settings), mode=0o600)
