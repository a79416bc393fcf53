"""One job's facts through the htcondor2 bindings, for `condor-job-ssh doctor JOB` (proxycmd/backends/jobfacts.py).

The schedd gives the job's ad; the collector gives the execute node's HTCondor version: the job ad holds
none (unless the admins list CondorVersion in SYSTEM_JOB_MACHINE_ATTRS), the slot's ad does.
"""

from __future__ import annotations

from ...errors import ProxyError
from ..jobfacts import ATTRIBUTES, VERSION_ATTRIBUTE, JobFacts, from_ad
from .ads import value
from .queue import LookupUnavailable, Queue

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from ...hostname import JobAddress


def job_facts(queue: Queue, pool: Optional[str], addr: JobAddress) -> Optional[JobFacts]:
    """The facts of job *addr* in *queue*'s schedd; None when it is not in the queue; ProxyError when the
    schedd cannot be asked."""
    try:
        htcondor2 = queue._bindings()
        schedd = queue.schedd()
    except LookupUnavailable as exc:
        raise ProxyError(str(exc)) from None
    try:
        ads = schedd.query(f"ClusterId == {int(addr.cluster)} && ProcId == {int(addr.proc)}", ATTRIBUTES, limit=1)
    except (htcondor2.HTCondorException, ValueError, OSError, RuntimeError) as exc:
        raise ProxyError(f"cannot ask the schedd for job {addr.job_id}: {' '.join(str(exc).split())}") from None
    if not ads:
        return None
    slot = value(ads[0], "RemoteHost")
    return from_ad(ads[0], addr.job_id, slot_version(htcondor2, pool, slot) if isinstance(slot, str) else None)


def slot_version(htcondor2, pool: Optional[str], slot: str) -> Optional[str]:
    """The CondorVersion of slot *slot* (a job's RemoteHost) in the pool's collector; None when it cannot
    tell (a collector out of reach, a slot gone): the version is a hint, never a reason to fail."""
    from classad2 import quote

    try:
        ads = htcondor2.Collector(pool).query(htcondor2.AdType.Startd, constraint=f"Name == {quote(slot)}",
                                              projection=["Name", VERSION_ATTRIBUTE])
    except (htcondor2.HTCondorException, ValueError, OSError, RuntimeError):
        return None
    return next((text for text in (value(ad, VERSION_ATTRIBUTE) for ad in ads) if isinstance(text, str)), None)
