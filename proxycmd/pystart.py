"""Starting a Python process of ours that imports only our code and the installation's, never the caller's.

`python -m MODULE` puts the working directory first on sys.path (`-c` puts "" there, which is the same), so
a `proxycmd/` package planted where the user happens to stand (/tmp, a group-shared project directory) would
run as the user in every child started that way.  A child of ours therefore starts

    <this python> -I -c <BOOT> <the directory our package was imported from> MODULE ARGS...

in "/".  -I (isolated mode, Python 3.4+) leaves out the working directory (also on 3.9, which has no -P),
the user's site-packages and every PYTHON* variable (an empty PYTHONPATH entry would be the working directory
again, and the only way a `sitecustomize.py` or `usercustomize.py` there would be imported); BOOT then puts
the one directory our own code came from first and runs MODULE as `-m` would.  The installation's own
site-packages (a venv, pipx, the system's) stay on the path, so dependencies are found as before; a user
install's site-packages is the directory our code came from, so it is on the path too.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import List

CWD = "/"  # where a child of ours runs: no directory of anyone else's, and none that it keeps busy
_BOOT = ("import sys, runpy; sys.path.insert(0, sys.argv[1]); module = sys.argv[2]; del sys.argv[1:3]; "
         "runpy.run_module(module, run_name='__main__', alter_sys=True)")


def package_root() -> str:
    """The directory the `proxycmd` package was imported from (a site-packages, or a checkout)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def module_argv(module: str, *args: str) -> List[str]:
    """The command line that runs our *module* (as `python -m`) with *args*, isolated; run it in CWD."""
    return [sys.executable, "-I", "-c", _BOOT, package_root(), module, *args]
