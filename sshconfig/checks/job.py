"""`condor-job-ssh doctor JOB`: gather one job's facts and turn them into rows of what its sessions can and
cannot do.

JOB is a job id (`32.0`, `32`) or a job host name (`32.0.job.condor`, `32.0.SCHEDD.job.condor`, a route's
`32.0.ap2.condor`, a profile's `gpu.job.condor`: its live job).  The backend the settings choose (the
simulated pool, HTCondor here, or the access point with `setup --via`) tells the job's ad
(`Backend.job_facts`); when the job runs, a probe runs in it through a real ssh session over the user's
own config (sshconfig/checks/jobprobe.py).  The judging is sshconfig/checks/jobfindings.py's; the table and
the exit status sshconfig/commands/doctor.py's (2 for a JOB that names no job, said here).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import List, Optional, Tuple

from proxycmd import advice, ourcommands
from proxycmd.errors import ProxyError
from proxycmd.hostname import HostnameError, JobAddress, parse, parse_job_id
from proxycmd.backends.jobfacts import JobFacts

from proxycmd.checkresult import FAIL, WARN, Check

from .. import ui
from ..block import settings as settings_mod
from ..places import backend_for
from . import jobfindings, jobprobe


def resolve(text: str, settings) -> Tuple[JobAddress, Optional[str], Optional[str], bool]:
    """(the job's address, its schedd, its pool, whether that pool names no schedd) for JOB as given:
    a job id goes to the default schedd, a host name where the block sends it (its suffix's route, the
    schedd it names); HostnameError when it is neither."""
    if text[:1].isdigit() and all(part.isdigit() for part in text.split(".")):
        addr = parse_job_id(text)
        return addr._replace(suffix=settings.suffix), settings.schedd, settings.pool, False
    addr = parse(text, settings.suffixes)
    route = next((r for r in settings.routes if r.suffix == addr.suffix), None)
    if route is None:
        return addr, addr.schedd or settings.schedd, settings.pool, False
    return addr, addr.schedd or route.schedd, route.pool, bool(route.pool and not route.schedd and not addr.schedd)


def job_rows(text: str, ssh_config: Optional[Path]) -> List[Check]:
    """The rows for the job JOB (*text*) names; a one-line error (ui.fail) when it names none."""
    try:
        chosen = settings_mod.load(warn=lambda message: None)
    except settings_mod.SettingsError as exc:
        raise ui.fail(str(exc), 1)
    try:
        addr, schedd, pool, pool_only = resolve(text, chosen)
    except HostnameError:
        raise ui.fail(f"{text[:80]!r} is not a job: give a job id (32.0) or a job host name "
                    f"(32.0.{chosen.suffix}, PROFILE.{chosen.suffix})", 2)
    where = dict(sim_root=chosen.sim_root, schedd=schedd, pool=pool, via=chosen.via)
    backend = _backend(chosen, schedd, pool, pool_only, ssh_config)
    cjs = ourcommands.command_word("condor-job-ssh")
    config_opt = f" --ssh-config {shlex.quote(str(ssh_config))}" if ssh_config else ""
    if addr.profile:
        addr = _profile_job(backend, addr)
        if isinstance(addr, Check):
            return [addr]
    job_id = addr.job_id
    rows: List[Check] = []
    try:
        facts = backend.job_facts(addr)
    except ProxyError as exc:  # a session may still work: condor_ssh_to_job asks the schedd itself
        rows.append(Check("job", WARN, f"cannot read job {job_id}'s ad ({exc}); what follows comes from a "
                                       "session in the job alone", ""))
        facts = JobFacts(job_id=job_id, status="running", ad_known=False)
    host = addr.hostname
    ctx = jobfindings.Context(host=host, release=advice.release_command(job_id, **where),
                            list_jobs=advice.list_command(**where), doctor=f"{cjs} doctor{config_opt}",
                            again=f"{cjs} doctor {host}{config_opt}", forward_agent=chosen.forward_agent)
    probe = None
    if facts is not None and facts.status == "running":
        probe = jobprobe.run(str(ssh_config) if ssh_config else None, host)
    return rows + jobfindings.findings(job_id, facts, probe, ctx)


def _backend(chosen, schedd, pool, pool_only, ssh_config: Optional[Path]):
    config = Path(os.path.expanduser(str(ssh_config))) if ssh_config is not None else None
    try:
        return backend_for(chosen, config, (schedd, pool, pool_only))
    except ImportError as exc:
        raise ui.fail(f"cannot ask HTCondor about the job: {exc} (install HTCondor's Python bindings)", 1)


def _profile_job(backend, addr: JobAddress) -> "JobAddress | Check":
    """The address of the profile's live job (a running one first); when it has none, the row that says so."""
    try:
        found = [job for _, job in backend.live_profile_jobs(addr.profile)]
    except ProxyError as exc:
        raise ui.fail(f"cannot look up the job of profile {addr.profile}: {exc}", 1)
    if not found:
        from proxycmd.ondemand import profile_names

        names = profile_names()
        if addr.profile not in names:  # `ssh NAME` would fail the same way: say so, not "start one"
            return Check("job", FAIL, f"there is no profile {addr.profile!r} and no job of one",
                         f"profiles: {', '.join(sorted(names))}" if names else
                         f"create one: `{ui.cjs()} profile new {addr.profile}`")
        return Check("job", WARN, f"no job of profile {addr.profile} is idle or running",
                     f"start one: `ssh {addr.hostname}`")
    job = next((job for job in found if job.status == "running"), found[0])
    return addr._replace(cluster=job.cluster, proc=job.proc, profile=None)
