"""From a laptop: the hop (`setup --via DEST`) against the classic way, in one run.

    python bench/bench_hop.py [--runs 11] [--size-mib 128] [--transfers 9] [--fake]

The access point is the tests' own (tests/support/ap_fixture.py): a real sshd on a loopback port whose sessions
find, where a real HTCondor can run (an ordinary user, tests/support/realpool.py), a real personal pool's
condor_ssh_to_job and starter, else tests/support/fakes/condor_ssh_to_job on a simulated pool (or with --fake);
the "laptop" has no HTCondor tool.  Everything is cold: no ControlMaster for the AP and none for the jobs
(setup --no-multiplex), so every connection logs in to the AP and opens a new job session.

* connect: `ssh JOB true` through the hop against the classic way from a laptop,
  `ssh -tt DEST condor_ssh_to_job JOB true` (which runs a second ssh on the AP; -T when an ordinary user runs
  this, since the AP's sshd then runs as that user and cannot give a pty where /dev/pts lacks gid=5); ratio hop/classic,
  lower is better (aim <= 1.0).
* the same two with a ControlMaster for DEST (docs/laptop.md), shown for information;
* scp: `scp FILE JOB:` through the hop against plain `scp FILE DEST:` (one ssh hop, the physical limit
  of the path; the hop adds the AP's relay to the job's sshd); ratio = plain time / hop time, higher
  is better (aim >= 0.8).  Shown beside it: `scp -J DEST DEST:`, ProxyJump to the AP itself, which
  like every hop encrypts each byte twice.  Here laptop, AP and execute node share one machine's
  cores, so both encryptions (and the fake's Python relay) compete for the same CPU: the ratio to plain
  scp is bounded well below 1 by that, not by the path.
* scp through the hop against `scp -J DEST DEST:` (the same two encrypted layers, the same AP): time
  ratio hop/jump, lower is better (aim <= 1.05, issue 29);
* the relay on the AP: the hop with its own Python relay (splice) against the hop with condor_ssh_to_job's
  `-proxy` relay (CONDOR_JOB_PROXY_AP_PYTHON empty, the fallback): time ratio ours/-proxy.
* upload to /dev/null: the hop against `scp -J DEST DEST:/dev/null`, the path alone.  The uploads above
  write a file, the hop's inside the job's slot (under a root-run HTCondor, a cgroup it limits), the
  jump's on the AP.
* the same ciphers: the job's sshd takes only what HTCondor's sshd_config template allows (aes*-ctr with
  hmac-sha2-*), while `scp -J` to the AP's sshd gets OpenSSH's default (chacha20-poly1305 where both ends
  have it), which is faster or slower than that depending on the CPU.  So each transfer also runs as
  `scp -J` with the inner layer's cipher and MAC set to what the hop's inner layer negotiated (`ssh -v`),
  shown for information: the path with the job's cipher taken out.

Transfers are noisy on a shared machine (one run to the next moves by 10% or more), so each ratio is also
given as the spread of its per-round ratios (min..max), each round running every variant once in turn.

Runs are interleaved and medians compared; session keys are ed25519 to keep RSA key generation's noise out.
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
sys.path[:0] = [str(REPO / "tests" / tier) for tier in ("support", "sim")]  # helpers, and the tests' own
sys.path.insert(0, str(REPO))

from ap_fixture import ALIAS, make_laptop  # noqa: E402
from bench_proxy import as_installed, median_ms  # noqa: E402

from proxycmd.backends.hop.remote import AP_PYTHON_ENV  # noqa: E402


def inner_crypto(argv, env) -> tuple:
    """(cipher, MAC) the connection *argv* (run with -v) negotiated from client to server."""
    done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    for line in done.stderr.splitlines():
        if "kex: client->server cipher: " in line:
            words = line.split("kex: client->server cipher: ", 1)[1].split()
            return words[0], words[2] if len(words) > 2 and words[1] == "MAC:" else "<implicit>"
    raise SystemExit(f"{argv} said no cipher: {done.stderr.strip()}")


def spread(hop: list, other: list) -> str:
    """min..max of the per-round time ratios hop/other (the variants ran in turn within each round)."""
    ratios = [h / o for h, o in zip(hop, other)]
    return f"per round {min(ratios):.2f}..{max(ratios):.2f}"


def timed(argv, env) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr.decode(errors='replace').strip()}")
    return time.perf_counter() - start


OPTIONS = (("--runs", 11, "connections per variant (latency)"), ("--size-mib", 128, "size of the scp file"),
           ("--transfers", 9, "scp runs per variant and direction"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, default, what in OPTIONS:
        ap.add_argument(flag, type=int, default=default, help=f"{what} (default {default})")
    ap.add_argument("--fake", action="store_true", help="use the simulated pool even where HTCondor runs")
    args = ap.parse_args()

    import realpool

    pool = None
    if not args.fake and realpool.why_unavailable() is None:
        pool = realpool.start_pool(Path.home(), "bench-hop-pool")
        where = "a real personal pool's condor_ssh_to_job behind the AP"
    else:
        where = "the fake condor_ssh_to_job on the simulated pool behind the AP"
    laptops = make_laptop("bash", keygen_options="-t ed25519", pool=pool)
    lap = next(laptops)
    lap.env = as_installed(lap.env)
    env, cfg = lap.env, str(lap.ssh_config)
    try:
        lap.setup("--no-multiplex")
        job = lap.submit("sleep", "3600")
        host = f"{job}.job.condor"
        tty = "-T" if os.geteuid() != 0 else "-tt"
        connect = {"hop": ["ssh", "-F", cfg, host, "true"],
                   "classic": ["ssh", "-F", cfg, tty, ALIAS, "condor_ssh_to_job", job, "true"]}
        for argv in connect.values():  # warm caches, start the agent
            timed(argv, env)
        lat = {name: [] for name in connect}
        for _ in range(args.runs):
            for name, argv in connect.items():
                lat[name].append(timed(argv, env))

        # Warm: both ways share one master connection to the AP (what docs/laptop.md recommends).
        text = lap.ssh_config.read_text()
        lap.ssh_config.write_text(text.replace(f"Host {ALIAS}\n", f"Host {ALIAS}\n    ControlMaster auto\n"
                                               f"    ControlPath {lap.base}/ap-cm-%C\n    ControlPersist 600\n", 1))
        timed(["ssh", "-F", cfg, ALIAS, "true"], env)
        warm = {name: [] for name in connect}
        for _ in range(args.runs):
            for name, argv in connect.items():
                warm[name].append(timed(argv, env))
        subprocess.run(["ssh", "-F", cfg, "-O", "exit", ALIAS], env=env, capture_output=True)
        lap.ssh_config.write_text(text)

        blob = lap.base / "blob.bin"
        with open(blob, "wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(1 << 20))
        back = lap.base / "back.bin"
        cipher, mac = inner_crypto(["ssh", "-v", "-F", cfg, host, "true"], env)
        same = ["-o", f"Ciphers={cipher}"] + ([] if mac == "<implicit>" else ["-o", f"MACs={mac}"])
        transfers = {
            "upload": {"hop": ["scp", "-F", cfg, str(blob), f"{host}:up.bin"],
                       "hop-proxy": ["env", f"{AP_PYTHON_ENV}=", "scp", "-F", cfg, str(blob), f"{host}:up.bin"],
                       "plain": ["scp", "-F", cfg, str(blob), f"{ALIAS}:{lap.base}/ap-up.bin"],
                       "jump": ["scp", "-F", cfg, "-J", ALIAS, str(blob), f"{ALIAS}:{lap.base}/ap-up2.bin"],
                       "same": ["scp", "-F", cfg, *same, "-J", ALIAS, str(blob), f"{ALIAS}:{lap.base}/ap-up3.bin"]},
            "download": {"hop": ["scp", "-F", cfg, f"{host}:up.bin", str(back)],
                         "hop-proxy": ["env", f"{AP_PYTHON_ENV}=", "scp", "-F", cfg, f"{host}:up.bin", str(back)],
                         "plain": ["scp", "-F", cfg, f"{ALIAS}:{lap.base}/ap-up.bin", str(back)],
                         "jump": ["scp", "-F", cfg, "-J", ALIAS, f"{ALIAS}:{lap.base}/ap-up2.bin", str(back)],
                         "same": ["scp", "-F", cfg, *same, "-J", ALIAS, f"{ALIAS}:{lap.base}/ap-up3.bin", str(back)]},
            # the path alone: neither side writes a file (where HTCondor runs as root, a job's writes land in
            # its slot's cgroup, which it limits; the AP's do not)
            "upload to /dev/null": {"hop": ["scp", "-F", cfg, str(blob), f"{host}:/dev/null"],
                                    "jump": ["scp", "-F", cfg, "-J", ALIAS, str(blob), f"{ALIAS}:/dev/null"],
                                    "same": ["scp", "-F", cfg, *same, "-J", ALIAS, str(blob), f"{ALIAS}:/dev/null"]},
        }
        times = {(label, name): [] for label, variants in transfers.items() for name in variants}
        for _ in range(args.transfers):
            for label, variants in transfers.items():
                for name, argv in variants.items():
                    times[(label, name)].append(timed(argv, env))
                    if label == "download":
                        back.unlink()

        mib = args.size_mib
        print(f"hop (setup --via) vs the classic way from a laptop ({where}), all cold: {args.runs} connections "
              f"and {args.transfers} x {mib} MiB per variant, medians, interleaved in this run; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        ratio = statistics.median(lat["hop"]) / statistics.median(lat["classic"])
        print(f"  connect  ssh {host} true : hop {median_ms(lat['hop'])}   ssh {tty} {ALIAS} condor_ssh_to_job {job} "
              f"true {median_ms(lat['classic'])}   ratio hop/classic {ratio:.3f} (aim <= 1.0)")
        ratio = statistics.median(warm["hop"]) / statistics.median(warm["classic"])
        print(f"  warm (a ControlMaster for {ALIAS}): hop {median_ms(warm['hop'])}   classic "
              f"{median_ms(warm['classic'])}   ratio hop/classic {ratio:.3f}")
        print(f"  the job's sshd negotiated {cipher} with MAC {mac} (the hop's inner layer); `scp -J {ALIAS}` "
              f"below gets OpenSSH's default unless said")
        for label in transfers:
            hop = times[(label, "hop")]
            h, j, c = (statistics.median(times[(label, name)]) for name in ("hop", "jump", "same"))
            against_jump = (f"{j:6.2f} s ({mib / j:6.1f} MiB/s)   time ratio hop/jump {h / j:.3f} (aim <= 1.05; "
                            f"{spread(hop, times[(label, 'jump')])})")
            if (label, "plain") not in times:
                print(f"  scp {label} {mib} MiB : hop {h:6.2f} s ({mib / h:6.1f} MiB/s)   scp -J {ALIAS} {against_jump}")
            else:
                p = statistics.median(times[(label, "plain")])
                print(f"  scp {label:<8} {mib} MiB : hop {h:6.2f} s ({mib / h:6.1f} MiB/s)   plain scp to {ALIAS} "
                      f"{p:6.2f} s ({mib / p:6.1f} MiB/s)   ratio plain/hop {p / h:.2f} (aim >= 0.8)")
                print(f"  {'':<22}   scp -J {ALIAS} {ALIAS} (two encryptions, as every hop has) {against_jump}")
            print(f"  {'':<22}   scp -J {ALIAS} with the job's cipher and MAC inside {c:6.2f} s ({mib / c:6.1f} MiB/s)   "
                  f"time ratio hop/jump {h / c:.3f} ({spread(hop, times[(label, 'same')])})")
            if (label, "hop-proxy") in times:
                x = statistics.median(times[(label, "hop-proxy")])
                print(f"  {'':<22}   the hop through condor_ssh_to_job -proxy on the AP {x:6.2f} s ({mib / x:6.1f} MiB/s)"
                      f"   time ratio our relay/-proxy {h / x:.3f}")
        return 0
    finally:
        laptops.close()
        if pool is not None:
            pool.remove_all()
            pool.stop()
            realpool.remove_pool_dir(pool)


if __name__ == "__main__":
    sys.exit(main())
