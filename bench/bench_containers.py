"""Our path against the classic condor_ssh_to_job on a docker-universe job, side by side in one run.

    python bench/bench_containers.py [--runs 11] [--size-mib 64] [--transfers 5]

Needs what the container tier needs (tests/support/realdocker.py): an ordinary user in the docker group, a Docker
daemon and the test images (`sudo sh scripts/test-containers.sh` makes them), and HTCondor's
personal-pool.sh.  It starts a personal pool with DOCKER_TRUST_LOCAL_IMAGES, submits one docker-universe
job on the `good` image, and times, the variants taking turns (medians):

* cold connect: `ssh JOB true` (the block `setup --condor --no-multiplex` writes: a new session every
  time) against `condor_ssh_to_job JOB true`;
* scp up and down SIZE MiB: `scp` against `condor_ssh_to_job -ssh scp` (whose relay carries every byte).

Both land inside the container (the starter's docker exec); the file's checksum is compared inside.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path[:0] = [str(REPO / "tests" / tier) for tier in ("support", "sim")]  # helpers, and the tests' own
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))

from bench_condor import interleaved, scp_lines, transfer_times  # noqa: E402  (the same timing as the condor bench)


def main() -> int:
    import realdocker
    import realpool
    from realworld import make_real_world, wait_reachable

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=11, help="connections per variant (default 11)")
    ap.add_argument("--size-mib", type=int, default=64, help="size of the scp file (default 64)")
    ap.add_argument("--transfers", type=int, default=5, help="scp runs per variant and direction (default 5)")
    args = ap.parse_args()
    reason = realdocker.why_unavailable()
    if reason:
        raise SystemExit(reason)
    pool = realpool.start_pool(Path.home(), "bench-docker", config={"DOCKER_TRUST_LOCAL_IMAGES": "true"})
    worlds = make_real_world(pool)
    try:
        world = next(worlds)
        env = world.env
        iwd = world.base / "job"
        iwd.mkdir()
        job = pool.submit(f"universe = docker\ndocker_image = {realdocker.tags()['good']}\nexecutable = /bin/sleep\n"
                          f"arguments = 3600\ntransfer_executable = false\ninitialdir = {iwd}\n", cwd=iwd)
        world.jobs[job] = iwd
        pool.wait_status(job, "running", timeout=180)
        wait_reachable(pool, job)
        host = f"{job}.job.condor"
        ours = ["ssh", "-F", str(world.ssh_config)]
        cold = interleaved({"ours": [*ours, host, "true"], "classic": ["condor_ssh_to_job", job, "true"]},
                           args.runs, env)

        blob = world.base / "blob.bin"
        blob.write_bytes(os.urandom(args.size_mib << 20))
        digest = hashlib.sha256(blob.read_bytes()).hexdigest()
        back = world.base / "back.bin"
        transfers = {
            "up": {"ours": ["scp", "-F", str(world.ssh_config), str(blob), f"{host}:up.bin"],
                   "classic": ["condor_ssh_to_job", "-ssh", "scp", job, str(blob), "remote:up.bin"]},
            "down": {"ours": ["scp", "-F", str(world.ssh_config), f"{host}:up.bin", str(back)],
                     "classic": ["condor_ssh_to_job", "-ssh", "scp", job, "remote:up.bin", str(back)]},
        }
        def check(direction: str, name: str) -> None:
            if direction == "up":  # the upload is inside the container, whole
                inside = world.ssh(host, "sha256sum up.bin; grep -c VARIANT_ID=cjp-test /etc/os-release")
                assert inside.stdout.split() == [digest, "up.bin", "1"], inside.stdout
            else:
                assert hashlib.sha256(back.read_bytes()).hexdigest() == digest
                back.unlink()

        times = transfer_times(transfers, args.transfers, env, after=check)
        mib = args.size_mib
        print(f"docker-universe job {job} (image {realdocker.tags()['good']}), HTCondor 25.14, Docker "
              f"{realdocker.docker('version', '--format', '{{.Server.Version}}').stdout.strip()}: medians of "
              f"{args.runs} connections and {args.transfers} x {mib} MiB per variant, interleaved")
        print(f"  cold connect   ssh {host} true {1000 * cold['ours']:7.1f} ms   condor_ssh_to_job {job} true "
              f"{1000 * cold['classic']:7.1f} ms   ours/classic {cold['ours'] / cold['classic']:.2f}")
        for line in scp_lines(times, transfers, mib, width=4):
            print(line)
        return 0
    finally:
        worlds.close()
        pool.remove_all()
        pool.stop()
        realpool.remove_pool_dir(pool)


if __name__ == "__main__":
    sys.exit(main())
