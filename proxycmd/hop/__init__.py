"""Reaching jobs from a laptop through the access point (AP), with nothing of ours installed there.

* `remote`  -- pure: the command line sent to the AP (any login shell), the program condor_ssh_to_job
               runs there, and the framed header that program sends back;
* `backend` -- the HopBackend: `ssh DEST <command>` on one end of a socketpair, header read, Session out;
* `run`     -- run any command on the AP and get its output (for sync, doctor and other callers).
"""
