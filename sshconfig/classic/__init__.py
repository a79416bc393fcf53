"""`condor-ssh-to-job`, HTCondor's classic command line on condor-job-proxy's machinery.

shim: run one session as the classic tool does (options -> one ssh argv -> run, exit status);
args: the classic options, parsed exactly as condor_ssh_to_job parses them;
dirs: the per-run key directories, named for their process so a later run can sweep those left behind.
"""

from .shim import main

__all__ = ["main"]
