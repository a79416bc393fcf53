"""`condor-job-proxy`: the OpenSSH ProxyCommand.

    ProxyCommand condor-job-proxy [options] '%h'

This module is the command line: options, the one-line errors and the exit status.  What a connection
does -- validate the host name, open an ssh session to the job (waiting while the job is idle), register
the session's key and host key with the per-user agent under the pid of the ssh process that started it,
and hand the connection to ssh (ProxyUseFdpass) or relay bytes -- is proxycmd/connect.py, top-down.

This runs on every connection, so it uses argparse and imports only what the chosen path needs
(typer and its rich help cost about 60 ms a start; htcondor2 and cryptography are loaded only where used).
argparse itself (with re, enum, gettext and locale, ~10 ms of CPU) is imported only when the command line
is anything but what a ProxyCommand line holds: `--option VALUE` and flags, spelled in full, and one host
(`_plain_args`); help, errors and every other form are argparse's.
"""

from __future__ import annotations

import os
import sys

from .errors import ProxyError, SessionRefused
from .sessionkey import DEFAULT_KEYGEN_OPTIONS

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    import argparse
    from typing import List, Optional

PROG = "condor-job-proxy"

DESCRIPTION = """\
Connect ssh to a running HTCondor job.  Used as an OpenSSH ProxyCommand:

    Host *.job.condor
        ProxyCommand condor-job-proxy --login '%r' '%h'
        ProxyUseFdpass yes

`condor-job-ssh setup` writes the complete block for you.  HOST is
CLUSTER[.PROC[.NODE]][.SCHEDD].job.condor, for example 32.0.job.condor, or
PROFILE[.SCHEDD].job.condor: your job for that profile (profiles/PROFILE.sub),
submitted when there is none (see `condor-job-ssh profile --help`).
"""

EPILOG = """\
examples:
  ssh 32.0.job.condor                       (through the block setup wrote)
  condor-job-proxy --relay 32.0.job.condor  (by hand: shows the sshd's banner)
  condor-job-proxy agent                    (the key agent, in the foreground)

exit status: 0 when the connection was handed over, 1 when no session could be
made, 2 for a bad host name or option, 130 when interrupted.  When no session
can be made, ssh is told why too (an SSH disconnect): it prints the sentence
and exits 255."""


def _seconds(text: str) -> float:
    """A finite, non-negative number of seconds (float() alone takes nan and inf: a wait that never ends)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 <= value < float("inf")):
        import argparse

        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (use a number, 0 or more)")
    return value


def _positive_seconds(text: str) -> float:
    value = _seconds(text)
    if value <= 0:
        import argparse

        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def _formatter(prog: str) -> argparse.HelpFormatter:
    """argparse's formatter with the width found here: argparse's own way imports shutil (milliseconds on
    every connection, since add_argument makes a formatter even when no help is shown)."""
    try:
        width = int(os.environ.get("COLUMNS", "0")) or os.get_terminal_size(1).columns
    except (ValueError, OSError):
        width = 80
    import argparse

    return argparse.RawDescriptionHelpFormatter(prog, width=max(width, 40) - 2)


def build_parser() -> argparse.ArgumentParser:
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # one line, not argparse's usage block
            _fail(f"{message} (see {PROG} --help)", 2)

        def _print_message(self, message: str, file=None) -> None:  # argparse's own drops a refused write
            if message:
                (file or sys.stderr).write(message)

    p = _Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG, formatter_class=_formatter)
    p.add_argument("host", metavar="HOST", help="job host name, e.g. 32.0.job.condor (ssh's %%h)")
    where = p.add_argument_group("where the job is")
    where.add_argument("--sim", metavar="DIR", help="use the simulated pool rooted at DIR instead of HTCondor")
    where.add_argument("--schedd", metavar="NAME", help="schedd to ask (default: the one in HOST, else the local one)")
    where.add_argument("--pool", metavar="HOST[:PORT]", help="collector to ask (default: from HTCondor config)")
    where.add_argument("--pool-only", action="store_true", help="the pool names no schedd (a route SUFFIX=@POOL): "
                       "use the one schedd its collector knows, never the local one")
    where.add_argument("--via", metavar="DEST", help="reach the jobs through the access point DEST (an ssh Host alias "
                       "or user@host), with ssh; nothing to install there but HTCondor")
    where.add_argument("--via-config", metavar="PATH", help="the ssh config file for DEST (ssh -F; default: ssh's own)")
    where.add_argument("--suffix", metavar="SUFFIX", action="append",
                       help="host name suffix to accept (repeatable; default job.condor)")
    conn = p.add_argument_group("connection")
    conn.add_argument("--login", metavar="USER", help="the user ssh will log in as (ssh's %%r); checked against the "
                      "job's account")
    conn.add_argument("--port", type=int, default=22, help="ssh's %%p, for the known_hosts entry (default 22)")
    conn.add_argument("--relay", action="store_true", help="relay bytes instead of handing the connection to ssh")
    conn.add_argument("--runtime-dir", metavar="DIR", help="private directory of ssh's shared connections, with the "
                      "agent's sockets and known_hosts in DIR/host-<this host's name> (default: ~/.ssh/cjp; it must "
                      "pass the safe-chain check, see docs/security.md)")
    conn.add_argument("--one-host", action="store_true", help="the runtime directory is this machine's alone: the "
                      "agent's sockets and known_hosts are in DIR/local, the literal paths the block names")
    conn.add_argument("--shared-known-hosts", action="store_true",
                      help="ssh reads one known_hosts file for every login node sharing this home (OpenSSH before "
                      "8.4): the agent merges this host's lines into it")
    conn.add_argument("--forward-agent", action="store_true",
                      help="let the agent also offer your own ssh-agent's keys to this ssh (for ForwardAgent)")
    conn.add_argument("--identity-fifo", action="store_true",
                      help="for a client that reads its IdentityFile itself (an editor config): hand the session key "
                      "over once through a FIFO at <runtime dir>/host-<this host>/editor/HOST, to the process that "
                      "started the proxy only, instead of registering it with the agent")
    conn.add_argument("--from-socket", metavar="PATH", help="take an already opened session's connection from the "
                      "unix socket PATH (one SCM_RIGHTS message) instead of opening one; HOST is then only a label")
    conn.add_argument("--keygen-options", metavar="OPTS", default=DEFAULT_KEYGEN_OPTIONS,
                      help=f"extra ssh-keygen options for the session key (default: '{DEFAULT_KEYGEN_OPTIONS}', "
                      "a few ms where RSA takes 0.3 s or more; '' leaves the starter's own default)")
    conn.add_argument("--shells", metavar="A,B", default="", help="preferred shells on the execute node")
    wait = p.add_argument_group("waiting")
    wait.add_argument("--no-wait", dest="wait", action="store_false",
                      help="fail at once when the job is not running yet (default: wait)")
    wait.add_argument("--wait-timeout", type=_seconds, metavar="SECONDS",
                      help="give up waiting after SECONDS; 0: no limit (default: no limit "
                      "from a terminal, 2 hours without one)")
    wait.add_argument("--poll", type=_positive_seconds, metavar="SECONDS",
                      help="seconds between tries while waiting")
    p.add_argument("--timings", action="store_true", help="print where the start-up time went, on stderr")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    return p


class _Args:
    """The options as argparse.Namespace gives them (attributes), for `_plain_args`."""

    def __init__(self, **values) -> None:
        self.__dict__.update(values)


# What build_parser gives when an option is absent, and how `_plain_args` reads each option it takes: a
# converter of the value, or the constant a flag stores.  tests/test_cli_fast.py holds both to argparse's.
_DEFAULTS = dict(sim=None, schedd=None, pool=None, pool_only=False, via=None, via_config=None, suffix=None,
                 login=None, port=22, relay=False, runtime_dir=None, one_host=False, shared_known_hosts=False, forward_agent=False,
                 identity_fifo=False, from_socket=None, keygen_options=DEFAULT_KEYGEN_OPTIONS, shells="", wait=True,
                 wait_timeout=None, poll=None, timings=False)
_VALUE, _APPEND = str, list
_OPTIONS = {"--sim": ("sim", _VALUE), "--schedd": ("schedd", _VALUE), "--pool": ("pool", _VALUE),
            "--pool-only": ("pool_only", True), "--via": ("via", _VALUE), "--via-config": ("via_config", _VALUE),
            "--suffix": ("suffix", _APPEND), "--login": ("login", _VALUE), "--port": ("port", int),
            "--relay": ("relay", True), "--runtime-dir": ("runtime_dir", _VALUE),
            "--one-host": ("one_host", True),
            "--shared-known-hosts": ("shared_known_hosts", True), "--forward-agent": ("forward_agent", True),
            "--identity-fifo": ("identity_fifo", True), "--from-socket": ("from_socket", _VALUE),
            "--keygen-options": ("keygen_options", _VALUE), "--shells": ("shells", _VALUE),
            "--no-wait": ("wait", False), "--wait-timeout": ("wait_timeout", _seconds),
            "--poll": ("poll", _positive_seconds), "--timings": ("timings", True)}


def _plain_args(argv: List[str]) -> Optional[_Args]:
    """The options as argparse would parse them, for a command line of the plain form only (full option
    names, `--option VALUE` with a VALUE that starts with no '-', flags, one HOST that starts with no '-');
    None for anything else, which argparse then parses (and words any error of)."""
    values, host, i = dict(_DEFAULTS), None, 0
    while i < len(argv):
        word = argv[i]
        i += 1
        if not word.startswith("-"):
            if host is not None:
                return None
            host = word
            continue
        dest, kind = _OPTIONS.get(word, (None, None))
        if dest is None:
            return None  # --help, --version, --opt=value, an abbreviation, "--", a typo: argparse's
        if isinstance(kind, bool):
            values[dest] = kind
            continue
        if i == len(argv) or argv[i].startswith("-"):
            return None
        value = argv[i]
        i += 1
        if kind is _APPEND:
            values[dest] = (values[dest] or []) + [value]
        else:
            try:
                values[dest] = kind(value)
            except Exception:  # a bad number: argparse says so
                return None
    return None if host is None else _Args(host=host, **values)


def _parse(argv: List[str]) -> argparse.Namespace:
    """argparse's reading of *argv*; its --help and --version text refused by standard output (>/dev/full)
    is one line and status 1, not a silent 0."""
    try:
        return build_parser().parse_args(argv)
    except SystemExit:  # after the help or the version: out with it now, to say a refusal
        try:
            sys.stdout.flush()
        except OSError as exc:
            refused = exc
        else:
            raise
    except OSError as exc:
        refused = exc
    sys.stderr.write(f"{PROG}: cannot write the output: {refused.strerror or refused}\n")
    sys.stderr.flush()
    os._exit(1)


def _version() -> str:
    from . import __version__

    return __version__


def _reach_the_user() -> None:
    """With ControlPersist on, ssh gives us stderr on /dev/null: write to ssh's own stderr (or the terminal)
    instead, so the progress while a job is idle reaches scripts and cron too (proxycmd/sshparent.py)."""
    from .sshparent import reach_ssh_stderr

    reach_ssh_stderr()


def _closed_standard_fds() -> List[int]:
    """Which of descriptors 0, 1 and 2 were closed, each now open on /dev/null: else the next socket we
    open would take its number, and the relay would read and write the job's connection as if it were
    ssh's (as ssh does in sanitise_stdfd)."""
    closed = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.append(fd)
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if 2 in closed and sys.stderr is None:  # Python starts without sys.stderr then
        sys.stderr = open(2, "w", closefd=False)
    return closed


def main(argv: Optional[List[str]] = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    closed = _closed_standard_fds()
    args = None if argv[:1] == ["agent"] else _plain_args(argv)
    if args is not None and 0 not in closed and 1 not in closed:
        from .backends.condor import early  # condor_ssh_to_job runs while the rest loads

        early.start(args)
    _reach_the_user()
    if argv[:1] == ["agent"]:
        from .agent.main import main as agent_main

        sys.exit(agent_main(argv[1:]))
    args = args or _parse(argv)
    if 0 in closed or 1 in closed:
        names = " and ".join(("standard input", "standard output")[fd] for fd in closed if fd < 2)
        _fail(f"{names} {'are' if ' and ' in names else 'is'} closed, and condor-job-proxy talks to ssh on "
              "them: run it as ssh's ProxyCommand (`condor-job-ssh setup` writes the block)", 2)
    where = dict(sim_root=args.sim, via=getattr(args, "via", None), schedd=args.schedd, pool=args.pool)
    try:
        from . import connect

        code = connect.take_over(args) if args.from_socket else connect.connect(args)
    except SessionRefused as exc:
        from .advice import advise_for

        _fail(_near_miss(str(advise_for(exc, args, lambda: _running_jobs(args))), args), exc.exit_code,
              host=args.host, where=where)
    except ProxyError as exc:
        _fail(_near_miss(str(exc), args), exc.exit_code, host=args.host, where=where)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    sys.stderr.flush()
    os._exit(code)  # nothing left to clean up; ssh is waiting for us to exit


def _near_miss(message: str, args: argparse.Namespace) -> str:
    """*message*, with the job host name a near miss probably meant (proxycmd/nearmiss.py)."""
    from .nearmiss import hint

    return hint(message, args.host, args.suffix or ())


def _running_jobs(args: argparse.Namespace) -> List[str]:
    """The user's running job ids where the proxy looked (for a job that is not in the queue)."""
    from . import hostname
    from .backends import open_backend

    addr = hostname.parse(args.host, args.suffix or [hostname.DEFAULT_SUFFIX])
    backend = open_backend(sim_root=args.sim, schedd=args.schedd or addr.schedd, pool=args.pool,
                           via=getattr(args, "via", None), via_config=getattr(args, "via_config", None),
                           pool_only=args.pool_only)
    return [f"{job.cluster}.{job.proc}" for job in backend.list_jobs()]


def _fail(message: str, code: int, host: Optional[str] = None, where: Optional[dict] = None) -> None:
    """Say *message* once: as ssh's own `Received disconnect ...` line when ssh will print it, else on our
    stderr (a person running us by hand, `ssh -q`, a client other than OpenSSH)."""
    from .said import flat, lines as said_lines

    lines = said_lines(message)  # each one printable line; several only where another program's words are kept
    line = f"{PROG}: {flat(message)}"  # ssh's disconnect and doctor's record: one line, as the sentence reads
    shown = False
    if code != 130:  # not when interrupted: ssh was interrupted too, or is gone
        from .failures import report, where_key
        from .handoff import parent_wants_fd
        from .sshparent import prints_disconnect

        fd_mode = parent_wants_fd(0, 1)
        told = report(line, host, where_key(**(where or {})))  # through ssh itself, and for `doctor`
        # said once: ssh prints the disconnect (cut to OpenSSH's 400 bytes, as advice.py fits a hint), so we
        # write nothing more, even where the line is longer (a flood of another program's words)
        shown = told and prints_disconnect(os.getppid(), fd_mode)
    if not shown:  # on stderr, another program's line breaks are kept
        sys.stderr.write(f"{PROG}: {lines[0]}\n" + "".join(f"  {more}\n" for more in lines[1:]))
        sys.stderr.flush()
    os._exit(code)
