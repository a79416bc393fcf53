"""Jobs on demand: `ssh gpu.job.condor` reaches the user's job for profile "gpu", submitting one first.

The profile is a submit description, `profiles/gpu.sub` next to config.toml (proxycmd/submitfile.py reads
it).  `find_or_submit` looks for the user's idle or running job whose ad says `CondorJobProxyProfile =
"gpu"`; when there is none it submits one from the profile, with our watchdog as its program
(proxycmd/watchdog.py: the job ends itself once no ssh session has existed for its idle timeout).  From
there the connection is the same as to any job: the caller waits while the job is idle and connects.

Two ssh started at once must not submit two jobs: the look-up and the submission happen under a lock file
in our private runtime directory, so the second one finds the job the first one submitted.

Jobs are found and submitted through the backend the connection uses (`live_profile_jobs`,
`submit_profile` of proxycmd/backends' interface): this module never imports a backend, so it works the
same on the simulated pool, with HTCondor here and through an access point.
"""

from __future__ import annotations

import os
import sys

from . import paths, submitfile
from .errors import ProxyError, SessionRefused, UsageError, shown
from .submitfile import IDLE_TIMEOUT_ATTR, LIFETIME_ATTR, PROFILE_ATTR, ProfileError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Callable, Dict, List, Optional, TextIO, Tuple, TypeVar

    T = TypeVar("T")

    from .backends import Backend
    from .hostname import JobAddress
    from .session import JobInfo

LIVE = ("idle", "running", "transferring")  # a job in one of these states is reused, not replaced
GONE = ("completed", "removed", "unknown")  # refusals that mean the job found a moment ago has ended
PERIODIC_REMOVE = f"(JobStatus == 2) && (time() - JobCurrentStartDate > {LIFETIME_ATTR})"


# ----- profiles ----------------------------------------------------------------------------------------------
def profile_names() -> List[str]:
    """The names of the profiles in the profiles directory, sorted."""
    from .hostname import is_profile_name

    try:
        found = os.listdir(paths.profiles_dir())
    except OSError:
        return []
    return sorted(n[:-4] for n in found if n.endswith(".sub") and is_profile_name(n[:-4]))


def read_profile(name: str) -> Tuple[Path, str]:
    """(path, text) of profile *name*; UsageError naming the file when there is no such profile."""
    from .ownfile import read_own_text

    path = paths.profile_file(name)
    paths.check_config_dir()  # the settings directory's safe-chain rule (PathError, one line)
    try:
        return path, read_own_text(path, "profile")
    except FileNotFoundError:
        known = profile_names()
        have = f" (profiles: {', '.join(known)})" if known else ""
        raise UsageError(f"no profile {name!r}: {path} does not exist; create it with "
                         f"`condor-job-ssh profile new {name}`{have}") from None
    except UnicodeDecodeError:
        raise ProxyError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ProxyError(f"cannot read profile {name!r} ({path}): {exc.strerror or exc}") from None


def load_profile(name: str) -> Tuple[Path, List[submitfile.Entry]]:
    path, text = read_profile(name)
    return path, parse_profile(path, text)


def parse_profile(path: Path, text: str) -> List[submitfile.Entry]:
    """The profile's commands as HTCondor's submit parser reads them; ProxyError when it must not be used."""
    try:
        return submitfile.parse(text, shown(path))
    except ProfileError as exc:
        raise ProxyError(str(exc)) from None


def job_description(name: str, entries: List[submitfile.Entry]) -> Dict[str, str]:
    """The submit description of profile *name*'s job: our defaults, the profile's commands over them,
    then what we own (the program, the profile attribute).  A profile's own periodic_remove is combined
    with ours (either removes the job)."""
    from . import condorargs, watchdog

    docker = (submitfile.command(entries, "universe") or "").strip().lower() == "docker"
    description = {
        "batch_name": f"{name}.job.condor",
        # what `condor_submit -interactive` sets and site policies key on; not for the docker universe, where
        # the starter ends an interactive job when its first ssh session ends (docs/design-facts.md: "Interactive jobs and session directories")
        "MY.InteractiveJob": "False" if docker else "True",
        f"MY.{IDLE_TIMEOUT_ATTR}": str(watchdog.DEFAULT_IDLE_TIMEOUT),
        f"MY.{LIFETIME_ATTR}": str(watchdog.DEFAULT_LIFETIME),
        "periodic_remove": PERIODIC_REMOVE,
        "job_max_vacate_time": str(watchdog.VACATE_TIME),  # SIGKILL at the latest this long after kill_sig
    }
    theirs = submitfile.as_dict(entries)
    for key, value in theirs.items():
        for old in [k for k in description if k.lower() == key.lower()]:
            if old == "periodic_remove":
                value = f"({PERIODIC_REMOVE}) || ({value})"
            del description[old]
        description[key] = value
    owned = {
        "executable": watchdog.argv()[0],
        "transfer_executable": "false",
        "arguments": condorargs.quote(watchdog.argv()[1:]),
        # removal, hold and vacate send this; the SIGTERM every first session sends an interactive job's
        # program is ignored (proxycmd/watchdog.py)
        "kill_sig": watchdog.KILL_SIGNAL, "remove_kill_sig": watchdog.KILL_SIGNAL,
        "hold_kill_sig": watchdog.KILL_SIGNAL,
        f"MY.{PROFILE_ATTR}": f'"{name}"',
    }
    for key in [k for k in description if k.lower() in {o.lower() for o in owned}]:
        del description[key]
    description.update(owned)
    return description


# ----- find or submit ----------------------------------------------------------------------------------------
def _lock(path: Path) -> int:
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise ProxyError(f"cannot open the lock {path}: {exc.strerror or exc}") from None
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def find_or_submit(addr: JobAddress, jobs: Backend, rundir: Path, stream: Optional[TextIO] = None,
                   prog: str = "condor-job-proxy") -> JobAddress:
    """The address of the profile's live job, submitted now when there is none (under the profile's lock)."""
    name = addr.profile
    path, text = read_profile(name)  # refused unless it is the user's own file; parsed only to submit:
    found = find_profile_job(jobs, name)  # the htcondor2 bindings take ~30 ms to import
    if found is None:
        fd = _lock(paths.profile_lock(rundir, name))
        try:
            found = find_profile_job(jobs, name)  # someone may have submitted while we waited for the lock
            if found is None:
                entries = parse_profile(path, text)
                found = jobs.submit_profile(name, job_description(name, entries))
                stream = stream if stream is not None else sys.stderr
                stream.write(f"{prog}: submitted job {found.job_id} from profile {name} ({path}); "
                             f"it ends itself after {_idle_timeout(entries)} s without an ssh session\n")
                stream.flush()
        finally:
            os.close(fd)
    return addr._replace(cluster=found.cluster, proc=found.proc)


def profile_opener(addr: JobAddress, jobs: Backend, rundir: Path,
                   open_session: Callable[[JobAddress], T]) -> Tuple[JobAddress, Callable[[], T]]:
    """The profile's job (found or submitted now) and a function that opens a session to it.

    A job that was found in the queue may end before we connect, when its idle timeout expires just
    then: the refusal says it has completed (or was removed), and the function then finds or submits
    the profile's job once more instead of failing."""
    current = [find_or_submit(addr, jobs, rundir)]
    again = [True]

    def attempt() -> T:
        try:
            return open_session(current[0])
        except SessionRefused as exc:
            if exc.retryable or exc.status not in GONE or not again[0]:
                raise
            again[0] = False
            current[0] = find_or_submit(addr, jobs, rundir)
            return open_session(current[0])

    return current[0], attempt


def _idle_timeout(entries: List[submitfile.Entry]) -> str:
    from .watchdog import DEFAULT_IDLE_TIMEOUT

    return submitfile.attribute(entries, IDLE_TIMEOUT_ATTR) or str(DEFAULT_IDLE_TIMEOUT)


def find_profile_job(jobs: Backend, profile: str) -> Optional[JobInfo]:
    """The user's live job for *profile* at the backend *jobs*, or None."""
    return pick([job for _, job in jobs.live_profile_jobs(profile)])


def pick(candidates: List[JobInfo]) -> Optional[JobInfo]:
    """The job to reuse among a profile's live jobs: a running one first, then the oldest."""
    live = [job for job in candidates if job.status in LIVE]
    live.sort(key=lambda job: (job.status != "running", job.cluster, job.proc))
    return live[0] if live else None
