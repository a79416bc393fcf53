"""The command-line parameters that commands share, and those made from the option declarations.

`with_options` gives a command (a function taking ``**values``) one keyword parameter per flag of
sshconfig/block/options.py, in declaration order (the block's), between the command's own parameters: typer
reads the signature, so setup's and sync's flags, metavars and help come from that one list.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional

import typer

from proxycmd import paths

from ..block.options import SETTINGS, Option

SSH_CONFIG = typer.Option(None, "--ssh-config", metavar="PATH",
                          help="The ssh client config file to change (default: ~/.ssh/config).")
DRY_RUN = typer.Option(False, "--dry-run", help="Show the change as a diff; write nothing.")
YES = typer.Option(False, "--yes", "-y", help="Apply without asking.")


def parameter(name: str, default, annotation) -> inspect.Parameter:
    """One keyword parameter of a generated signature (*default*: a typer.Option)."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


SSH_CONFIG_PARAM = parameter("ssh_config", SSH_CONFIG, Optional[Path])
DRY_RUN_PARAM = parameter("dry_run", DRY_RUN, bool)
YES_PARAM = parameter("yes", YES, bool)


def ssh_config_path(option: Optional[Path]) -> Path:
    """The ssh config to change: the one named, else ~/.ssh/config, whose directories (it follows $HOME) must
    pass the safe-chain rule (`paths.check_ssh_config_dir`) before anything is read or written there."""
    if option is not None:
        return Path(os.path.expanduser(str(option)))
    config = paths.default_ssh_config()
    paths.check_ssh_config_dir(config)
    return config


def _annotation(option: Option):
    if option.kind is list:
        return Optional[List[str]]
    if option.kind is bool:
        return Optional[bool]
    if option.kind is int:
        return Optional[int]
    return Optional[str]  # text: '' means "back to the default"; option.parse makes it the setting


# The order `setup --help` lists the options in: the order users have seen since before the declarations were
# gathered (block order would reshuffle the help).  An option not named here comes after these.
HELP_ORDER = ("sim_root", "user", "forward_agent", "multiplex", "control_persist", "suffix", "schedd", "pool",
              "routes", "wait", "keygen_options", "wait_timeout", "include_idle", "all_schedds", "sync_limit",
              "runtime_dir", "via")


def _help_rank(option: Option) -> int:
    return HELP_ORDER.index(option.key) if option.key in HELP_ORDER else len(HELP_ORDER)


def option_parameters(keys: Optional[Iterable[str]] = None,
                      help_for: Optional[Dict[str, str]] = None) -> List[inspect.Parameter]:
    """One parameter per flag of the declared options (those of *keys* only, when given), named after the
    option's key; a reset flag (`--condor`) gets a bool parameter of its own name (`condor`)."""
    wanted = set(keys) if keys is not None else None
    params = []
    for option in sorted(SETTINGS, key=_help_rank):  # sorted() is stable: new options keep block order
        if not option.flags or (wanted is not None and option.key not in wanted):
            continue
        help_text = (help_for or {}).get(option.key, option.help)
        extra = {"metavar": option.metavar} if option.metavar else {}
        params.append(parameter(option.key, typer.Option(None, *option.flags, help=help_text, **extra),
                                _annotation(option)))
        if option.reset_flag:
            flag, reset_help = option.reset_flag
            params.append(parameter(option.reset_name(), typer.Option(False, flag, help=reset_help), bool))
    return params


def with_options(before: List[inspect.Parameter], after: List[inspect.Parameter],
                 keys: Optional[Iterable[str]] = None, help_for: Optional[Dict[str, str]] = None) -> Callable:
    """Decorator: the command's signature is *before*, the declared options' parameters, then *after*."""
    def decorate(func: Callable) -> Callable:
        params = list(before) + option_parameters(keys, help_for) + list(after)
        func.__signature__ = inspect.Signature(params)
        func.__annotations__ = {param.name: param.annotation for param in params}
        return func
    return decorate
