"""The editor path (open-remote-ssh's own code, --identity-fifo) against OpenSSH, on the same job.

    python bench/bench_editor.py [--runs 11] [--fake | --sim]

Where a real HTCondor can run (an ordinary user, personal-pool.sh from $CJP_HTCONDOR or ../shared/htcondor),
on a real personal pool; otherwise (or with --fake) on the simulated pool through the fake
condor_ssh_to_job; with --sim, on the simulated pool asked directly (--sim in the ProxyCommand).  open-remote-ssh comes from $CJP_OPEN_REMOTE_SSH as in tests/sim/test_editors_e2e.py.
Runs alternate between the two sides, each a new session to the same job:

* editor connect: one window of open-remote-ssh (tests/js/drive.js) from the start of its resolve to its
  SSH connection's `ready` (config read, identity files, the ProxyCommand, the session, the handshake,
  the key through the FIFO, authentication);
* editor connect + command: the same plus its first command (`echo $PWD`) over that connection, which
  is what `ssh HOST true` also does (OpenSSH adds its own start and the session's close);
* editor resolve: the whole resolve, which adds its server install script in the job and its tunnels;
* tunnel, first and again: an HTTP request through the window's tunnel (its SOCKS forwarding, a new
  SSH channel each time) to the server running in the job;
* OpenSSH: `ssh -F <block> HOST true` (no ControlMaster), the whole command.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path[:0] = [str(REPO / "tests" / tier) for tier in ("support", "sim")]  # helpers, and the tests' own
sys.path.insert(0, str(REPO))

from bench_condor import open_world, timed  # noqa: E402  (a real pool's test user, else the fake on the sim)
from bench_proxy import as_installed  # noqa: E402
from test_editors_e2e import HOST, build_open_remote_ssh, drive, stop_servers, submit, window  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=11, help="connections per side (default 11)")
    ap.add_argument("--fake", action="store_true", help="use the simulated pool even where HTCondor runs")
    ap.add_argument("--sim", action="store_true", help="the simulated pool without condor_ssh_to_job")
    args = ap.parse_args()
    ors = build_open_remote_ssh()
    if isinstance(ors, str):
        raise SystemExit(f"bench_editor: {ors}")

    if args.sim:
        from conftest import make_world

        worlds, where = make_world(backend="sim"), "the simulated pool (--sim)"
    else:
        worlds, where = open_world(args.fake)
    world = next(worlds)
    world.env = as_installed(world.env)
    try:
        job = submit(world)
        host = HOST.format(job)
        openssh = ["ssh", "-F", str(world.ssh_config), host, "true"]
        timed(openssh, world.env)  # warm: the agent starts, caches fill
        drive(ors, world, [[window(host)]])
        rows = {"editor connect": [], "editor connect + command": [], "editor resolve": [], "tunnel, first": [], "tunnel, again": [],
                "OpenSSH ssh HOST true": []}
        for _ in range(args.runs):
            (result,) = drive(ors, world, [[window(host)]])["windows"]
            if "error" in result:
                raise SystemExit(f"bench_editor: the window failed: {result['error']['message']}")
            rows["editor connect"].append(result["connectMs"])
            rows["editor connect + command"].append(result["connectMs"] + result["commandMs"])
            rows["editor resolve"].append(result["resolvedMs"])
            rows["tunnel, first"].append(result["fetchMs"])
            rows["tunnel, again"].append(result["fetchAgainMs"])
            rows["OpenSSH ssh HOST true"].append(1000 * timed(openssh, world.env))
            time.sleep(0.2)
        print(f"{where}; job {job}; {args.runs} runs each, medians (min-max)")
        for name, values in rows.items():
            print(f"  {name:26} {statistics.median(values):7.1f} ms   ({min(values):.1f}-{max(values):.1f})")
        ratio = statistics.median(rows["editor connect + command"]) / statistics.median(rows["OpenSSH ssh HOST true"])
        print(f"  editor connect + command / OpenSSH: {ratio:.2f}")
    finally:
        stop_servers(world)
        worlds.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
