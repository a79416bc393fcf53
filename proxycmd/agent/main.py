"""The agent's command line (``python -m proxycmd.agent``): options, logging, signals, then server.Agent."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import List, Optional

from .. import paths
from . import harden
from .server import Agent

log = logging.getLogger("proxycmd.agent")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        sys.stderr.write(f"condor-job-proxy agent: {message} (see condor-job-proxy agent --help)\n")
        sys.exit(2)


def _parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = _Parser(prog="condor-job-proxy agent",
                     description="Per-user ssh agent serving each ssh process its session key.")
    parser.add_argument("--runtime-dir", type=Path, default=None,
                        help="private runtime directory (default: the per-user one)")
    parser.add_argument("--idle-exit", type=float, default=300.0, metavar="SECONDS",
                        help="exit after this long with no sessions and no connections (0: never; default 300)")
    parser.add_argument("--shared-known-hosts", action="store_true",
                        help="merge this host's lines into the known_hosts file all login nodes share (for "
                        "OpenSSH before 8.4, which cannot name a file per host)")
    parser.add_argument("--max-host-key-lifetime", type=float, default=86400.0, metavar="SECONDS",
                        help="drop a session's known_hosts line after this long even if ssh still runs")
    args = parser.parse_args(argv)
    if args.max_host_key_lifetime <= 0:
        parser.error("--max-host-key-lifetime must be positive")
    return args


def _bound_the_log(rundir: Path) -> None:
    """From here on, log through a handler that keeps agent.log (our stderr, when started by a client)
    under its size limit (logfile.py)."""
    from .logfile import BoundedLog

    root = logging.getLogger()
    handler = BoundedLog(paths.agent_log(rundir))
    handler.setFormatter(root.handlers[0].formatter if root.handlers else None)
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the agent until stopped, signalled or idle; 0 also when another agent already serves."""
    args = _parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s condor-job-proxy agent[%(process)d]: %(message)s")
    protected = harden.forbid_inspection()
    harden.raise_open_files_limit()
    try:
        rundir = paths.ensure_runtime_dir(args.runtime_dir) if args.runtime_dir else paths.runtime_dir()
    except paths.PathError as exc:
        log.error("%s", exc)
        return 1
    _bound_the_log(rundir)
    try:
        agent = Agent(rundir, args.idle_exit, args.max_host_key_lifetime, args.shared_known_hosts)
    except paths.PathError as exc:
        log.error("%s", exc)
        return 1
    agent.protected = protected
    try:
        if not agent.bind():
            return 0
    except paths.PathError as exc:
        log.error("%s", exc)
        return 1
    except OSError as exc:
        log.error("cannot listen on %s: %s", agent.socket_path, exc.strerror or exc)
        return 1
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: agent.request_stop())
    agent.serve()
    log.info("agent stopped")
    return 0
