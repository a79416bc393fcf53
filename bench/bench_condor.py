"""The condor path against the classic tool, side by side in one run, through the same condor_ssh_to_job.

    python bench/bench_condor.py [--runs 11] [--size-mib 256] [--transfers 3]

condor_ssh_to_job here is tests/fakes/condor_ssh_to_job on a simulated pool (no HTCondor daemon runs
here).  Both sides pay the same tool run and the same starter session; what differs is what follows:

* ours:    `ssh HOST ...` through the block `condor-job-ssh setup --condor` writes: condor-job-proxy runs
           condor_ssh_to_job with the dialer, takes the starter connection and hands it to ssh (fdpass);
* classic: `condor_ssh_to_job JOB true` and `condor_ssh_to_job -ssh scp JOB ...`: ssh's ProxyCommand is
           `condor_ssh_to_job -proxy`, which relays every byte.

Runs are interleaved (ours, classic, ours, ...) and medians compared.  Ratios: latency = ours / classic
(lower is better); throughput = classic time / our time (higher is better).  The fake's -proxy relay is
Python (select + 64 KiB reads) where the real tool's is C, so the throughput gap here is wider than on a
real pool (DESIGN.md §5 measured 2.1x for uploads there); session keys are ed25519 to keep RSA key
generation's 0.3-1.5 s of noise out.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from bench_proxy import as_installed, median_ms  # noqa: E402  (the same helpers as the sim bench)
from conftest import make_world  # noqa: E402  (the tests' isolated user, pool, fakes and ssh config)


def timed(argv, env) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr.decode(errors='replace').strip()}")
    return time.perf_counter() - start


OPTIONS = (("--runs", 11, "connections per variant (latency)"), ("--size-mib", 256, "size of the scp file"),
           ("--transfers", 3, "scp runs per variant and direction"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, default, what in OPTIONS:
        ap.add_argument(flag, type=int, default=default, help=f"{what} (default {default})")
    args = ap.parse_args()

    # One isolated user, a simulated pool, the fakes on PATH and `setup --condor`: the tests' own World.
    worlds = make_world(backend="condor", keygen_options="-t ed25519")
    world = next(worlds)
    world.env = as_installed(world.env)
    env, base = world.env, world.base
    try:
        job = world.submit("sleep", "3600")
        host = f"{job}.job.condor"
        ours = world.ssh_config
        classic = ["condor_ssh_to_job"]

        connect = {"ours": ["ssh", "-F", str(ours), host, "true"], "classic": [*classic, job, "true"]}
        for argv in connect.values():  # warm caches, start the agent
            timed(argv, env)
        lat = {name: [] for name in connect}
        for _ in range(args.runs):
            for name, argv in connect.items():
                lat[name].append(timed(argv, env))

        blob = base / "blob.bin"
        with open(blob, "wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(1 << 20))
        back = base / "back.bin"
        transfers = {
            "upload": {"ours": ["scp", "-F", str(ours), str(blob), f"{host}:up.bin"],
                       "classic": [*classic, "-ssh", "scp", job, str(blob), "remote:up.bin"]},
            "download": {"ours": ["scp", "-F", str(ours), f"{host}:up.bin", str(back)],
                         "classic": [*classic, "-ssh", "scp", job, "remote:up.bin", str(back)]},
        }
        times = {(label, name): [] for label in transfers for name in ("ours", "classic")}
        for _ in range(args.transfers):
            for label, variants in transfers.items():
                for name, argv in variants.items():
                    times[(label, name)].append(timed(argv, env))
                    if label == "download":
                        back.unlink()

        mib = args.size_mib
        print(f"condor path vs classic condor_ssh_to_job (the fake, on the simulated pool): {args.runs} connections "
              f"and {args.transfers} x {mib} MiB per variant, medians, interleaved in this run")
        ratio = statistics.median(lat["ours"]) / statistics.median(lat["classic"])
        print(f"  connect  ssh {host} true : ours {median_ms(lat['ours'])}   condor_ssh_to_job {job} true "
              f"{median_ms(lat['classic'])}   ratio ours/classic {ratio:.3f}")
        for label in transfers:
            o = statistics.median(times[(label, "ours")])
            c = statistics.median(times[(label, "classic")])
            print(f"  scp {label:<8} {mib} MiB : ours {o:6.2f} s ({mib / o:6.1f} MiB/s)   -ssh scp {c:6.2f} s "
                  f"({mib / c:6.1f} MiB/s)   classic/ours {c / o:.2f}x")
        return 0
    finally:
        worlds.close()  # stops the pool and the agent, removes the directory


if __name__ == "__main__":
    sys.exit(main())
