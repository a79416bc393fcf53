"""condor_ssh_to_job's failures in one line: its exit status and messages (ssh_to_job.cpp, dc_schedd.cpp,
dc_starter.cpp and starter.cpp in htcondor/htcondor) as one refusal each.  Only here is `re` imported, and
this module only when a session could not be opened (the hop's refusals use it too)."""

from __future__ import annotations

import re

from ...errors import SessionRefused, one_line
from .tool import TOOL

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import Optional

    from ...hostname import JobAddress

RETRY_HINT = "(Use -auto-retry to keep trying periodically.)"

WAITING_LINE = "Waiting for job to start..."

# ----- its failures, in one line (only here is `re` imported) ---------------------------------------------
_SLOT_LINE = r"(?P<slot>[^\s:]+@[^\s:]+|slot[^\s:]*): (?P<msg>.+)"

_STARTER_RETRY = (
    ("job not yet initialized", "the starter has not set it up yet"),
    ("execution environment is not yet ready", "its execution environment is not ready yet (input files may "
                                                 "still be transferring)"),
    ("execution account not yet established", "its execution account is not set up yet"),
)


QUOTE_MAX = 240  # characters of the tool's own words quoted in a sentence: it stays one line ssh shows whole


def quote_said(text: str) -> str:
    """The tool's words as a sentence quotes them: one line, at most QUOTE_MAX characters."""
    return one_line(text, QUOTE_MAX)


def _host(slot: str) -> str:
    return slot.rpartition("@")[2] or slot


def _starter_line(line: str, job: str) -> Optional[SessionRefused]:
    """A refusal the starter sent back (condor_ssh_to_job prefixes it with the slot name)."""
    match = re.match(_SLOT_LINE, line)
    if not match:
        return None
    host, msg = quote_said(_host(match.group("slot"))), quote_said(match.group("msg").strip())
    if "ENABLE_SSH_TO_JOB=false" in msg:
        return SessionRefused(f"{job} may not be reached with ssh: its execute node {host} refuses it "
                              "(ENABLE_SSH_TO_JOB = false); ask the pool's admins", status="disabled")
    if "because the job is finished" in msg:
        return SessionRefused(f"{job} has finished running on {host}; there is nothing to connect to",
                              status="completed")
    if "currently suspended" in msg:
        return SessionRefused(f"{job} is suspended on {host}", retryable=True, status="suspended")
    for needle, words in _STARTER_RETRY:
        if needle in msg:
            return SessionRefused(f"{job} is starting on {host}: {words}", retryable=True, status="starting")
    if msg.startswith("Retrying request"):
        return SessionRefused(f"{job} is not ready on {host}: {msg}", retryable=True, status="starting")
    return SessionRefused(f"the execute node {host} could not start an ssh session for {job}: {msg}",
                          status="error")


def _line_refusal(line: str, job: str, addr: JobAddress) -> Optional[SessionRefused]:
    """What one line of condor_ssh_to_job's stderr means, or None when it is not one we know."""
    held = re.match(r'(?:The job is on hold|Job is held): "(.*)"\.?\Z', line)
    if held:
        reason = quote_said(held.group(1))
        return SessionRefused(f"{job} is held: {reason}" if reason else f"{job} is held (no reason given)",
                              status="held")
    if line.startswith("The job is on hold for an unknown reason"):
        return SessionRefused(f"{job} is held (no reason given)", status="held")
    if line.startswith("Unable to fetch job ad") or re.match(r"No such job: ", line):
        return SessionRefused(f"{job} is not in the queue (it may have finished or been removed)", status="unknown")
    who = re.match(r"(\S+) is not authorized for access to the starter for job", line)
    if who:
        return SessionRefused(f"{job} belongs to another user, not to you ({quote_said(who.group(1))} may not reach it)",
                              status="not-yours")
    if "is denied by SCHEDD_ENABLE_SSH_TO_JOB" in line:
        return SessionRefused(f"{job} may not be reached with ssh: its schedd refuses it (SCHEDD_ENABLE_SSH_TO_JOB "
                              "is false for it); ask the pool's admins", status="disabled")
    if "does not support remote access" in line:
        return SessionRefused(f"{job} cannot be reached with ssh: it runs in a universe without a starter (grid "
                              "or scheduler universe)", status="error")
    parallel = re.match(r"This is a parallel job\..*from 0 to (\d+)", line)
    if parallel:
        example = f"{addr.cluster}.{addr.proc}.0.{addr.suffix}"
        return SessionRefused(f"{job} is a parallel job: name one of its nodes (0 to {parallel.group(1)}) in the "
                              f"host name, e.g. {example}", status="error")
    if line.startswith("ERROR: Can't find address of local schedd"):
        return SessionRefused("cannot find the local schedd: HTCondor is not set up on this machine or its schedd "
                              "is down (name one: condor-job-ssh setup --schedd NAME --pool HOST)", status="error")
    schedd = re.match(r"No such schedd named (\S+) in (local pool|pool (\S+))", line)
    if schedd:
        where = f"pool {quote_said(schedd.group(3))}" if schedd.group(3) else "the local pool"
        return SessionRefused(f"there is no schedd named {quote_said(schedd.group(1))} in {where}", status="error")
    if re.match(r"(Can't connect to schedd|Failed to connect to schedd|Failed to authenticate|Failed to get "
                r"response from schedd|Failed to send GET_JOB_CONNECT_INFO)", line):
        return SessionRefused(f"cannot talk to the schedd about {job}: {quote_said(line.rstrip('.'))}", status="error")
    if re.match(r"(Failed to connect to starter|Can't connect to starter|Failed to (send|read).*START_SSHD|"
                r"Failed to create security session)", line):
        return SessionRefused(f"cannot reach the starter of {job}: {quote_said(line.rstrip('.'))}", status="error")
    run = re.match(r"Error executing (.+?): (.+)", line)
    if run:
        return SessionRefused(f"{TOOL} could not run {quote_said(run.group(1))}: {quote_said(run.group(2))}", status="error")
    return _starter_line(line, job)


def explain(returncode: int, stderr: str, addr: JobAddress) -> SessionRefused:
    """One refusal from condor_ssh_to_job's exit status and messages; retry-able when the tool says so."""
    job = f"job {addr.classic_id}"
    lines = [" ".join(line.split()) for line in stderr.splitlines()]
    retry = RETRY_HINT in lines
    lines = [line for line in lines if line and line not in (RETRY_HINT, WAITING_LINE)]
    if returncode < 0:
        return SessionRefused(f"{TOOL} was killed by signal {-returncode} while opening a session to {job}",
                              status="error")
    if returncode == 2:
        said = quote_said(lines[0]) if lines else "no reason given"
        return SessionRefused(f"{TOOL} did not accept the arguments condor-job-proxy gave it: {said}",
                              status="error")
    for line in lines:
        refusal = _line_refusal(line, job, addr)
        if refusal is not None:
            if retry and not refusal.retryable:
                refusal = SessionRefused(str(refusal), retryable=True, status=refusal.status)
            return refusal
    if retry:
        return SessionRefused(f"{job} is not running yet", retryable=True, status="not running")
    if lines:
        said = quote_said("; ".join(lines[:3]))
        return SessionRefused(f"{TOOL} failed for {job} (exit status {returncode}): {said}", status="error")
    return SessionRefused(f"{TOOL} ended (exit status {returncode}) without opening a session to {job} and "
                          "without saying why", status="error")
