"""The options of `condor-ssh-to-job`, read as HTCondor's own tool reads them, and the program's argv.

Pure functions, no I/O: ``parse(argv)`` turns the command line into a ClassicRequest (or raises UsageError
with one line, or ShowHelp), and ``program_argv`` builds what runs once a session is open.

As in HTCondor's tool, options come before the job id and everything after it is the remote command; an
option may be abbreviated to any leading part of its name (the first name in the tool's order wins, so
``-s`` is ``-ssh``); ``--`` ends the options.  ``-ssh`` takes a whole command line in HTCondor's argument
syntax (ArgList "V2"): words are separated by spaces, a single-quoted part keeps its spaces, and ``''``
inside single quotes is one literal quote.  ``-l USER`` is accepted because rsync passes it
(``rsync -e condor-ssh-to-job user@32.0:file .`` runs ``condor-ssh-to-job -l user 32.0 rsync --server ...``).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from proxycmd import condorargs
from proxycmd.errors import UsageError
from proxycmd.hostname import HostnameError, JobAddress, parse_job_id
from proxycmd.sessionkey import DEFAULT_KEYGEN_OPTIONS

PROG = "condor-ssh-to-job"

# In the order HTCondor's tool tries them: an abbreviation means the first name it begins.
OPTIONS = ("debug", "help", "name", "pool", "ssh", "keygen-options", "auto-retry", "remove-on-interrupt", "shells",
           "version")  # version: ours (HTCondor's tools take -version), last so no abbreviation changes
_WITH_VALUE = frozenset({"name", "pool", "ssh", "keygen-options", "shells"})

USAGE = f"""\
Usage: {PROG} [OPTIONS]
         {{ cluster | cluster.proc | cluster.proc.node }} [command]

Open an ssh session to a running HTCondor job, as HTCondor's condor_ssh_to_job
does: an interactive shell in the job's directory and environment, or the
command given.

OPTIONS:
 -help                     (print this text and exit)
 -version                  (print the version and exit; --version works too)
 -debug                    (say on stderr what is run, and where the key lives)
 -name schedd-name         (the job's schedd; default: as `condor-job-ssh setup`
                           saved it)
 -pool pool-name           (the collector to ask; default: as setup saved it)
 -auto-retry               (if job not running yet: keep trying until it runs)
 -remove-on-interrupt      (rm job on ctrl-c, also on SIGTERM or SIGHUP)
 -shells shell1,shell2,... (shells to try on the execute node; default: $SHELL)
 -ssh <alt ssh command>    (e.g. sftp or scp, or "ssh -v"; put words with
                           spaces in '...')
 -keygen-options <keygen options>
                           (ssh-keygen options for the session key; default
                           "{DEFAULT_KEYGEN_OPTIONS}", '' for the starter's own RSA key)
 -X                        (enable X11 forwarding)
 -x                        (disable X11 forwarding)
 -l user                   (accepted for rsync -e; the job's own account is
                           always used)
 --                        (end of the options; the job id follows)

Options may be abbreviated (-a for -auto-retry).  The job's shell starts in
the job's working directory with the job's environment; _CONDOR_JOB_PIDS lists
its pids.

Examples:
 {PROG} 32.0                         (interactive shell)
 {PROG} 32 'echo $_CONDOR_JOB_PIDS'  (one command; its exit status
                                                 is ours)
 {PROG} -ssh sftp 32.0               (sftp session)
 {PROG} -ssh scp 32 remote:out.dat . (any host name before ':')
 rsync -v -e {PROG} 32.0:out.dat .

How it works: this {PROG} runs through condor-job-proxy.  It opens
the session first (on HTCondor, or on the simulated pool `condor-job-ssh setup
--sim` recorded), writes the session's key and host key into a private
directory for this one run, runs ssh (or the -ssh program) with that key, and
hands the connection to it through `condor-job-proxy --from-socket`.  The
directory is removed when the program exits.  With `condor-job-ssh setup`
done, `ssh 32.0.job.condor` reaches the same job.

Exit status: the program's (for ssh: the remote command's); 1 when no session
could be made; 2 for a bad option or job id; 128+N when stopped by signal N.
"""


class ShowHelp(Exception):
    """-help was given: print USAGE and exit 0."""


class ShowVersion(Exception):
    """--version (or -version) was given: print the version and exit 0."""


@dataclass(frozen=True)
class ClassicRequest:
    job: JobAddress
    command: Tuple[str, ...] = ()  # the remote command words (for scp and rsync: their arguments)
    program: Tuple[str, ...] = ("ssh",)  # the -ssh command line, split: program and extra words
    schedd: Optional[str] = None
    pool: Optional[str] = None
    keygen_options: Tuple[str, ...] = tuple(DEFAULT_KEYGEN_OPTIONS.split())  # (): the starter's own default
    shells: Optional[Tuple[str, ...]] = None  # None: not given (the caller uses $SHELL, as HTCondor does)
    auto_retry: bool = False
    remove_on_interrupt: bool = False
    x11: bool = False
    debug: bool = False
    login: Optional[str] = None  # -l USER (from rsync); the session decides the user


# ----- HTCondor's argument syntax --------------------------------------------------------------------------
def split_v2(text: str) -> List[str]:
    """Split *text* as HTCondor's ArgList V2 does; ValueError names an unbalanced quote."""
    return condorargs.split_words(text)


def join_v2(args: Sequence[str]) -> str:
    """The inverse of split_v2: quote only the words that need it."""
    return " ".join(condorargs.quote_word(arg) for arg in args)


# ----- the command line ------------------------------------------------------------------------------------
def _option_name(word: str) -> Optional[str]:
    """The option *word* names: a leading part of a name ("--name" works too), first in OPTIONS order."""
    body = word[2:] if word.startswith("--") else word[1:]
    if not body or body.startswith("-"):
        return None
    return next((name for name in OPTIONS if name.startswith(body)), None)


def _job(text: str) -> JobAddress:
    try:
        return parse_job_id(text)
    except HostnameError:
        raise UsageError(f"Invalid job id: {text!r} (expected cluster, cluster.proc or cluster.proc.node, "
                         "e.g. 32.0)") from None


def _program(text: str) -> Tuple[str, ...]:
    try:
        words = split_v2(text)
    except ValueError as exc:
        raise UsageError(f"Failed to parse ssh options ({text}): {exc}") from None
    if not words or not words[0]:
        raise UsageError("-ssh needs a program, e.g. -ssh sftp or -ssh 'ssh -v'")
    return tuple(words)


def _keygen(text: str) -> Tuple[str, ...]:
    try:
        return tuple(shlex.split(text))
    except ValueError as exc:
        raise UsageError(f"bad -keygen-options {text!r}: {exc}") from None


def parse(argv: Sequence[str]) -> ClassicRequest:
    """Read the command line (without the program name); UsageError with one line when it is wrong."""
    values: dict = {}
    flags = {"debug": False, "auto-retry": False, "remove-on-interrupt": False}
    x11 = False
    login: Optional[str] = None
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            i += 1
            break
        if not word.startswith("-"):
            break  # the job id
        if word in ("-X", "-x"):
            x11 = word == "-X"
        elif word.startswith("-l"):
            if word != "-l":
                login = word[2:]
            elif i + 1 < len(argv):
                i += 1
                login = argv[i]
            else:
                raise UsageError("-l requires an argument")
        else:
            name = _option_name(word)
            if name is None:
                raise UsageError(f"Unrecognized argument: {word} (see {PROG} -help)")
            if name == "help":
                raise ShowHelp()
            if name == "version":
                raise ShowVersion()
            if name in _WITH_VALUE:
                if i + 1 >= len(argv):
                    raise UsageError(f"-{name} requires an argument")
                i += 1
                values[name] = argv[i]
            else:
                flags[name] = True
        i += 1
    if i >= len(argv):
        raise UsageError(f"You must specify a job! (usage: {PROG} [OPTIONS] cluster[.proc[.node]] [command]; "
                         f"see {PROG} -help)")
    shells = values.get("shells")
    return ClassicRequest(
        job=_job(argv[i]),
        command=tuple(argv[i + 1:]),
        program=_program(values["ssh"]) if "ssh" in values else ("ssh",),
        schedd=values.get("name") or None,
        pool=values.get("pool") or None,
        keygen_options=_keygen(values.get("keygen-options", DEFAULT_KEYGEN_OPTIONS)),
        shells=None if shells is None else tuple(s for s in shells.split(",") if s),
        auto_retry=flags["auto-retry"],
        remove_on_interrupt=flags["remove-on-interrupt"],
        x11=x11,
        debug=flags["debug"],
        login=login,
    )


# ----- what runs ---------------------------------------------------------------------------------------------
def host_word(job: JobAddress) -> str:
    """The host name the program is given; only a label (the connection comes through the proxy)."""
    return f"condor-job.{job.classic_id}"


def proxy_command(proxy: str, fdpass: str, label: str) -> str:
    """The ProxyCommand: shell-quoted (ssh runs it with the shell) and with '%' doubled (ssh's tokens)."""
    words = [proxy, "--from-socket", fdpass, label]
    return " ".join(shlex.quote(word) for word in words).replace("%", "%%")


def program_argv(request: ClassicRequest, *, session_dir: str, user: str, proxy: str) -> List[str]:
    """The program's argv, in HTCondor's order: program, -ssh's extra words, -X, -S none (ssh only), the
    options that use this run's key and connection, the host (not for scp), then the remote command."""
    program, *extra = request.program
    base = os.path.basename(program)
    key = os.path.join(session_dir, "ssh_key")
    known_hosts = os.path.join(session_dir, "known_hosts")
    argv = [program, *extra]
    if request.x11:
        argv.append("-X")
    if base == "ssh":
        argv += ["-S", "none"]  # never join the user's ControlMaster: this key is for this one run
    argv += [
        f"-oUser={user}",
        f"-oIdentityFile={key}",
        "-oIdentitiesOnly=yes",
        "-oIdentityAgent=none",
        "-oStrictHostKeyChecking=yes",
        f"-oUserKnownHostsFile={known_hosts}",
        f"-oGlobalKnownHostsFile={known_hosts}",
        "-oUpdateHostKeys=no",
        "-oProxyCommand=" + proxy_command(proxy, os.path.join(session_dir, "fdpass"), host_word(request.job)),
        "-oProxyUseFdpass=yes",
        "-oControlMaster=no",
        "-oControlPath=none",
    ]
    if base != "scp":
        argv.append(host_word(request.job))
    argv += request.command
    return argv
