"""Reaching jobs from a laptop through the access point (AP), with nothing of ours installed there.

* `remote`  -- pure: the command line sent to the AP (any login shell), the program condor_ssh_to_job
               runs there, and the framed header that program sends back;
* `backend` -- the HopBackend: `ssh DEST <command>` on one end of a socketpair, header read, Session out;
* `command` -- run any command on the AP and get its output: `proxycmd.hop.run(dest, argv)` (for sync,
               doctor, and anything else that needs the AP's HTCondor tools);
* `jobs`    -- the user's jobs there (condor_q -json), for `sync`.
"""


def run(dest, argv, **options):
    """Run *argv* on the access point *dest* with ssh and return the subprocess.CompletedProcess (text);
    see `proxycmd.hop.command.run` for the options (config, batch, timeout, input) and exit statuses."""
    from .command import run as run_command

    return run_command(dest, argv, **options)
