"""Importing HTCondor's Python bindings, which end the process when HTCondor's configuration does not load.

`import htcondor2` reads HTCondor's configuration, and a syntax error there (CONDOR_CONFIG naming a broken
file, say) makes the bindings print two lines and exit(1) from C: no exception, nothing more said.  Where our
own sentence matters (`condor-job-ssh` and `condor-ssh-to-job` set PROBE: doctor, sync, the profile
commands, the classic shim), the import is tried first in a child Python, once per process (about 60 ms),
and a failure becomes one line (`ConfigBroken`, an ImportError).  The ProxyCommand leaves PROBE off: a
connection that needs the bindings (a profile job) does not pay for the child, and HTCondor's own lines
reach ssh's stderr.
"""

from __future__ import annotations

import os
import sys

PROBE = False
_SAID_MAX = 300  # characters of HTCondor's words in the sentence
_probed = False


class ConfigBroken(ImportError):
    """HTCondor's configuration does not load: str() is one line with HTCondor's own words."""


def load():
    """The htcondor2 module (ImportError when it cannot be imported, ConfigBroken as said above)."""
    if PROBE and "htcondor2" not in sys.modules:
        _probe()
    import htcondor2

    return htcondor2


def _probe() -> None:
    global _probed
    if _probed:
        return
    import importlib.util
    import subprocess

    spec = importlib.util.find_spec("htcondor2")
    if spec is None or not spec.origin:
        raise ImportError("No module named 'htcondor2'")
    where = os.path.dirname(os.path.dirname(spec.origin))  # the directory that holds the package
    try:
        done = subprocess.run([sys.executable, "-I", "-S", "-c",
                               "import sys; sys.path.insert(0, sys.argv[1]); import htcondor2", where],
                              cwd="/", stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return  # the import itself decides
    if done.returncode != 0:
        said = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        if len(said) > _SAID_MAX:
            said = said[:_SAID_MAX - 3] + "..."
        where_from = os.environ.get("CONDOR_CONFIG")
        raise ConfigBroken(f"HTCondor's configuration{f' (CONDOR_CONFIG={where_from})' if where_from else ''} "
                           f"does not load: {said}")
    _probed = True
