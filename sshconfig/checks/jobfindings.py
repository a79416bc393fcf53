"""`condor-job-ssh doctor JOB`: what one job's ssh sessions can and cannot do, each finding with its fix.

Pure: `findings` turns facts into doctor's rows (proxycmd/checkresult.py).  The facts are what the pool
says of the job (proxycmd/backends/jobfacts.py: its ad, the execute node's HTCondor version) and what a probe saw in a
real session to it (sshconfig/checks/jobprobe.py); sshconfig/checks/job.py gathers them.  A job whose sessions
land on the execute host has no trap: it gets one row that says so, and nothing else.

What the rows rest on (HTCondor 25.x source, measured on 25.14 with Docker 20.10; docs/containers.md):
* sshd always runs on the execute host.  In a container job the starter listens on `.docker_sock` in the
  scratch directory, and the session's forced command hands the connection to it (condor_docker_enter):
  Docker runs `docker exec -i CONTAINER /bin/sh -c CMD` (`-ti /bin/bash -i` for a shell), Apptainer
  `condor_nsenter` into the job's user, uts, pid and mount namespaces (not its network: untested here).
* condor_docker_enter exits 0 whatever the command did: exit statuses are lost; `-t` gives a command no
  terminal inside.
* sftp and scp run sftp-server inside, at the path the execute node's sshd_config names (fixed when
  HTCondor was built), as the job's uid, which needs an /etc/passwd entry there; `scp -O` runs scp
  inside, with the same need; rsync needs only an rsync binary inside.
* -L, -D, -R and agent forwarding are served by sshd on the execute host: a server in a Docker container
  is reachable only with the host's network (`docker_network_type = host`).
* Before HTCONDOR-3658 (fixed in 24.0.20, 24.12.20, 25.0.10 and 25.10.1) only an interactive shell entered
  the container: one-shot commands, scp, sftp, rsync ran on the execute host.
"""

from __future__ import annotations

from collections import namedtuple
from typing import List, Optional

from proxycmd.backends.jobfacts import INVALID_IMAGE_HOLD_CODE, JobFacts, version_tuple
from proxycmd.checkresult import FAIL, OK, WARN, Check

from .jobprobe import Probe

# The first release of each series in which one-shot commands enter the container (HTCONDOR-3658); every
# series after 25.10 has it from its start.
FIXED_IN = ((24, 0, 20), (24, 12, 20), (25, 0, 10), (25, 10, 1))
FIXED_TEXT = "24.0.20, 24.12.20, 25.0.10 or 25.10.1"
UNTESTED = " (from HTCondor's source; Apptainer is untested here)"


class Context(namedtuple("Context", "host release list_jobs doctor again forward_agent", defaults=(False,))):
    """What the fixes name: *host*, the job's host name; *release*, the command that releases it;
    *list_jobs*, the command that lists the user's jobs; *doctor*, the command that checks the set-up;
    *again*, this command for this job; *forward_agent*, whether the block forwards the agent."""

    __slots__ = ()


def enters_container(version: Optional[str]) -> Optional[bool]:
    """Whether an execute node of this HTCondor version runs one-shot ssh commands inside a job's
    container (HTCONDOR-3658); None when the version is unknown."""
    got = version_tuple(version)
    if got is None:
        return None
    for fixed in FIXED_IN:
        if got[:2] == fixed[:2]:
            return got >= fixed
    return got > FIXED_IN[-1]


def findings(job_id: str, facts: Optional[JobFacts], probe: Optional[Probe], ctx: Context) -> List[Check]:
    """The rows for job *job_id*: from its *facts* (None: not in the queue) and, when it runs, the *probe*."""
    if facts is None:
        return [Check("job", FAIL, f"job {job_id} is not in the queue (it may have finished or been removed)",
                      f"list your jobs: `{ctx.list_jobs}`")]
    if facts.status != "running":
        return [_status(facts, ctx)] + _expected(facts, ctx)
    if probe is None or not probe.complete:
        why = probe.error if probe is not None else "no probe ran"
        return [Check("session", FAIL, f"no session to {ctx.host} could run the probe: {why}",
                      f"check the set-up: `{ctx.doctor}`; then try: `ssh {ctx.host} true`")] \
            + _expected(facts, ctx)
    if not probe.sock:
        return [_on_host(facts, probe)] + _terminal(probe, ctx)
    runtime = _runtime(facts, probe)
    if not probe.in_container:
        return [_outside(facts, probe, runtime, ctx)] + _terminal(probe, ctx) + _network(facts, runtime, ctx) \
            + _agent(ctx)
    rows = [_inside(facts, probe, runtime), _commands(probe, ctx)]
    rows += _copies(probe, ctx) + _shell(probe, runtime, ctx) + _terminal(probe, ctx) + _network(facts, runtime, ctx) \
        + _agent(ctx)
    return [row for row in rows if row is not None]


def _terminal(probe: Probe, ctx: Context) -> List[Check]:
    """A row only when a session with a terminal did not start (sshconfig/checks/jobprobe.py `terminal`)."""
    if probe.terminal is not False:
        return []
    why = "the job's sshd could not give it a terminal"
    if probe.devpts and "gid=" not in probe.devpts and probe.uid != "0":
        why += (f": /dev/pts there is mounted without gid=5 ({probe.devpts}), so an sshd running as uid "
                f"{probe.uid or '?'} cannot make a new terminal its own")
    elif probe.terminal_said:
        why += f" (ssh said: {probe.terminal_said})"
    return [Check("shell", FAIL, f"a shell (ssh {ctx.host}) cannot start: {why}; commands, scp, sftp and rsync "
                                 "need no terminal and work",
                  f"you: run commands instead, e.g. `ssh {ctx.host} 'ls -l'`, or a shell without a terminal: "
                  f"`ssh -T {ctx.host}`\n"
                  "admins: mount devpts with gid=5,mode=620 on the execute node")]


# ----- the job's state ----------------------------------------------------------------------------------
def _status(facts: JobFacts, ctx: Context) -> Check:
    job = f"job {facts.job_id}"
    if facts.status == "held":
        reason = facts.hold_reason or "no reason given"
        if facts.hold_code == INVALID_IMAGE_HOLD_CODE or "pull image" in reason.lower():
            fix = (f"the execute node could not get the image {facts.image or '(none named)'}: submit the job "
                   "again with an image it can pull (a registry it reaches) or one the admins loaded there "
                   f"(docs/containers.md); to retry as it is: `{ctx.release}`")
        else:
            fix = f"after fixing the cause, release it: `{ctx.release}`"
        return Check("job", FAIL, f"{job} is held: {reason}", fix)
    if facts.status in ("idle", "transferring", "suspended"):
        said = {"idle": "is idle: it has not started running yet",
                "transferring": "is starting: its input files are still being transferred",
                "suspended": "is suspended"}[facts.status]
        return Check("job", WARN, f"{job} {said}; its sessions wait until it runs, and the probe of its "
                                  "sessions could not run", f"run this again once it runs: `{ctx.again}`")
    return Check("job", FAIL, f"{job} {'has ' + facts.status if facts.status == 'completed' else 'is ' + facts.status}"
                              ": there is nothing to connect to", f"list your jobs: `{ctx.list_jobs}`")


def _expected(facts: JobFacts, ctx: Context) -> List[Check]:
    """What the ad alone tells of a job that is not running (or that no session reached)."""
    if not facts.runtime:
        return []
    runtime = {"docker": "Docker", "apptainer": "Apptainer"}.get(facts.runtime, "Docker or Apptainer")
    rows = [Check("sessions", WARN, f"the job asks for a container ({facts.universe} universe, image "
                                    f"{facts.image or 'unnamed'}, {runtime}); its image could not be checked",
                  f"run this again while it runs: `{ctx.again}`")]
    return rows + (_network(facts, "Docker", ctx) if facts.runtime == "docker" else [])


# ----- where the sessions land --------------------------------------------------------------------------
def _on_host(facts: JobFacts, probe: Probe) -> Check:
    where = "the simulated pool's host" if facts.simulated else \
        f"the execute host{' ' + facts.remote_host if facts.remote_host else ''}"
    if facts.runtime:
        return Check("sessions", WARN, f"the job asks for a container (image {facts.image or 'unnamed'}), but its "
                                       f"sessions land on {where}, outside it: the starter offers no way in",
                     "work on the host's side, or ask the admins which HTCondor version runs there")
    return Check("sessions", OK, f"land on {where}, where the job runs: commands, scp, sftp, rsync, "
                                 "ssh -L/-D/-R and exit statuses all work as on any host")


def _runtime(facts: JobFacts, probe: Probe) -> str:
    if probe.runtime:
        return probe.runtime
    return {"docker": "Docker", "apptainer": "Apptainer"}.get(facts.runtime, "")


def _image(facts: JobFacts, probe: Probe) -> str:
    parts = [f"image {facts.image}"] if facts.image else []
    if probe.os:
        parts.append(probe.os)
    return f" ({', '.join(parts)})" if parts else ""


def _inside(facts: JobFacts, probe: Probe, runtime: str) -> Check:
    host = f" {facts.remote_host}" if facts.remote_host else ""
    detail = (f"commands, scp, sftp and rsync run inside the job's {runtime} container{_image(facts, probe)}; "
              f"sshd itself runs on the execute host{host}")
    return Check("sessions", OK, detail + (UNTESTED if runtime == "Apptainer" else ""))


def _outside(facts: JobFacts, probe: Probe, runtime: str, ctx: Context) -> Check:
    version = probe.version or facts.execute_version
    known = f"runs HTCondor {version}" if version_tuple(version) else "runs an HTCondor version we could not learn"
    container = f"{runtime} container" if runtime else "container"
    return Check("sessions", WARN,
                 f"one-shot commands (ssh {ctx.host} CMD, scp, sftp, rsync, VS Code's install script) run on "
                 f"the execute host, outside the job's {container}{_image(facts, probe)}; only a shell "
                 f"(ssh {ctx.host}) enters it.  The execute node {known}: one-shot commands enter the "
                 f"container from {FIXED_TEXT} on (HTCONDOR-3658)" + (UNTESTED if runtime == "Apptainer" else ""),
                 "you: work in a shell to be inside (the job's directory is the same on both sides)\n"
                 f"admins: upgrade the execute nodes' HTCondor to {FIXED_TEXT} or newer")


# ----- the traps inside a container ----------------------------------------------------------------------
def _commands(probe: Probe, ctx: Context) -> Optional[Check]:
    if probe.status_reported:
        return None
    return Check("commands", WARN, "a command's exit status is lost: ssh returns 0 whatever the command "
                                   "returned (the starter's condor_docker_enter does not pass it on); and a "
                                   "command gets no terminal inside, even with ssh -t (only a shell gets one)",
                 f"print the status yourself: `ssh {ctx.host} 'cmd; echo status=$?'`")


def _copies(probe: Probe, ctx: Context) -> List[Check]:
    rows = []
    uid = probe.uid or "?"
    if not probe.passwd:
        rows.append(Check("scp, sftp", FAIL,
                          f"scp and sftp end with 'Connection closed': the job's uid {uid} has no entry in the "
                          f"image's /etc/passwd, so sftp-server (and scp -O) stop with \"No user found for "
                          f"uid {uid}\"",
                          f"you: copy with rsync, which needs no entry: `rsync -a FILE {ctx.host}:`\n"
                          f"image: add the job's user (uid {uid}) to /etc/passwd, or run the job as a uid the "
                          "image has"))
    elif probe.sftp_ok is False:
        scp_o = "" if probe.scp else " (which needs scp in the image: it has none)"
        rows.append(Check("scp, sftp", FAIL,
                          f"sftp and scp end with 'Connection closed': the image has no {probe.sftp}, where the "
                          "execute node's sshd starts sftp-server (inside the container)",
                          f"you: copy with rsync, or with scp's old protocol{scp_o}: `rsync -a FILE {ctx.host}:` "
                          f"`scp -O FILE {ctx.host}:`\n"
                          f"image: install OpenSSH's sftp-server at {probe.sftp} (Debian, Ubuntu: package "
                          "openssh-sftp-server), or link it there"))
    elif probe.sftp_ok is None:
        rows.append(Check("scp, sftp", WARN, "cannot tell whether sftp and scp work: no session's sshd_config "
                                             "told the sftp-server's path",
                          f"try: `sftp {ctx.host}`"))
    else:
        rows.append(Check("scp, sftp", OK, f"work inside: uid {uid} is in the image's /etc/passwd and "
                                           f"{probe.sftp} is there"))
    if not probe.rsync:
        rows.append(Check("rsync", FAIL, "rsync fails: the image has no rsync (rsync runs one on each side)",
                          f"you: copy with scp or sftp{'' if probe.passwd and probe.sftp_ok else ' once they work'}\n"
                          "image: install rsync"))
    return rows


def _shell(probe: Probe, runtime: str, ctx: Context) -> List[Check]:
    if runtime != "Docker" or probe.bash:
        return []
    return [Check("shell", FAIL, f"a shell (ssh {ctx.host}) fails: the starter starts /bin/bash -i in the "
                                 "container and the image has no /bin/bash",
                  f"you: run commands instead, e.g. `ssh {ctx.host} 'ls -l'`\nimage: install bash")]


def _network(facts: JobFacts, runtime: str, ctx: Context) -> List[Check]:
    if runtime == "Apptainer":
        return [Check("ssh -L/-D/-R", OK, "reach servers inside the container: condor_nsenter enters no network "
                                          "namespace and Apptainer shares the host's network unless the site "
                                          "isolates it" + UNTESTED)]
    if runtime != "Docker":
        return []
    if not facts.ad_known:
        return [Check("ssh -L/-D/-R", WARN, "cannot tell whether ssh -L, -D and -R reach a server inside the "
                                            "container: the job ad, which names its network, could not be read",
                      "if they do not, submit the job with the submit command docker_network_type = host")]
    if facts.network == "host":
        return [Check("ssh -L/-D/-R", OK, "reach servers inside the container: it uses the execute host's "
                                          "network (docker_network_type = host)")]
    network = f"network {facts.network!r}" if facts.network else "its own network (no docker_network_type)"
    return [Check("ssh -L/-D/-R", FAIL,
                  "ssh -L, -D and -R (and VS Code's tunnel) cannot reach a server inside the container: sshd "
                  f"serves them on the execute host, and the container has {network}",
                  "you: submit the job with the submit command docker_network_type = host (HTCondor always "
                  "allows it), or forward to the container's own address where the site's Docker network "
                  "gives it one reachable from the host")]


def _agent(ctx: Context) -> List[Check]:
    if not ctx.forward_agent:
        return []
    return [Check("agent", WARN, "the forwarded agent (ForwardAgent) does not reach inside the container: its "
                                 "socket is on the execute host, and SSH_AUTH_SOCK is not passed in",
                  "use your keys from the access point, or a key made for the purpose inside the job")]


def exit_status(rows: List[Check]) -> int:
    return 1 if any(row.state == FAIL for row in rows) else 0
