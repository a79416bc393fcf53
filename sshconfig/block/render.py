"""Settings and jobs -> the managed ssh_config block.  Pure: no I/O, no clock, no environment.

The block comes first in the user's file because ssh keeps the first value it finds for each option, so
ours beat a later ``Host *``.  Its shape (see docs/design-facts.md: "OpenSSH" for the quoting)::

    BEGIN marker
    Host 32.0.job.condor                      one per synced job, so VS Code lists it
        # batch: ... | cmd: ... | on: ... | running since ...
    Match host "*.job.condor,*.job.condor." user "*'*,*!*"    a user name with ' or ! gets no proxy at all
        ProxyCommand none
    Match host "*.job.condor,*.job.condor.,!*'*,!*!*"   a host name with ' or ! is not ours
        ProxyCommand '/abs/condor-job-proxy' ... --login '%r' '%h'
        ...
    Match all                                 what follows in the user's file is global again
    END marker

Host names are case-insensitive, and a trailing dot names the same host: `ssh 1.0.JOB.CONDOR` and
`ssh 1.0.job.condor.` must reach job 1.0 too.  A `Host` line cannot say so: readconf.c compares its patterns
with match_pattern(), case-sensitively, against the name as typed (ssh lowercases it only after reading the
config).  `Match host` goes through match_hostname(), which lowercases both, so the block's rules are `Match`
lines, and each lists the suffix with and without the trailing dot (the dot stays in %h: the proxy's grammar
drops it, and the agent names the known_hosts entry as ssh looks it up, dot and all).

The quote is excluded by a negated pattern in the same pattern-list, not by a second `!host` criterion: the
two mean the same to OpenSSH (match_hostname takes negated patterns; the list is double-quoted because a bare
`!*'*` is a quoting error), but Node's `ssh-config` parser (what ssh2 scripts and open-remote-ssh use) knows
no negated criterion and skipped the whole rule; paramiko and asyncssh read both forms.

A `!` is excluded as well, from host and user names alike: ssh runs the ProxyCommand with the user's login
shell, and csh and tcsh expand history (`!#:0`, `!$`) even inside single quotes and under `-c`, so a name
with a `!` in it could rewrite the command line (add options, run another ssh config).  No job host name
and no account holds one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from proxycmd.hostname import MAX_HOSTNAME, MAX_ID, is_profile_name
from proxycmd.session import JobInfo

from .options import OPTIONS
from .values import Route
from .quoting import shell_word
from .settings import Settings
from .splice import BEGIN, CREATED_NOTE, END

INDENT = "    "
COMMENT_FIELD_MAX = 80
ON_A_HOST = ("running", "transferring", "suspended")  # the statuses whose execute host is worth showing


@dataclass(frozen=True)
class RenderContext:
    proxy: str  # absolute path of the installed condor-job-proxy
    runtime_dir: str  # absolute path of the private runtime directory
    settings: Settings
    now: Optional[float] = None  # when the job list was taken: later `since` values (clock skew) show as now
    created_file: bool = False  # `setup` created the file: the block says so, and `remove` deletes the file
    ssh_config: Optional[str] = None  # the file written, when not ~/.ssh/config: the hop (--via) reads it too
    # OpenSSH before 8.4 expands no %l in UserKnownHostsFile: one file for all login nodes (paths.py)
    shared_known_hosts: bool = False
    # False: one machine owns the runtime directory, and the block names its host directory literally
    # (paths.ONE_HOST_DIR), for the libraries and editors that expand no %l (sshconfig/pernode.py decides)
    per_node: bool = True
    # the words that start the ProxyCommand when not the console script alone: `<python> -I -S <launcher>`
    # (proxycmd/ourcommands.py, quick_start: no site.py on every connection)
    quick_start: Optional[Tuple[str, ...]] = None


# ----- job entries --------------------------------------------------------------------------------------------
def _dns_labels(name: str) -> bool:
    labels = name.split(".")
    return (not labels[0].isdigit()) and all(
        0 < len(label) <= 63 and label[0] != "-" and label[-1] != "-"
        and all(c.isascii() and (c.isalnum() or c == "-") for c in label)
        for label in labels)


def job_hostname(job: JobInfo, settings: Settings) -> Optional[str]:
    """The host name that reaches *job*, or None when it cannot be written as one.

    The schedd is spelled out only when the job names one other than the configured default.
    """
    schedd = job.schedd if job.schedd and job.schedd != settings.schedd else None
    return hostname_of(job, settings.suffix, schedd)


def hostname_of(job: JobInfo, suffix: str, schedd: Optional[str]) -> Optional[str]:
    """``C.P[.SCHEDD].SUFFIX`` for *job*, or None when it cannot be written as one."""
    if not (1 <= job.cluster <= MAX_ID and 0 <= job.proc <= MAX_ID):
        return None
    parts = [str(job.cluster), str(job.proc)]
    if schedd:
        schedd = schedd.lower()
        if not _dns_labels(schedd):
            return None
        parts.append(schedd)
    parts.append(suffix)
    name = ".".join(parts)
    return name if len(name) <= MAX_HOSTNAME else None


def _clean(value: str) -> str:
    """One comment field: printable, one line, not too long (a job's name must not end the comment)."""
    if not value.isprintable():
        value = "".join(c if c.isprintable() else " " for c in value)
    value = " ".join(value.split())
    return value if len(value) <= COMMENT_FIELD_MAX else value[: COMMENT_FIELD_MAX - 3] + "..."


def _describe(job: JobInfo, now: Optional[float]) -> str:
    fields = []
    if job.batch_name:
        fields.append(f"batch: {_clean(job.batch_name)}")
    if job.cmd:
        fields.append(f"cmd: {_clean(job.cmd)}")
    if job.remote_host and job.status in ON_A_HOST:  # an idle job's RemoteHost is stale or a placeholder
        fields.append(f"on: {_clean(job.remote_host)}")
    state = _clean(job.status) or "unknown"
    if job.since is not None:
        since = job.since if now is None else min(job.since, now)
        state += time.strftime(" since %Y-%m-%d %H:%M UTC", time.gmtime(since))
    if job.hold_reason:
        state += f" ({_clean(job.hold_reason)})"
    fields.append(state)
    return " | ".join(fields)


def render_hosts(jobs: Iterable[JobInfo], settings: Settings, now: Optional[float] = None) -> str:
    """One ``Host`` entry per job, sorted by schedd and job id; jobs without a usable name are left out."""
    return render_listed(((job, settings.suffix, job.schedd if job.schedd != settings.schedd else None)
                          for job in jobs), settings, now)


def render_listed(listed: Iterable[Tuple[JobInfo, str, Optional[str]]], settings: Settings,
                  now: Optional[float] = None) -> str:
    """One ``Host`` entry per (job, suffix, schedd spelled in the name or None): the default suffix first,
    then by suffix, schedd and job id; jobs without a usable name are left out."""
    named: Dict[str, Tuple[Tuple[bool, str, str, int, int], JobInfo]] = {}
    for job, suffix, schedd in listed:
        name = hostname_of(job, suffix, schedd)
        if name is not None and name not in named:
            named[name] = ((suffix != settings.suffix, suffix, schedd or "", job.cluster, job.proc), job)
    entries = sorted(named.items(), key=lambda item: item[1][0])
    return "".join(f"Host {name}\n{INDENT}# {_describe(job, now)}\n" for name, (_, job) in entries)


def render_profile_hosts(names: Iterable[str], settings: Settings) -> str:
    """One ``Host`` entry per profile (``gpu.job.condor``), so VS Code lists it before any job of it exists."""
    return "".join(f"Host {name}.{settings.suffix}\n{INDENT}# profile: {name} | a job on demand from profiles/{name}.sub\n"
                   for name in sorted(set(names)) if is_profile_name(name))


# ----- rules: one loop over the declarations (options.py), in their order ------------------------------------
def _routes(settings: Settings) -> List[Route]:
    """The main suffix's route and every extra one; a suffix that lies under another (ap2.job.condor under
    job.condor) comes first, since ssh keeps the first ProxyCommand that matches."""
    routes = [Route(settings.suffix, settings.schedd, settings.pool)] + list(settings.routes)
    suffixes = [route.suffix for route in routes]

    def depth(suffix: str) -> int:
        return sum(1 for other in suffixes if suffix.endswith("." + other))

    return sorted(routes, key=lambda route: -depth(route.suffix))


# names the ProxyCommand's single quotes cannot hold: a quote ends them, and csh/tcsh expand a `!` inside them
NOT_OURS = "!*'*,!*!*"  # negated patterns of the host list
UNSAFE_USERS = "*'*,*!*"


def proxy_start_words(ctx: RenderContext) -> List[str]:
    """The ProxyCommand's first words: the console script, or the quick start (its flags unquoted)."""
    start = ctx.quick_start or (ctx.proxy,)
    return [word if word in ("-I", "-S") else shell_word(word, "proxy path") for word in start]


def render_rules(ctx: RenderContext) -> str:
    """The Match pairs for every suffix, then ``Match all``: everything in the block but the jobs.  Each
    part of options.py adds its ProxyCommand words and its lines of every section, in declaration order."""
    s = ctx.settings
    shared = "".join(f"{INDENT}{line}\n" for part in OPTIONS if part.ssh for line in part.ssh(ctx, s))
    out = []
    for route in _routes(s):
        words = proxy_start_words(ctx)
        words += [word for part in OPTIONS if part.proxy for word in part.proxy(ctx, s, route)]
        words += ["--login", "'%r'", "'%h'"]
        hosts = f'"*.{route.suffix},*.{route.suffix}."'  # any case (match_hostname), with or without the trailing dot
        ours = f'"*.{route.suffix},*.{route.suffix}.,{NOT_OURS}"'  # the same, but never a name with ' or !
        out.append(f'Match host {hosts} user "{UNSAFE_USERS}"\n{INDENT}ProxyCommand none\n')
        out.append(f'Match host {ours}\n{INDENT}ProxyCommand {" ".join(words)}\n')
        out.append(shared)
    out.append("Match all\n")
    return "".join(out)


def render_block(ctx: RenderContext, jobs: Sequence[JobInfo] = (), *, hosts: Optional[str] = None) -> str:
    """The whole managed block, markers included, with LF line ends.

    *hosts* is job entries already rendered (as `setup` finds them in the file): given, it is used as is
    and *jobs* is ignored.
    """
    head = BEGIN + "\n" + (CREATED_NOTE + "\n" if ctx.created_file else "")
    body = hosts if hosts is not None else render_hosts(jobs, ctx.settings, ctx.now)
    return head + body + render_rules(ctx) + END + "\n"
