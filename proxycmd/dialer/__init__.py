"""The dialer: the tiny sh script condor-job-proxy gives condor_ssh_to_job as its ssh program.

`condor-job-proxy-dialer` hands the ssh options condor_ssh_to_job built to the proxy (on its stdout) and
waits until the proxy says "done" (on its stdin); see the script and proxycmd/backends/condor/dialer_handoff.py.
It ships inside this package (package data, kept executable by pip), not as a command on PATH: it is no
user command, and the proxy gives condor_ssh_to_job its absolute path.  An older install may still have a
copy next to the interpreter, which is used when the package's own is missing.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import Optional

NAME = "condor-job-proxy-dialer"


def find() -> Optional[str]:
    """The dialer's absolute path: the package's own copy when it is executable, else the installed one."""
    here = os.path.dirname(os.path.realpath(__file__))  # os.path, not pathlib: this runs on every connection
    for candidate in (os.path.join(here, NAME), os.path.join(os.path.dirname(sys.executable), NAME)):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None
