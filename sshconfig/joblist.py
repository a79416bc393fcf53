"""Which jobs `sync` lists: those of every schedd the block reaches, each under the host name that reaches it.

The block reaches the default schedd (settings.schedd/pool, host names C.P.job.condor), each route's
(C.P.SUFFIX), and with `setup --all-schedds` every other schedd of the default pool (C.P.S.job.condor, S
being the schedd's name, when that is a DNS name).  Job ids repeat across schedds: two schedds' job 1.0 are
two hosts.  A schedd that does not answer is a warning naming it and the others are still listed; only
when none answers is it an error.  `list_everywhere` does the asking through any backend (`open_at`).
"""

from __future__ import annotations

import shlex
from collections import namedtuple
from typing import Callable, List, Optional, Set, Tuple

from proxycmd.errors import ProxyError

from .block.settings import Settings

# one job of the listing: its JobInfo, the host name suffix it is reached under, and the schedd name spelled
# in the host name (C.P.S.suffix), or None
Listed = namedtuple("Listed", "job suffix schedd")
# a schedd the block reaches: the suffix of its host names, its schedd and pool as the block names them, and
# whether it is a route naming only a pool (its one schedd, never the local one)
Place = namedtuple("Place", "suffix schedd pool pool_only", defaults=(False,))


def places(settings: Settings) -> List[Place]:
    """The default schedd first, then each route's."""
    return [Place(settings.suffix, settings.schedd, settings.pool)] + \
        [Place(route.suffix, route.schedd, route.pool, bool(route.pool and not route.schedd))
         for route in settings.routes]


def describe(place: Place, settings: Settings) -> str:
    """How a warning names the schedd: "schedd ap2 (route ap2.condor)", "the default schedd"..."""
    who = f"schedd {place.schedd}" if place.schedd else "the schedd" if place.pool else "the local schedd"
    who += f" of pool {place.pool}" if place.pool else ""
    return who + (f" (route {place.suffix})" if place.suffix != settings.suffix else "")


def _is_dns_name(name: str) -> bool:
    from proxycmd.hostname import HostnameError, parse

    try:
        return parse(f"1.0.{name}.job.condor").schedd == name.lower()
    except HostnameError:
        return False


def newest(listed: List[Listed], limit: int) -> List[Listed]:
    """At most *limit* of *listed*: the newest jobs (the highest job ids), so that a pool or access point
    that lists a million jobs does not make a 143 MB ssh config that every ssh then reads."""
    if len(listed) <= limit:
        return listed
    import heapq

    return heapq.nlargest(limit, listed, key=lambda item: (item.job.cluster, item.job.proc))


def list_everywhere(settings: Settings, open_at: Callable[..., object],
                    include_idle: bool, warn: Callable[[str], None], all_schedds: bool = False) -> List[Listed]:
    """Every job the block reaches.  *open_at(schedd, pool, pool_only)* opens the backend of one schedd."""
    listed: List[Listed] = []
    seen: Set[Tuple[Optional[str], int, int]] = set()  # (schedd, cluster, proc) of the jobs listed so far
    failed: List[Tuple[Place, Exception]] = []
    asked = 0

    def add(jobs, suffix: str, schedd: Optional[str]) -> None:
        for job in jobs:
            key = (job.schedd, job.cluster, job.proc)
            if job.schedd and key in seen:
                continue  # reached already, under a route or the default suffix
            seen.add(key)
            listed.append(Listed(job, suffix, schedd))

    default = None
    for place in places(settings):
        asked += 1
        try:
            backend = open_at(place.schedd, place.pool, place.pool_only)
            jobs = backend.list_jobs(include_idle=include_idle)
        except (ProxyError, ImportError) as exc:
            failed.append((place, exc))
            continue
        if default is None and place.suffix == settings.suffix:
            default = backend
        add(jobs, place.suffix, None)
    if all_schedds:
        covered = {p.schedd for p in places(settings) if p.schedd and p.pool == settings.pool}
        try:
            names = (default or open_at(None, settings.pool, False)).schedds()
        except (ProxyError, ImportError) as exc:
            warn(f"cannot list the schedds of {'pool ' + settings.pool if settings.pool else 'the pool'}, so only "
                 f"the block's own schedds are listed: {exc}")
            names = []
        for name in names:
            if name in covered:
                continue
            if not _is_dns_name(name):
                warn(f"the jobs of schedd {name} are not listed: a host name cannot hold that name; reach them "
                     f"with `condor-job-ssh setup --route "
                     f"{shlex.quote(f'SUFFIX={name}' + (f'@{settings.pool}' if settings.pool else ''))}`")
                continue
            asked += 1
            place = Place(settings.suffix, name, settings.pool)
            try:
                jobs = open_at(name, settings.pool, False).list_jobs(include_idle=include_idle)
            except (ProxyError, ImportError) as exc:
                failed.append((place, exc))
                continue
            add(jobs, settings.suffix, name.lower())
    if failed and len(failed) == asked:
        raise failed[0][1]
    for place, exc in failed:
        warn(f"{describe(place, settings)} did not answer, so its jobs are not listed: {' '.join(str(exc).split())}")
    return listed
