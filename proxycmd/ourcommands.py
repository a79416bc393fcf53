"""Where our own console scripts are, how a message spells one of them so that it works as printed, and the
ProxyCommand's quick start.  Not on a connection's path (setup, doctor and messages use it): imports at the top."""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import List, Optional

from .pystart import package_root


def console_script(name: str) -> "Optional[str]":
    """The absolute path of one of our console scripts: beside this Python first (a pyenv shim found on
    PATH costs 100+ ms a start, on every connection), else the first in an absolute PATH directory (an empty
    or relative entry is the working directory: `setup` would write a planted script's path into the block);
    None when neither."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return os.path.abspath(beside)
    absolute = [d for d in os.environ.get("PATH", os.defpath).split(os.pathsep) if os.path.isabs(d)]
    found = shutil.which(name, path=os.pathsep.join(absolute)) if absolute else None
    return found


def command_word(name: str) -> str:
    """One of our commands as a message must spell it to work as printed: the bare name when the shell's
    PATH finds this installation's script by it, else the script's absolute path (shell-quoted)."""
    ours = console_script(name)
    if ours is None:
        return name
    found = shutil.which(name)
    if found and os.path.realpath(found) == os.path.realpath(ours):
        return name
    return shlex.quote(ours)


# ----- the ProxyCommand's quick start ------------------------------------------------------------------------
QUICK_START = "condor-job-proxy"  # the launcher script inside the proxycmd package (package data)
# What the ProxyCommand may import beyond the standard library, on any of its paths (tests/unit/
# test_quick_start.py reads proxycmd/ and fails when a new one is missing here)
PROXY_IMPORTS = ("classad2", "cryptography", "htcondor2", "platformdirs", "tomli")


def quick_start(root: "Optional[str]" = None, find_spec=None) -> "Optional[List[str]]":
    """The words that start the ProxyCommand without site.py, `<python> -I -S <root>/proxycmd/condor-job-proxy`,
    or None where that cannot work and the block must name the console script.

    Skipping site.py saves 3 to 7 ms of CPU on every connection (more on an editable install), and -I keeps
    PYTHONPATH and the working directory off sys.path.  The launcher puts only *root* (the directory proxycmd
    was imported from) on the path, so it serves when every dependency the ProxyCommand may import is either
    not installed or installed in *root* too (a venv, pipx), and not for an editable install (its checkout
    holds none of them) or a `pip --user` install whose dependencies are the system's.  Like the console
    script, it must be a file only root or this user can change."""
    root = os.path.abspath(root or package_root())
    script = os.path.join(root, "proxycmd", QUICK_START)
    if not _owned_safely(script, os.path.dirname(script), root):
        return None
    find = find_spec or importlib.util.find_spec
    for name in PROXY_IMPORTS:
        try:
            spec = find(name)
        except (ImportError, ValueError):
            return None
        if spec is None:
            continue  # not installed: the ProxyCommand does without it on both starts alike
        if not _directly_in(root, spec):
            return None
    return [sys.executable, "-I", "-S", script]


def program_words(words: "List[str]") -> int:
    """How many of a ProxyCommand's first words start condor-job-proxy, its options following them: 4 for the
    quick start (`python -I -S .../proxycmd/condor-job-proxy`), else 1 (the console script)."""
    if words[1:3] == ["-I", "-S"] and len(words) > 3 and words[3].endswith(f"/proxycmd/{QUICK_START}"):
        return 4
    return 1


def _directly_in(root: str, spec) -> bool:
    """The module *spec* describes is imported from *root* itself (root/NAME.py, root/NAME.*.so, root/NAME/):
    what sys.path = [root] finds."""
    if spec.origin and spec.origin not in ("built-in", "frozen"):
        folder = os.path.dirname(os.path.abspath(spec.origin))
        return root in (folder, os.path.dirname(folder) if spec.submodule_search_locations else None)
    places = list(spec.submodule_search_locations or ())  # a namespace package
    return bool(places) and all(os.path.dirname(os.path.abspath(place)) == root for place in places)


def _owned_safely(*paths: str) -> bool:
    """Each path exists, belongs to root or to us, and no group or other may write it."""
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            return False
        if st.st_uid not in (0, os.getuid()) or st.st_mode & 0o022:
            return False
    return True
