"""The schedds of the simulated pool as the fake HTCondor tools here see them (condor_ssh_to_job, condor_q,
condor_rm, condor_status): which one `-name` and `-pool` pick, as DCSchedd::locate() would.

The pool's default schedd is the local schedd, named CONDOR_JOB_PROXY_FAKE_SCHEDD (default: this host's
name); the pool's named schedds (`sim start --schedd NAME`) keep their names.  The pool's collector answers
to the default schedd's name and to "localhost".  As the real tools do (checked on HTCondor 25.14):
without -name the LOCAL schedd is used, whatever -pool names.
"""

import os
import socket

from proxycmd.sim.client import PoolError, SimPool

POOL_ENV = "CONDOR_JOB_PROXY_FAKE_POOL"
SCHEDD_ENV = "CONDOR_JOB_PROXY_FAKE_SCHEDD"


def schedd_name():
    return os.environ.get(SCHEDD_ENV) or socket.getfqdn()


class Schedd:
    """One schedd of the pool: its jobs, sessions and queue changes."""

    def __init__(self, root, sim_name):
        self.pool = SimPool(root)
        self.root = self.pool.root
        self.sim_name = sim_name  # None: the pool's default schedd
        self.name = sim_name or schedd_name()

    def jobs(self):
        return self.pool.jobs(self.sim_name or "")

    def open_session(self, cluster, proc, **options):
        return self.pool.open_session(cluster, proc, schedd=self.sim_name, **options)

    def change(self, op, cluster, proc=0, **args):
        return self.pool.change(op, cluster, proc, schedd=self.sim_name, **args)


def named_schedds(root):
    """The pool's named schedds (not its default one); none when the pool does not answer."""
    try:
        return SimPool(root).schedds()[1][1:]
    except PoolError:
        return []


def all_schedds(root):
    """Every schedd's name, the local one first."""
    return [schedd_name()] + named_schedds(root)


def locate(name, pool_name):
    """(Schedd, "") or (None, the tool's error line)."""
    root = os.environ.get(POOL_ENV)
    if root and not name:
        return Schedd(root, None), ""
    in_pool = not pool_name or pool_name in (schedd_name(), "localhost")
    if root and in_pool and name == schedd_name():
        return Schedd(root, None), ""
    if root and in_pool and name in named_schedds(root):
        return Schedd(root, name), ""
    if not name:
        return None, "ERROR: Can't find address of local schedd\n"
    if not pool_name:
        return None, f"No such schedd named {name} in local pool\n"
    return None, f"No such schedd named {name} in pool {pool_name}\n"
