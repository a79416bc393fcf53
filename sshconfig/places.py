"""Where the settings reach, and their backends: the one place condor-job-ssh opens a backend.

The settings choose the place (the simulated pool, an access point with `setup --via`, else HTCondor here);
`proxycmd.backends.open_backend` makes the choice, and nothing else here or in the commands asks which it
made: doctor, setup, sync and profile talk to whatever backend this gives them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

from proxycmd import backends

from . import sshclient


def backend_for(settings, ssh_config: Optional[Path] = None, where: Optional[Tuple] = None):
    """The backend of the place *settings* reach: their schedd and pool, or *where*, (schedd, pool,
    pool_only), one of the block's other schedds.  *ssh_config*: the file `setup` wrote, which the hop
    (--via) reads too for the access point's Host alias (None: ssh's own).  ImportError when HTCondor's
    bindings are needed and missing."""
    options = dict(sim_root=settings.sim_root, schedd=settings.schedd, pool=settings.pool)
    if where is not None:
        options.update(schedd=where[0], pool=where[1], pool_only=where[2])
    if settings.via:
        options.update(via=settings.via, via_config=sshclient.hop_config(ssh_config) if ssh_config is not None else None)
    return backends.open_backend(**options)
