"""The ProxyCommand's data path, top-down: host name -> backend -> (profile job) -> session -> agent ->
hand-over.  proxycmd/cli.py parses the options and turns what is raised here into one line and an exit
status; everything else a connection does is in `connect`, in the order it happens.

Every module is imported where its step begins, so a connection loads only what its path needs (the
simulated pool's client or condor_ssh_to_job's, never both; ondemand.py only for a profile host name).
"""

from __future__ import annotations

import os
import sys
import time

from .errors import ProxyError, UsageError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    import argparse
    from typing import Callable, List, Optional

    from .backends import Backend
    from .hostname import JobAddress
    from .session import Session

FROM_SOCKET_TIMEOUT = 5.0  # seconds; the classic shim sends the connection at once


def connect(args: argparse.Namespace) -> int:
    """Reach the job args.host names and give ssh the connection; the exit status."""
    marks = [("start", time.monotonic())]
    from . import paths, waiting

    addr = parse_host(args)                                                          # host name
    rundir = paths.ensure_runtime_path(args.runtime_dir) if args.runtime_dir else paths.runtime_dir()  # str: no pathlib
    if args.one_host and not paths.one_host(rundir):  # its marker went (`rm -rf ~/.ssh/cjp/*`): the block still
        paths.set_one_host(rundir, True)               # names DIR/local, so the agent must serve there again
    backend = open_backend(args, addr)                                               # -> backend
    addr, attempt = session_opener(args, addr, backend, rundir)                      # -> (profile job)
    what = f"job {addr.classic_id}" + (f" (profile {addr.profile})" if addr.profile else "")
    parent = os.getppid()  # the ssh process we work for
    marks.append(("ready", time.monotonic()))
    from .sshparent import has_terminal

    limit = waiting.limit_for(args.wait_timeout, has_terminal())
    _prefetch()
    session = waiting.open_with_wait(                                                # -> session
        attempt, what=what, wait=args.wait, interval=args.poll or backend.retry_interval, timeout=limit,
        quick_while_starting=not args.poll, should_stop=lambda: waiting.peer_gone(1, parent),
        progress=waiting.Progress(what, mirror=_log_to_ssh, limit=limit))
    marks.append(("session", time.monotonic()))
    from .terminal import say_if_no_terminal  # can a shell get a terminal? (proxycmd/terminal.py)

    say_if_no_terminal(parent, session.sock, bool(args.sim))
    try:
        check_login(args, session, what)
        relayed = args.relay or args.identity_fifo or not _parent_wants_fd()
        if args.identity_fifo:  # a client that reads the key file itself (an editor config): no agent
            registered, held = True, serve_key_fifo(args, session, rundir, parent)   # -> FIFO, once
        else:
            registered, held = register_key(args, session, rundir, parent, relayed)  # -> agent
        if not registered:
            return 1
        marks.append(("register", time.monotonic()))
        if args.timings:
            print_timings(marks)
        try:
            code = hand_over(session.sock, relayed, relay_watch(held, session.host_key))  # -> hand-over
        finally:
            if held is not None:
                held.close()  # the relay ended: so does its session (also when we are killed: the kernel closes it)
        session.close(wait=relayed)  # ssh starts the key exchange only once we have exited: no waiting here
        return code
    finally:
        session.close()


def _prefetch() -> None:
    """Import what the steps after the session need in a thread of their own, while this one waits for the
    session (condor_ssh_to_job takes 50 ms and more, mostly waiting for the pool): the agent's client alone
    takes about 3 ms to import, which the hand-over then no longer waits for.  The raw _thread module:
    threading's own import would cost about what this saves."""
    import _thread

    def load() -> None:
        try:
            from . import handoff, terminal  # noqa: F401
            from .agent import client  # noqa: F401
        except BaseException:  # noqa: BLE001 - the steps import them again, and say what is wrong
            pass

    _thread.start_new_thread(load, ())


# ----- the steps, in order -----------------------------------------------------------------------------------
def parse_host(args: argparse.Namespace) -> JobAddress:
    from . import hostname

    try:
        return hostname.parse(args.host, args.suffix or [hostname.DEFAULT_SUFFIX])
    except hostname.HostnameError as exc:
        raise UsageError(str(exc)) from None


def open_backend(args: argparse.Namespace, addr: JobAddress) -> Backend:
    """The place the options name (--sim, --via, else HTCondor here), at the schedd the host name or
    --schedd names."""
    from . import backends

    return backends.open_backend(sim_root=args.sim, schedd=args.schedd or addr.schedd, pool=args.pool,
                                 via=args.via, via_config=args.via_config, pool_only=args.pool_only)


def session_opener(args: argparse.Namespace, addr: JobAddress, backend: Backend, rundir) \
        -> "tuple[JobAddress, Callable[[], Session]]":
    """The job to reach and a function that opens one session to it.  A profile host name (gpu.job.condor)
    becomes its profile's job, submitted first when there is none (ondemand.py)."""
    keygen = split_words(args.keygen_options, "--keygen-options")
    shells = [s for s in args.shells.split(",") if s]

    def open_session(job: JobAddress) -> Session:
        return backend.open_session(job, keygen_options=keygen, shells=shells)

    if not addr.profile:
        return addr, lambda: open_session(addr)
    from .ondemand import profile_opener

    return profile_opener(addr, backend, rundir, open_session)


def check_login(args: argparse.Namespace, session: Session, what: str) -> None:
    """ssh's user (%r) must be the job's account, unless the execute node maps any name (condor-user)."""
    if args.login and session.user != "condor-user" and args.login != session.user:
        import shlex  # the name comes from the pool or the access point: pasting the command runs nothing else

        raise ProxyError(f"{what} runs as user {session.user!r} on the execute node, not {args.login!r}; "
                         f"connect with: ssh {shlex.quote(f'{session.user}@{args.host}')}")


def _parent_wants_fd() -> bool:
    from .handoff import parent_wants_fd

    return parent_wants_fd(0, 1)


def register_key(args: argparse.Namespace, session: Session, rundir, parent: int, relayed: bool):
    """Give the agent the session's key and host key under ssh's pid: (False, None) when ssh is gone
    already, else (True, the agent connection that holds a relayed session or None).  A relayed client
    may be a library making many connections from one process: its session then lives as long as this
    relay, held by the connection register returns (agent/registry.py)."""
    from . import paths, waiting
    from .agent.client import register

    upstream = master = None
    if args.forward_agent:
        from .upstream import user_agent_socket

        upstream = user_agent_socket(parent, ours=str(paths.agent_socket(rundir)))
        if upstream and args.login:  # ssh may background a ControlMaster that forwards for it (ControlPersist)
            from .agent.client import control_name

            master = control_name(args.host, args.port, args.login)
    if parent <= 1 or waiting.peer_gone(1, parent):
        return False, None  # ssh is gone (killed before the hand-over): register nothing, nobody to tell
    try:
        held = register(rundir, pid=parent, host=known_hosts_name(args.host, args.port), host_key=session.host_key,
                        private_key=session.private_key, upstream=upstream, relayed=relayed,
                        shared_known_hosts=args.shared_known_hosts, master=master)
    except ProxyError:
        if waiting.peer_gone(1, parent):  # the agent refused because ssh died meanwhile
            return False, None
        raise
    if relayed:  # we hold the session key for as long as we relay: no core dump, no same-user ptrace
        from .agent.harden import forbid_inspection

        forbid_inspection()
    return True, held


def serve_key_fifo(args: argparse.Namespace, session: Session, rundir, parent: int):
    """--identity-fifo: serve the key once through a FIFO at the host's IdentityFile (identityfifo.py); a
    failure is said in one line and ends the session (the client cannot authenticate without the key)."""
    import socket

    from . import identityfifo

    def failed(problem: str) -> None:
        line = f"condor-job-proxy: {problem}"
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
        try:
            from .failures import record

            record(args.host, line, where=_where(args))
        except (OSError, ValueError, ProxyError):
            pass
        try:
            session.sock.shutdown(socket.SHUT_RDWR)  # the relay ends
        except OSError:
            pass

    from .agent.harden import forbid_inspection

    forbid_inspection()  # as a relay holding a key: no core dump, no same-user look at our /proc/PID/fd
    from pathlib import Path

    return identityfifo.serve_key(Path(rundir), args.host, parent, session.private_key, failed)


def _where(args: argparse.Namespace) -> str:
    from .failures import where_key

    return where_key(sim_root=args.sim, via=args.via, schedd=args.schedd, pool=args.pool)


def relay_watch(held, host_key: str):
    """What the relay must look for in the job sshd's key exchange: the signature that binds the session's
    key to this connection (agent/exchange.py); None when nothing relays or the agent takes no binding."""
    if held is None or not held.binds:
        return None
    import base64

    from .agent.exchange import ExchangeWatch

    return ExchangeWatch(base64.b64decode(host_key.split()[1]), held.bind)


def hand_over(sock, relay: bool, watch=None) -> int:
    from . import handoff

    try:
        return handoff.hand_over(sock, relay_wanted=relay, watch=watch)
    except handoff.SshGone:
        return 1


# ----- --from-socket -----------------------------------------------------------------------------------------
def take_over(args: argparse.Namespace) -> int:
    """--from-socket: receive a connection someone else opened (the classic shim) and pass it on."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as channel:
        channel.settimeout(FROM_SOCKET_TIMEOUT)  # a socket that never sends must not hang ssh
        try:
            channel.connect(args.from_socket)
            _, fds, _, _ = socket.recv_fds(channel, 1, 1)
        except socket.timeout:
            raise ProxyError(f"no session connection arrived on {args.from_socket} within "
                             f"{FROM_SOCKET_TIMEOUT:g} seconds") from None
        except OSError as exc:
            raise ProxyError(f"cannot take the session from {args.from_socket}: {exc.strerror or exc}") from None
    if len(fds) != 1:
        raise ProxyError(f"no session connection arrived on {args.from_socket}")
    conn = socket.socket(fileno=fds[0])
    try:
        return hand_over(conn, args.relay)
    finally:
        conn.close()


# ----- small helpers -----------------------------------------------------------------------------------------
def known_hosts_name(host: str, port: int) -> str:
    host = host.lower()
    return host if port == 22 else f"[{host}]:{port}"


_PLAIN_WORDS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 \t\r\n-_.,:=/+@%")


def split_words(text: str, option: str) -> List[str]:
    if _PLAIN_WORDS.issuperset(text):  # no quote, escape or other blank: shlex.split would split on blanks alone
        return text.split()
    import shlex  # shlex imports re: 9 ms of CPU, for the default '-t ecdsa -b 256' on every connection

    try:
        return shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"bad {option} {text!r}: {exc}") from None


def _log_to_ssh(text: str) -> None:
    from .disconnect import log_to_ssh

    log_to_ssh(text)


def print_timings(marks) -> None:
    """The steps' wall-clock times, then this process's own CPU since exec (user + system, interpreter start
    included, children such as condor_ssh_to_job not): what bench/bench_condor.py reports per connection."""
    import resource

    steps = ", ".join(f"{name} {1000 * (t - marks[i][1]):.1f} ms" for i, (name, t) in enumerate(marks[1:]))
    own = resource.getrusage(resource.RUSAGE_SELF)
    sys.stderr.write(f"condor-job-proxy: timings: {steps}, cpu {1000 * (own.ru_utime + own.ru_stime):.1f} ms\n")
