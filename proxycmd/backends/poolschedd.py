"""A route that names only a pool (`--route p2.condor=@cm2`): the one schedd that pool's collector knows.

condor_ssh_to_job, condor_q and condor_rm given `-pool P` without `-name` ask the LOCAL schedd, not one of
pool P's (checked on two HTCondor 25.14 pools: `condor_ssh_to_job -pool P 1.0` reached the local job 1.0),
so such a route would silently reach the wrong job.  The backends ask P's collector for its schedds
instead: exactly one is used; several are refused with their names and the route that picks one.  Pure.
"""

from __future__ import annotations

from ..errors import ProxyError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence


def the_schedd(pool: str, names: Sequence[str]) -> str:
    """The one schedd *names* holds (the schedds pool *pool*'s collector listed); ProxyError otherwise."""
    names = sorted(set(names))
    if len(names) == 1:
        return names[0]
    import shlex  # the pool's own names go into the command we suggest: quoted, they run nothing else

    if not names:
        raise ProxyError(f"the collector of pool {pool} knows no schedd; name the schedd with "
                         f"`condor-job-ssh setup --route {shlex.quote(f'SUFFIX=SCHEDD@{pool}')}`")
    raise ProxyError(f"pool {pool} has {len(names)} schedds ({', '.join(names)}) and the route names none; "
                     f"pick one with `condor-job-ssh setup --route {shlex.quote(f'SUFFIX={names[0]}@{pool}')}`")
