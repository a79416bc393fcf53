"""The condor path against the classic tool, side by side in one run, through the same condor_ssh_to_job.

    python bench/bench_condor.py [--runs 11] [--size-mib 256] [--transfers 3] [--fake]

Where a real HTCondor can run (an ordinary user, and personal-pool.sh from $CJP_HTCONDOR or
../shared/htcondor: tests/support/realpool.py), this starts a real personal pool and measures against the real
condor_ssh_to_job and starter; as root, `sh scripts/test-real-pool.sh` style: run it as an unprivileged
user.  Otherwise (or with --fake) condor_ssh_to_job is tests/support/fakes/condor_ssh_to_job on a simulated pool.
Either starter makes session keys as HTCondor's does: `ssh-keygen -t rsa` (RSA-3072) unless the client's
-keygen-options say otherwise.  Both sides pay the same tool run and the same starter session; what
differs is what follows:

* ours:    `ssh HOST ...` through the block `condor-job-ssh setup --condor` writes: condor-job-proxy runs
           condor_ssh_to_job with the dialer (and, by default, `-keygen-options '-t ecdsa -b 256'`), takes
           the starter connection and hands it to ssh (fdpass);
* classic: `condor_ssh_to_job JOB true` and `condor_ssh_to_job -ssh scp JOB ...`: ssh's ProxyCommand is
           `condor_ssh_to_job -proxy`, which relays every byte.

Rows (medians of runs interleaved in this one run; latency ratio = ours / classic, lower is better):

* cold, default vs default: ours (ECDSA P-256) against the classic tool as it comes (RSA-3072);
* cold, equal key: both ask for ECDSA P-256, so the ratio is our own overhead;
* proxy CPU: our ProxyCommand's own process per cold connection, as `--timings` reports it (user + system
  since exec, interpreter start included, condor_ssh_to_job not; aim < 10 ms, issue 29), beside the CPU of
  `python -S -c pass`, the floor of any Python start on this machine; then split: the quick start's
  `python -I -S` importing nothing, importing the proxycmd modules a connection loads (listed by one run
  under `-X importtime`), and the rest, the connection's own work;
* quick start: the block's `python -I -S .../proxycmd/condor-job-proxy` against the console script
  (`.venv/bin/condor-job-proxy`, which runs site.py), cold and proxy CPU, side by side;
* warm: ours over an open ControlMaster (what the block's default multiplexing gives every connection
  after the first) against the classic tool, which opens a new session every time;
* scp up and down: throughput ratio = classic time / our time (higher is better).

What the fake distorts (fake mode only): it is a Python script where HTCondor's tool is C++, so each of its runs costs an
interpreter start and exit that the real tool does not pay.  Both sides run it once to open the session;
the classic side runs it a second time as ssh's `-proxy` relay, which the last line measures, and its relay
is Python too (the real tool's is C: docs/design-facts.md: "Measured: the hand-over against the classic tool (real HTCondor 25.14 pool)" measured uploads 2.1x faster through ours on a real pool).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path[:0] = [str(REPO / "tests" / tier) for tier in ("support", "sim")]  # helpers, and the tests' own
sys.path.insert(0, str(REPO))

from bench_proxy import as_installed, median_ms  # noqa: E402  (the same helpers as the sim bench)
from conftest import make_world  # noqa: E402  (the tests' isolated user, pool, fakes and ssh config)

ECDSA = "-t ecdsa -b 256"


def timed(argv, env) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr.decode(errors='replace').strip()}")
    return time.perf_counter() - start


def interleaved(variants: dict, runs: int, env: dict) -> dict:
    """Median seconds per variant, the variants taking turns (so load changes hit them alike)."""
    for argv in variants.values():  # warm caches, start the agent
        timed(argv, env)
    times = {name: [] for name in variants}
    for _ in range(runs):
        for name, argv in variants.items():
            times[name].append(timed(argv, env))
    return {name: statistics.median(values) for name, values in times.items()}


def transfer_times(transfers: dict, rounds: int, env: dict, after=None) -> dict:
    """Seconds of every run, keyed (label, variant): *rounds* rounds, each label's variants taking turns;
    *after(label, variant)* runs after each (a check, a clean-up)."""
    times = {(label, name): [] for label in transfers for name in transfers[label]}
    for _ in range(rounds):
        for label, variants in transfers.items():
            for name, argv in variants.items():
                times[(label, name)].append(timed(argv, env))
                if after is not None:
                    after(label, name)
    return times


def scp_lines(times: dict, transfers: dict, mib: int, width: int = 8) -> list:
    """One line per direction: our scp against `-ssh scp`, medians and the speed-up."""
    lines = []
    for label in transfers:
        o = statistics.median(times[(label, "ours")])
        c = statistics.median(times[(label, "classic")])
        lines.append(f"  scp {label:<{width}} {mib} MiB   ours {o:6.2f} s ({mib / o:6.1f} MiB/s)   -ssh scp {c:6.2f} s "
                     f"({mib / c:6.1f} MiB/s)   classic/ours {c / o:.2f}x")
    return lines


def block_proxy_command(ssh, host, env) -> str:
    """The block's ProxyCommand as ssh reads it (`ssh -G`)."""
    shown = subprocess.run([*ssh, "-G", host], env=env, capture_output=True, text=True, check=True).stdout
    return next(line.split(" ", 1)[1] for line in shown.splitlines() if line.startswith("proxycommand "))


# The quick start as setup writes it: '<python>' -I -S '<site-packages>/proxycmd/condor-job-proxy' ARGS
QUICK_START = r"'([^']*)' -I -S '([^']*)/proxycmd/condor-job-proxy' "


def as_console_script(command: str) -> "str | None":
    """*command* started by the console script instead of the quick start (`python -I -S .../proxycmd/
    condor-job-proxy`, proxycmd/ourcommands.py); None when the block names the console script already."""
    import re

    script = Path(sys.executable).parent / "condor-job-proxy"
    quick = re.match(QUICK_START, command)
    return f"'{script}' {command[quick.end():]}" if quick else None


def proxy_cpu(ssh, host, env, runs: int, command: "str | None" = None) -> dict:
    """Medians over *runs* cold connections of what `condor-job-proxy --timings` says: its own CPU (user +
    system since exec, interpreter start included, condor_ssh_to_job and other children not) and its steps.
    The block's ProxyCommand as ssh reads it (`ssh -G`), or *command*, with --timings added."""
    import re

    command = command or block_proxy_command(ssh, host, env)
    at = re.search(r"condor-job-proxy'? ", command)  # the program, quoted or not
    if not at:
        raise SystemExit(f"no condor-job-proxy in the block's ProxyCommand: {command}")
    command = f"{command[:at.end()]}--timings {command[at.end():]}"
    found = {}
    for _ in range(runs):
        done = subprocess.run([*ssh, "-o", f"ProxyCommand={command}", host, "true"], env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True)
        line = re.search(r"timings: (.*)", done.stderr)
        if done.returncode != 0 or not line:
            raise SystemExit(f"ssh {host} true with --timings exited {done.returncode}: {done.stderr.strip()}")
        for name, ms in re.findall(r"([a-z]+) ([0-9.]+) ms", line.group(1)):
            found.setdefault(name, []).append(float(ms))
    return {name: statistics.median(values) for name, values in found.items()}


def import_cpu(ssh, host, env, runs: int, command: str) -> "tuple | None":
    """(modules, median CPU of importing them, median CPU of the same start importing nothing): the proxycmd
    modules one cold connection through the quick start imports (`-X importtime`), imported alone by the same
    `python -I -S`, so the proxy CPU row splits into interpreter, imports and the rest.  *command*: the
    block's ProxyCommand; None when it names the console script."""
    import re
    import shlex

    quick = re.match(QUICK_START, command)
    if not quick:
        return None
    python, site = quick.group(1), quick.group(2)
    traced = f"{shlex.quote(python)} -X importtime {command[quick.end(1) + 2:]}"  # after "'<python>' "
    done = subprocess.run([*ssh, "-o", f"ProxyCommand={traced}", host, "true"], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True)
    modules = re.findall(r"^import time:.*\|\s*(proxycmd[\w.]*)$", done.stderr, re.M)
    if done.returncode != 0 or not modules:
        raise SystemExit(f"ssh {host} true with -X importtime exited {done.returncode}: {done.stderr[-2000:]}")
    load = f"import sys; sys.path.insert(0, {site!r}); " + "; ".join(f"import {name}" for name in modules)
    return (len(modules), child_cpu([python, "-I", "-S", "-c", load], env, runs),
            child_cpu([python, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {site!r})"], env, runs))


def child_cpu(argv, env, runs: int) -> float:
    """Median CPU (user + system) of *argv*: for `python -S -c pass`, the floor of any Python ProxyCommand."""
    values = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        values.append(1000 * (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime))
    return statistics.median(values)


def session_key_type(argv, env) -> str:
    """The host key type ssh saw (the session's one key: host key and client key alike)."""
    done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    for line in done.stderr.splitlines():
        if "Server host key: " in line:
            return line.split("Server host key: ", 1)[1].split()[0]
    return "unknown"


def open_world(fake: bool):
    """(world generator, label): a real pool's test user where one can run, else the fake on the sim."""
    import realpool

    if not fake and realpool.why_unavailable() is None:
        from realworld import make_real_world

        pool = realpool.start_pool(Path.home(), "bench-pool")

        def real():
            try:
                yield from make_real_world(pool)
            finally:
                pool.remove_all()
                pool.stop()
                realpool.remove_pool_dir(pool)
        return real(), "the real condor_ssh_to_job 25.14 on a real personal pool"
    return make_world(backend="condor"), "the fake, on the simulated pool"


OPTIONS = (("--runs", 11, "connections per variant (latency)"), ("--size-mib", 256, "size of the scp file"),
           ("--transfers", 3, "scp runs per variant and direction"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, default, what in OPTIONS:
        ap.add_argument(flag, type=int, default=default, help=f"{what} (default {default})")
    ap.add_argument("--fake", action="store_true", help="use the fake condor_ssh_to_job even where HTCondor runs")
    args = ap.parse_args()

    # One isolated user with `setup --condor`: the tests' own World, on a real pool or the simulated one
    worlds, where = open_world(args.fake)
    real = "real" in where
    world = next(worlds)
    world.env = as_installed(world.env)
    env, base = world.env, world.base
    try:
        job = world.submit("sleep", "3600")
        host = f"{job}.job.condor"
        ours = ["ssh", "-F", str(world.ssh_config)]
        classic = ["condor_ssh_to_job"]

        ours_key = session_key_type([*ours, "-v", host, "true"], env)
        classic_key = session_key_type([*classic, "-ssh", "ssh -v", job, "true"], env)

        block_command = block_proxy_command(ours, host, env)
        script = as_console_script(block_command)  # the quick start's gain, side by side
        variants = {
            "ours": [*ours, host, "true"],
            "classic": [*classic, job, "true"],
            "classic-ecdsa": [*classic, "-keygen-options", ECDSA, job, "true"],
        }
        if script:
            variants["ours-script"] = [*ours, "-o", f"ProxyCommand={script}", host, "true"]
        cold = interleaved(variants, args.runs, env)

        control = base / "cm-%C"
        master = ["-o", "ControlMaster=auto", "-o", f"ControlPath={control}", "-o", "ControlPersist=600"]
        warm = interleaved({"ours-warm": [*ours, *master, host, "true"]}, args.runs, env)
        subprocess.run([*ours, *master, "-O", "exit", host], env=env, capture_output=True)

        cpu = proxy_cpu(ours, host, env, args.runs, block_command)
        script_cpu = proxy_cpu(ours, host, env, args.runs, script) if script else None
        bare_python_cpu = child_cpu([sys.executable, "-S", "-c", "pass"], env, args.runs)
        imports = import_cpu(ours, host, env, args.runs, block_command)

        fake_proxy = [] if real else [timed([*classic, "-proxy", "0"], dict(env)) for _ in range(args.runs)]
        python_start = [timed([sys.executable, "-c", "pass"], env) for _ in range(args.runs)]

        blob = base / "blob.bin"
        with open(blob, "wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(1 << 20))
        back = base / "back.bin"
        transfers = {
            "upload": {"ours": ["scp", "-F", str(world.ssh_config), str(blob), f"{host}:up.bin"],
                       "classic": [*classic, "-ssh", "scp", job, str(blob), "remote:up.bin"]},
            "download": {"ours": ["scp", "-F", str(world.ssh_config), f"{host}:up.bin", str(back)],
                         "classic": [*classic, "-ssh", "scp", job, "remote:up.bin", str(back)]},
        }
        times = transfer_times(transfers, args.transfers, env, after=lambda label, name: label == "download"
                               and back.unlink())

        mib = args.size_mib
        ms = lambda seconds: f"{1000 * seconds:7.1f} ms"  # noqa: E731
        print(f"condor path vs classic condor_ssh_to_job ({where}): {args.runs} connections "
              f"and {args.transfers} x {mib} MiB per variant, medians, interleaved in this run; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"  session keys the starter made: ours {ours_key}, classic by default {classic_key}")
        print(f"  cold, default vs default  ssh {host} true {ms(cold['ours'])}   condor_ssh_to_job {job} true "
              f"{ms(cold['classic'])}   ratio ours/classic {cold['ours'] / cold['classic']:.3f}   (aim <= 0.5)")
        print(f"  cold, equal key (ECDSA)   ssh {host} true {ms(cold['ours'])}   condor_ssh_to_job -keygen-options "
              f"'{ECDSA}' {ms(cold['classic-ecdsa'])}   ratio {cold['ours'] / cold['classic-ecdsa']:.3f}   (aim <= 1.05)")
        if fake_proxy:
            relay = statistics.median(fake_proxy)
            print(f"  cold, equal key, the fake's -proxy start taken out of classic (as a C relay would be): ratio "
                  f"{cold['ours'] / (cold['classic-ecdsa'] - relay):.3f}   (our own overhead where the tool is C)")
        print(f"  proxy CPU per connection  {cpu['cpu']:.1f} ms (its own process, user + system, interpreter start "
              f"included, condor_ssh_to_job not; aim < 10)   `python -S -c pass` {bare_python_cpu:.1f} ms   steps: ready "
              f"{cpu['ready']:.1f} ms, session {cpu['session']:.1f} ms, register {cpu['register']:.1f} ms")
        print(f"  cold gap to classic ECDSA {1000 * (cold['ours'] - cold['classic-ecdsa']):+.1f} ms, against the proxy's "
              f"CPU {cpu['cpu']:.1f} ms, of which any Python ProxyCommand spends {bare_python_cpu:.1f} ms starting")
        if imports:
            count, loaded, bare = imports
            print(f"  where the proxy CPU goes  `python -I -S` starting {bare:.1f} ms, importing the {count} proxycmd modules "
                  f"a connection loads {loaded - bare:.1f} ms more, the connection's own work the rest "
                  f"({cpu['cpu'] - loaded:.1f} ms)")
        if script_cpu:
            print(f"  quick start (python -I -S) vs the console script: cold {ms(cold['ours'])} vs "
                  f"{ms(cold['ours-script'])} ({cold['ours'] / cold['ours-script']:.3f}); proxy CPU {cpu['cpu']:.1f} vs "
                  f"{script_cpu['cpu']:.1f} ms; the console script's cold vs classic ECDSA "
                  f"{cold['ours-script'] / cold['classic-ecdsa']:.3f}")
        else:
            print("  the block names the console script (an editable or --user install: no quick start)")
        print(f"  warm (ControlMaster)      ssh {host} true {ms(warm['ours-warm'])}   vs classic default "
              f"{ms(cold['classic'])}: {warm['ours-warm'] / cold['classic']:.3f}, vs classic ECDSA "
              f"{warm['ours-warm'] / cold['classic-ecdsa']:.3f}")
        for line in scp_lines(times, transfers, mib):
            print(line)
        if fake_proxy:
            print(f"  the fake's cost: `condor_ssh_to_job -proxy 0` start and exit {median_ms(fake_proxy)} (the "
                  f"classic side pays it once more per connection; the real tool is C), `python -c pass` "
                  f"{median_ms(python_start)}")
        return 0
    finally:
        worlds.close()  # stops the pool and the agent, removes the directory


if __name__ == "__main__":
    sys.exit(main())
