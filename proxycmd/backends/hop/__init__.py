"""The hop: reaching jobs from a laptop through the access point (AP), with nothing of ours installed there.

* `backend` -- HopBackend, the backend of this place: sessions, listings and profile jobs on the AP;
* `tunnel`  -- one session: `ssh DEST <command>` on one end of a socketpair, header read, Session out;
* `remote`  -- pure: the command line sent to the AP (any login shell), the program condor_ssh_to_job
               runs there, and the framed header that program sends back;
* `command` -- the ssh command line, and any command run on the AP with its output: `run(dest, argv)`
               (for sync, doctor, and anything else that needs the AP's HTCondor tools);
* `jobs`    -- pure: condor_q, condor_status and condor_submit command lines and what they print.
"""


def run(dest, argv, **options):
    """Run *argv* on the access point *dest* with ssh and return the subprocess.CompletedProcess (text);
    see `proxycmd.backends.hop.command.run` for the options (config, batch, timeout, input) and exit statuses."""
    from .command import run as run_command

    return run_command(dest, argv, **options)
