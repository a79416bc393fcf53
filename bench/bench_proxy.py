"""Connect latency, throughput and start-up of condor-job-proxy, measured side by side in one run.

    python bench/bench_proxy.py [--runs 11] [--size-mib 256] [--transfers 3]

Baseline ("bare"): a ProxyCommand that only runs the same simulated-pool sshd -- same sshd_config, same
forced command, same key -- on ssh's pipes, with the key in a plain IdentityFile.  That is the physical
limit here: no session set-up, no agent, no hand-over.  Ours: `condor-job-proxy` through the block that
`condor-job-ssh setup` writes, once with ProxyUseFdpass (the default) and once relaying bytes.

The pool makes ed25519 keys (`sim start --keygen-options '-t ed25519'`) and the proxy asks for its default,
ECDSA P-256 (a later -t wins), so that RSA key generation, which costs the starter 0.3 to 1.5 s at random,
does not drown the comparison.
Ratios: latency = ours / bare (lower is better, aim <= 1.15); throughput = bare time / our time (aim fdpass
>= 0.97, relay >= 0.85); start-up = our process start to hand-over, minus the pool's session opening.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    return str(BIN / name) if (BIN / name).exists() else shutil.which(name)


def as_installed(env: dict) -> dict:
    """The environment of a user's install: bytecode cached.  Some sandboxes set PYTHONDONTWRITEBYTECODE,
    which makes every Python start recompile every module it imports (tens of ms that no installed copy
    pays), so it is dropped here and the package compiled once up front."""
    import compileall

    repo = Path(__file__).resolve().parent.parent
    for package in ("proxycmd", "sshconfig"):
        compileall.compile_dir(str(repo / package), quiet=1)
    env = dict(env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed(argv, env) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)
    return time.perf_counter() - start


def median_ms(values) -> str:
    return f"{1000 * statistics.median(values):7.1f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=11, help="connections per variant (latency)")
    ap.add_argument("--size-mib", type=int, default=256, help="size of the scp file")
    ap.add_argument("--transfers", type=int, default=3, help="scp runs per variant")
    args = ap.parse_args()

    # A throwaway HOME, private, under the real one: setup refuses a runtime directory under /tmp (others
    # can write there: proxycmd/paths.py's safe chain), and the agent and the runtime directory follow $HOME
    # (<home>/.ssh/cjp), which must not be the user's own.
    scratch = Path(os.environ.get("CJP_TEST_TMP") or Path.home() / ".cjp-t")
    scratch.mkdir(mode=0o700, parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="cjp-bench-", dir=scratch))
    base.chmod(0o700)
    run = base / ".ssh" / "cjp"
    env = dict(os.environ, HOME=str(base), XDG_CONFIG_HOME=str(base / "cfg"),
               XDG_STATE_HOME=str(base / "state"), PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    env.pop("SSH_AUTH_SOCK", None)
    env.pop("XDG_RUNTIME_DIR", None)
    env = as_installed(env)
    root = base / "pool"
    cjs = tool("condor-job-ssh")
    try:
        subprocess.run([cjs, "sim", "start", "--root", str(root), "--keygen-options", "-t ed25519"], env=env,
                       check=True, stdout=subprocess.DEVNULL)
        job = subprocess.run([cjs, "sim", "submit", "--root", str(root), "--", "sleep", "3600"], env=env, check=True,
                             capture_output=True, text=True).stdout.strip()
        host = f"{job}.job.condor"
        ours = base / "ours.cfg"
        subprocess.run([cjs, "setup", "--ssh-config", str(ours), "--sim", str(root), "--no-multiplex", "--yes"],
                       env=env, check=True, stdout=subprocess.DEVNULL)

        # The bare baseline: one session directory made by the pool, its sshd run directly by ssh.
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from proxycmd.sim.client import SimPool

        # The pool removes a session's directory when its sshd ends (as a starter does): keep a copy.
        reply, sock = SimPool(root).open_session(int(job.split(".")[0]), 0)
        sdir = base / "bare-session"
        shutil.copytree(reply["directory"], sdir)
        sock.close()
        config = sdir / "sshd_config"
        config.write_text(config.read_text().replace(reply["directory"], str(sdir)))
        key = base / "bare_key"
        key.write_text(reply["private_key"])
        key.chmod(0o600)
        (base / "bare_known_hosts").write_text(f"{host} {reply['host_key']}\n")
        sshd = shutil.which("sshd", path=os.environ.get("PATH", "") + ":/usr/sbin")
        bare = base / "bare.cfg"
        bare.write_text(f"Host {host}\n    ProxyCommand {sshd} -i -e -f {sdir}/sshd_config 2>>{base}/bare.log\n"
                        f"    IdentityFile {key}\n    IdentitiesOnly yes\n    UserKnownHostsFile {base}/bare_known_hosts\n"
                        "    StrictHostKeyChecking yes\n    UpdateHostKeys no\n    LogLevel ERROR\n")

        variants = {
            "bare": ["ssh", "-F", str(bare)],
            "fdpass": ["ssh", "-F", str(ours)],
            "relay": ["ssh", "-F", str(ours), "-o", "ProxyUseFdpass=no"],
        }
        for argv in variants.values():  # warm caches, start the agent
            timed([*argv, host, "true"], env)
        lat = {name: [] for name in variants}
        for _ in range(args.runs):
            for name, argv in variants.items():
                lat[name].append(timed([*argv, host, "true"], env))

        blob = base / "blob.bin"
        with open(blob, "wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(1 << 20))
        up = {name: [] for name in variants}
        down = {name: [] for name in variants}
        for _ in range(args.transfers):
            for name, argv in variants.items():
                scp = ["scp", *argv[1:]]
                up[name].append(timed([*scp, str(blob), f"{host}:blob.bin"], env))
                down[name].append(timed([*scp, f"{host}:blob.bin", str(base / "back.bin")], env))

        # Start-up: our process start to hand-over, with the pool's session opening taken out.
        startup, pool_ms = [], []
        proxy = tool("condor-job-proxy")
        for _ in range(args.runs):
            ours_end, ssh_end = socket.socketpair()
            t0 = time.perf_counter()
            p = subprocess.Popen([proxy, "--timings", "--runtime-dir", str(run), "--sim",
                                  str(root), host], env=env, stdin=subprocess.DEVNULL, stdout=ssh_end,
                                 stderr=subprocess.PIPE, text=True)
            ssh_end.close()
            _, fds, _, _ = socket.recv_fds(ours_end, 1, 1)
            t1 = time.perf_counter()
            err = p.communicate()[1]
            for fd in fds:
                os.close(fd)
            ours_end.close()
            session = float(re.search(r"session ([0-9.]+) ms", err).group(1)) / 1000
            pool_ms.append(session)
            startup.append((t1 - t0) - session)
        python_start = [timed([sys.executable, "-c", "pass"], env) for _ in range(args.runs)]

        mib = args.size_mib
        print(f"condor-job-proxy bench: {args.runs} connections and {args.transfers} x {mib} MiB per variant, "
              f"medians, measured side by side in this run")
        print(f"  connect  ssh {host} true : bare {median_ms(lat['bare'])}   fdpass {median_ms(lat['fdpass'])}"
              f"   relay {median_ms(lat['relay'])}")
        print(f"  latency ratio (fdpass / bare)          : {statistics.median(lat['fdpass']) / statistics.median(lat['bare']):.3f}"
              "   (aim <= 1.15)")
        for label, data in (("upload", up), ("download", down)):
            b = statistics.median(data["bare"])
            f = statistics.median(data["fdpass"])
            r = statistics.median(data["relay"])
            print(f"  scp {label:<8} {mib} MiB : bare {b:6.2f} s ({mib / b:6.1f} MiB/s)   fdpass {f:6.2f} s "
                  f"({mib / f:6.1f} MiB/s)   relay {r:6.2f} s ({mib / r:6.1f} MiB/s)")
            print(f"  throughput ratio {label:<8} (bare time / ours): fdpass {b / f:.3f} (aim >= 0.97)   "
                  f"relay {b / r:.3f} (aim >= 0.85)")
        print(f"  proxy start-up to hand-over (pool's session opening excluded): {median_ms(startup)}"
              f"   [pool session opening {median_ms(pool_ms)}; bare `python -c pass` {median_ms(python_start)}]")
        return 0
    finally:
        subprocess.run([cjs, "sim", "stop", "--root", str(root)], env=env, capture_output=True)
        try:
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
            from proxycmd.agent import client

            client.stop(run)
        except Exception:
            pass
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
