"""What the user can do about a refusal, added to its sentence in one backend-neutral place.

The backends say what the pool said (the sim daemon, condor/ads.py, condor/refusals.py); here a held job's
sentence gets the command that releases it, and a job that is not in the queue names the user's running
jobs and the command that lists them.  Everything has to fit the 400 bytes of an SSH disconnect's
description that OpenSSH prints (proxycmd/disconnect.py), so a long hold reason is shortened, not the hint.
"""

from __future__ import annotations

from .errors import ProxyError, SessionRefused

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import Callable, List, Optional

ROOM = 370  # bytes for the sentence after "condor-job-proxy: ", inside OpenSSH's 400
SHOWN_JOBS = 5  # running jobs named when the one asked for is not in the queue


def release_command(job_id: str, *, sim_root: Optional[str] = None, schedd: Optional[str] = None,
                    pool: Optional[str] = None, via: Optional[str] = None) -> str:
    import shlex

    if sim_root:
        return f"condor-job-ssh sim release {job_id} --root {shlex.quote(sim_root)}"
    where = (f" -pool {shlex.quote(pool)}" if pool else "") + (f" -name {shlex.quote(schedd)}" if schedd else "")
    on_ap = f"ssh {shlex.quote(via)} " if via else ""  # from a laptop: HTCondor's tools are on the AP
    return f"{on_ap}condor_release{where} {job_id}"


def list_command(*, sim_root: Optional[str] = None, schedd: Optional[str] = None, pool: Optional[str] = None,
                 via: Optional[str] = None) -> str:
    """The command that lists the user's jobs where the proxy looks for them."""
    import shlex

    if sim_root:
        return f"condor-job-ssh sim list --root {shlex.quote(sim_root)}"
    where = (f" -pool {shlex.quote(pool)}" if pool else "") + (f" -name {shlex.quote(schedd)}" if schedd else "")
    on_ap = f"ssh {shlex.quote(via)} " if via else ""
    return f"{on_ap}condor_q{where}"


def not_queued(exc: ProxyError, running: Optional[List[str]], command: str) -> SessionRefused:
    """*exc* (a job that is not in the queue) with the user's running job ids (None: they could not be
    listed) and the command that lists them."""
    if running is None:
        tail = f"; list your jobs with: {command}"
    elif running:
        shown = ", ".join(running[:SHOWN_JOBS]) + (", ..." if len(running) > SHOWN_JOBS else "")
        tail = f"; your running job{'s' * (len(running) != 1)}: {shown} (list them with: {command})"
    else:
        tail = f"; you have no running jobs (list your jobs with: {command})"
    return SessionRefused(_fit(" ".join(str(exc).split()), tail), retryable=False, status="unknown")


def _fit(head: str, tail: str) -> str:
    room = ROOM - len(tail.encode("utf-8"))
    data = head.encode("utf-8")
    if len(data) > room:
        head = data[: max(0, room - 3)].decode("utf-8", "ignore") + "..."
    return head + tail


def advise(exc: ProxyError, job_id: str, *, sim_root: Optional[str] = None, schedd: Optional[str] = None,
           pool: Optional[str] = None, via: Optional[str] = None) -> ProxyError:
    """*exc*, or a refusal that also says what to run (a held job: the command that releases it)."""
    if not isinstance(exc, SessionRefused) or exc.status != "held":
        return exc
    command = release_command(job_id, sim_root=sim_root, schedd=schedd, pool=pool, via=via)
    text = " ".join(str(exc).split())
    if "pull image" in text.lower():  # HTCondor's "Cannot pull image X": releasing it alone fails again
        tail = (f"; submit it again with an image the execute node can pull (docs/containers.md), or retry as "
                f"it is with: {command}")
    else:
        tail = f"; after fixing the cause, release it with: {command}"
    return SessionRefused(_fit(text, tail), retryable=False, status="held")


def advise_for(exc: ProxyError, args, list_running: Optional[Callable[[], List[str]]] = None) -> ProxyError:
    """`advise` for the proxy's parsed options (cli.main's failure path): the job comes from the host name.
    *list_running* gives the user's running job ids for a job that is not in the queue (it may raise)."""
    if not isinstance(exc, SessionRefused) or exc.status not in ("held", "unknown"):
        return exc
    from . import hostname

    try:
        addr = hostname.parse(args.host, args.suffix or [hostname.DEFAULT_SUFFIX])
    except hostname.HostnameError:
        return exc
    if addr.profile:  # the profile's job id is not in the host name; its sentence names the job already
        return exc
    where = dict(sim_root=args.sim, schedd=args.schedd or addr.schedd, pool=args.pool, via=getattr(args, "via", None))
    if exc.status == "unknown":
        running = None
        if list_running is not None:
            try:
                running = list_running()
            except Exception:  # noqa: BLE001 -- a listing that fails must not hide the sentence itself
                running = None
        return not_queued(exc, running, list_command(**where))
    return advise(exc, addr.classic_id, **where)
