"""Where our own console scripts are, and how a message spells one of them so that it works as printed."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional


def console_script(name: str) -> "Optional[str]":
    """The absolute path of one of our console scripts: beside this Python first (a pyenv shim found on
    PATH costs 100+ ms a start, on every connection), else the first in an absolute PATH directory (an empty
    or relative entry is the working directory: `setup` would write a planted script's path into the block);
    None when neither."""
    import shutil

    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return os.path.abspath(beside)
    absolute = [d for d in os.environ.get("PATH", os.defpath).split(os.pathsep) if os.path.isabs(d)]
    found = shutil.which(name, path=os.pathsep.join(absolute)) if absolute else None
    return found


def command_word(name: str) -> str:
    """One of our commands as a message must spell it to work as printed: the bare name when the shell's
    PATH finds this installation's script by it, else the script's absolute path (shell-quoted)."""
    import shlex
    import shutil

    ours = console_script(name)
    if ours is None:
        return name
    found = shutil.which(name)
    if found and os.path.realpath(found) == os.path.realpath(ours):
        return name
    return shlex.quote(ours)
