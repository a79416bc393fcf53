"""What `condor-job-ssh setup` remembers: a small TOML file under the user's config directory.

Every option given to `setup` is saved here and reused by later runs (and by `sync`).  The file may be
edited by hand: an unknown key is ignored with a warning (and kept when the file is written again), and a
bad value stops the command with one line that names the file and the key.  What each setting is (its kind,
default, check and what it cannot apply with) is declared once, in options.py: the Settings dataclass and
every rule below are made from that list.
"""

from __future__ import annotations

import os
import sys
from dataclasses import field, make_dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

import tomli_w

from proxycmd import paths
from proxycmd.errors import shown
from proxycmd.ownfile import NotOwnFile, read_own_text

from .options import BY_KEY, SETTINGS, Option, check_bounds
from .values import Route, SettingsError, _short_repr, bad, check_name, check_suffix, read_routes
from .write import write_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

HEADER = ("# condor-job-ssh settings: written by `condor-job-ssh setup`, read by setup and sync.\n"
          "# Only values that differ from the defaults are here; the README lists every key.\n\n")
_NAMED_KEYS = 5  # unknown keys named in the one warning about them


class _Base:
    @property
    def suffixes(self) -> List[str]:
        return [self.suffix] + [route.suffix for route in self.routes]


def _field(option: Option):
    return field(default_factory=list) if option.kind is list else field(default=option.default)


# One field per setting of options.py (its key, its default), and the unknown keys of the file, kept.
Settings = make_dataclass("Settings", [(o.key, Any, _field(o)) for o in SETTINGS]
                          + [("extra", Dict[str, Any], field(default_factory=dict, compare=False, repr=False))],
                          bases=(_Base,), namespace={"__module__": __name__})


def _warn_stderr(message: str) -> None:
    print(f"condor-job-ssh: warning: {message}", file=sys.stderr)


# ----- what cannot apply together -------------------------------------------------------------------------
def _pairs() -> "List[tuple[Option, Option]]":
    """(option, the one it excludes), in declaration order: --sim and --via, --wait-timeout and --no-wait."""
    return [(option, BY_KEY[option.excludes]) for option in SETTINGS if option.excludes]


def _drop(settings, option: Option):
    return replace(settings, **{option.key: option.default})


def settle(chosen, given: set) -> "tuple[Any, List[str]]":
    """*chosen* with every contradictory pair settled: the setting given now (its name in *given*) wins over
    the saved one, which is dropped, with a sentence saying so.  Both given at once: SettingsError."""
    notes: List[str] = []
    for first, second in _pairs():
        if first.key in given and second.key in given and first.is_set(chosen) and second.is_set(chosen):
            raise SettingsError(f"{first.spelled().split()[0]} and {second.spelled().split()[0]} contradict each "
                                "other: give one of them")
        for new, old in ((first, second), (second, first)):
            if new.key in given and new.is_set(chosen) and old.is_set(chosen):
                chosen = _drop(chosen, old)
                notes.append(f"{new.spelled().split()[0]} replaces the saved {old.spelled().split()[0]} setting "
                             f"(they cannot both apply); give {old.spelled()} again to go back")
    for option in SETTINGS:
        if option.unused_while and option.key in given and option.unused_while[0](chosen):
            notes.append(f"{option.named()} is saved but not used {option.unused_while[1]}")
    return chosen, notes


def conflicts(settings, where: str) -> List[str]:
    """One sentence per pair of settings that cannot both apply (a hand-edited file), with the fix."""
    return [f"{where}: {a.key!r} and {b.key!r} cannot both apply ({a.spelled()} and {b.spelled()}): run "
            f"`condor-job-ssh setup {a.spelled()}` or `condor-job-ssh setup {b.spelled()}` to keep one of them"
            for a, b in _pairs() if a.is_set(settings) and b.is_set(settings)]


# ----- checking -----------------------------------------------------------------------------------------
def validate(settings, where: str):
    """The settings with suffixes normalised, or SettingsError naming *where* and the key: the main suffix
    first (the routes' must differ from it), then the routes, then every other setting in declaration
    order."""
    suffix = check_suffix(where, "suffix", settings.suffix)
    routes = []
    seen = {suffix}
    for route in settings.routes:
        route_suffix = check_suffix(where, "routes.suffix", route.suffix)
        if route_suffix in seen:
            raise bad(where, "routes.suffix", route.suffix, "every suffix may be used only once")
        seen.add(route_suffix)
        check_name(where, "routes.schedd", route.schedd)
        check_name(where, "routes.pool", route.pool)
        routes.append(Route(route_suffix, route.schedd, route.pool))
    for option in SETTINGS:
        if option.key in ("suffix", "routes"):
            continue
        if option.check is not None:
            option.check(where, option.key, getattr(settings, option.key))
        if option.bounds is not None:
            check_bounds(where, option, getattr(settings, option.key))
    return replace(settings, suffix=suffix, routes=routes)


# ----- the command line -----------------------------------------------------------------------------------
def given(values: Dict[str, Any]) -> Dict[str, Any]:
    """The options given on setup's command line (*values*: its parameters, None when not given) as settings:
    each parsed, '' (where it resets) or its reset flag (`--condor`, `--no-routes`) meaning the default.
    SettingsError for an option given with its own reset flag, or a value that does not parse."""
    out: Dict[str, Any] = {}
    for option in SETTINGS:
        if not option.flags:
            continue
        value = values.get(option.key)
        reset = bool(option.reset_flag and values.get(option.reset_name()))
        if reset and value:
            raise SettingsError(f"{option.flags[0]} and {option.reset_flag[0]} contradict each other: give one "
                                "of them")
        if reset:
            out[option.key] = [] if option.kind is list else option.default
            continue
        if value is None or (option.kind is list and not value):
            continue
        if option.parse is not None:
            value = option.parse(value)
        if value == "" and option.empty_resets:
            value = option.default
        out[option.key] = value
    return out


def apply(current, changes: Dict[str, Any], notes: Optional[List[str]] = None):
    """The saved settings with *changes* (`given`'s) put in.  A given option that cannot apply together with
    a saved one replaces it (a sentence for *notes* says so)."""
    chosen, said = settle(replace(current, **changes), set(changes))
    for sentence in conflicts(chosen, str(paths.config_file())):
        raise SettingsError(sentence)  # a hand-edited file, and this run chose neither
    if notes is not None:
        notes.extend(said)
    return validate(chosen, "setup options")


# ----- reading --------------------------------------------------------------------------------------------
def _value(where: str, option: Option, value: Any) -> Any:
    if option.kind is bool:
        if not isinstance(value, bool):
            raise bad(where, option.key, value, "use true or false")
    elif option.kind is int:
        check_bounds(where, option, value)
    elif option.kind is float:
        option.check(where, option.key, value)
    elif option.kind is list:
        return read_routes(where, value)
    elif not isinstance(value, str):
        raise bad(where, option.key, value, "use a string")
    return value


def from_dict(data: Dict[str, Any], where: str, warn: Optional[Callable[[str], None]] = None):
    warn = warn or _warn_stderr
    known: Dict[str, Any] = {}
    extra: Dict[str, Any] = {}
    for key, value in data.items():
        if key not in BY_KEY:
            extra[key] = value
        else:
            known[key] = _value(where, BY_KEY[key], value)
    if extra:  # one warning however many there are (a file with 200,000 of them once printed 200,000 lines)
        names = ", ".join(_short_repr(key) for key in list(extra)[:_NAMED_KEYS])
        more = f" and {len(extra) - _NAMED_KEYS} more" if len(extra) > _NAMED_KEYS else ""
        warn(f"{where}: ignoring unknown key{'s' * (len(extra) > 1)} {names}{more}")
    return validate(Settings(**known, extra=extra), where)


def load(path: Union[str, os.PathLike, None] = None, *,
         warn: Optional[Callable[[str], None]] = None) -> Settings:
    """The saved settings (defaults when the file does not exist)."""
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
def to_dict(settings) -> Dict[str, Any]:
    """The settings that differ from the defaults (so a later version's new defaults apply), and the
    unknown keys the file had."""
    data: Dict[str, Any] = {}
    defaults = Settings()
    for key in BY_KEY:
        value = getattr(settings, key)
        if value == getattr(defaults, key):
            continue
        if key == "routes":
            value = [{k: v for k, v in vars(route).items() if v is not None} for route in value]
        if value is not None:
            data[key] = value
    data.update({k: v for k, v in settings.extra.items() if k not in data})
    return data


def dumps(settings) -> str:
    return HEADER + tomli_w.dumps(to_dict(settings))


def save(settings, path: Union[str, os.PathLike, None] = None) -> Path:
    """Write the settings (atomically, mode 0600; the directory is made 0700 when missing, and must pass the
    safe-chain rule: `paths.check_config_dir`)."""
    if path is None:
        paths.check_config_dir(create=True)
    path = Path(path) if path is not None else paths.config_file()
    return write_file(path, dumps(settings), mode=0o600)
