"""Settings and jobs -> the managed ssh_config block.  Pure: no I/O, no clock, no environment.

The block comes first in the user's file because ssh keeps the first value it finds for each option, so
ours beat a later ``Host *``.  Its shape (see DESIGN §2 for the quoting)::

    BEGIN marker
    Host 32.0.job.condor                      one per synced job, so VS Code lists it
        # batch: ... | cmd: ... | on: ... | running since ...
    Match host "*.job.condor,*.job.condor." user "*'*"    a user name with a quote gets no proxy at all
        ProxyCommand none
    Match host "*.job.condor,*.job.condor.,!*'*"   a host name with a quote is not ours
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
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from proxycmd.hostname import DEFAULT_SUFFIX, MAX_HOSTNAME, MAX_ID
from proxycmd.paths import AGENT_SOCKET, CONTROL_NAME, HOST_DIR, KNOWN_HOSTS, ONE_HOST_DIR, SHARED_KNOWN_HOSTS
from proxycmd.session import JobInfo
from proxycmd.sessionkey import DEFAULT_KEYGEN_OPTIONS

from .quoting import config_path, shell_word
from .settings import Settings
from .splice import BEGIN, CREATED_NOTE, END

INDENT = "    "
# IdentityAgent makes ssh set SSH_AUTH_SOCK to our agent before it forwards, so `ForwardAgent yes` forwards
# our agent: the ProxyCommand's --forward-agent tells it where the user's own agent is, and it passes the
# user's keys on (proxycmd/upstream.py).  `ForwardAgent ${SSH_AUTH_SOCK}` is no way out: ssh rejects the
# whole file, for every host, when the variable is unset (checked at parse time even in unmatched blocks).
FORWARD_AGENT = "ForwardAgent yes"
NO_FORWARD_AGENT = "ForwardAgent no"
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
    from proxycmd.hostname import is_profile_name

    return "".join(f"Host {name}.{settings.suffix}\n{INDENT}# profile: {name} | a job on demand from profiles/{name}.sub\n"
                   for name in sorted(set(names)) if is_profile_name(name))


# ----- rules -----------------------------------------------------------------------------------------------------
def _routes(settings: Settings) -> List[Tuple[str, Optional[str], Optional[str]]]:
    """(suffix, schedd, pool) for the main suffix and every extra one; a suffix that lies under another
    (ap2.job.condor under job.condor) comes first, since ssh keeps the first ProxyCommand that matches."""
    routes = [(settings.suffix, settings.schedd, settings.pool)]
    routes += [(r.suffix, r.schedd, r.pool) for r in settings.routes]
    suffixes = [route[0] for route in routes]

    def depth(suffix: str) -> int:
        return sum(1 for other in suffixes if suffix.endswith("." + other))

    return sorted(routes, key=lambda route: -depth(route[0]))


def _seconds(value: float) -> str:
    """A number of seconds as one plain word: 600, not 600.0 or 6e+02."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _proxy_command(ctx: RenderContext, suffix: str, schedd: Optional[str], pool: Optional[str]) -> str:
    s = ctx.settings
    words = [shell_word(ctx.proxy, "proxy path"), "--runtime-dir", shell_word(ctx.runtime_dir, "runtime dir")]
    if s.sim_root:
        words += ["--sim", shell_word(s.sim_root, "sim root")]
    if schedd:
        words += ["--schedd", shell_word(schedd, "schedd")]
    if pool:
        words += ["--pool", shell_word(pool, "pool")]
    if pool and not schedd and suffix != s.suffix:  # a route naming only a pool: never the local schedd
        words.append("--pool-only")
    if suffix != DEFAULT_SUFFIX:
        words += ["--suffix", shell_word(suffix, "suffix")]
    if not s.wait:
        words.append("--no-wait")
    elif s.wait_timeout:
        words += ["--wait-timeout", _seconds(s.wait_timeout)]
    if ctx.shared_known_hosts and ctx.per_node:
        words.append("--shared-known-hosts")
    if s.forward_agent:
        words.append("--forward-agent")
    if s.keygen_options != DEFAULT_KEYGEN_OPTIONS:  # '' too: it turns the proxy's ECDSA default off
        if s.keygen_options.startswith("-") and len(s.keygen_options.split()) == 1:  # argparse would take '-q'
            words.append(shell_word(f"--keygen-options={s.keygen_options}", "keygen options"))  # for an option
        else:
            words += ["--keygen-options", shell_word(s.keygen_options, "keygen options")]
    if s.via and not s.sim_root:
        words += ["--via", shell_word(s.via, "via")]
        if ctx.ssh_config:
            words += ["--via-config", shell_word(ctx.ssh_config, "ssh config path")]
    words += ["--login", "'%r'", "'%h'"]
    return " ".join(words)


def _options(ctx: RenderContext) -> List[str]:
    """The options shared by every suffix (everything but the ProxyCommand)."""
    s, rundir = ctx.settings, ctx.runtime_dir
    # The agent's socket, and its known_hosts where ssh can name one per host, are in this login node's
    # own directory (%l: the local host name): a home shared by several nodes has one runtime directory.
    # Where one machine owns it, that directory is named literally (every path here is then absolute and
    # free of tokens but ControlPath's %C, which only OpenSSH uses).
    host = HOST_DIR if ctx.per_node else ONE_HOST_DIR
    known_hosts = SHARED_KNOWN_HOSTS if ctx.shared_known_hosts and ctx.per_node else f"{host}/{KNOWN_HOSTS}"
    options = [
        "ProxyUseFdpass yes",
        f"IdentityAgent {config_path(rundir, f'{host}/{AGENT_SOCKET}', 'runtime dir')}",
        "IdentityFile none",
        "IdentitiesOnly no",
        f"UserKnownHostsFile {config_path(rundir, known_hosts, 'runtime dir')}",
        "StrictHostKeyChecking yes",
        "UpdateHostKeys no",
        "CheckHostIP no",
    ]
    if s.multiplex:
        control = config_path(rundir, CONTROL_NAME, "runtime dir")
        options += ["ControlMaster auto", f"ControlPath {control}", f"ControlPersist {s.control_persist}"]
    else:
        # ControlPath none too: with only `ControlMaster no`, ssh still joins a master a later Host * names.
        options += ["ControlMaster no", "ControlPath none"]
    options += [
        f"ServerAliveInterval {s.server_alive_interval}",
        f"ServerAliveCountMax {s.server_alive_count_max}",
        f"ConnectTimeout {s.connect_timeout}",
        "LogLevel ERROR",
    ]
    if s.user:
        options.append(f"User {s.user}")
    # Always say it: without `ForwardAgent no` a user's own `Host *` `ForwardAgent yes` further down would
    # forward our agent (IdentityAgent) into the job.
    options.append(FORWARD_AGENT if s.forward_agent else NO_FORWARD_AGENT)
    return options


def render_rules(ctx: RenderContext) -> str:
    """The Match/Host pairs for every suffix, then ``Match all``: everything in the block but the jobs."""
    shared = "".join(f"{INDENT}{option}\n" for option in _options(ctx))
    out = []
    for suffix, schedd, pool in _routes(ctx.settings):
        hosts = f'"*.{suffix},*.{suffix}."'  # any case (match_hostname), with or without the trailing dot
        ours = f'"*.{suffix},*.{suffix}.,!*\'*"'  # the same, but never a name with a quote in it
        out.append(f'Match host {hosts} user "*\'*"\n{INDENT}ProxyCommand none\n')
        out.append(f'Match host {ours}\n{INDENT}ProxyCommand {_proxy_command(ctx, suffix, schedd, pool)}\n')
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
