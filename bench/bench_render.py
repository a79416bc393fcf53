"""Render the managed block for 10,000 jobs and compare the time with the 1 s budget.

    python bench/bench_render.py [--jobs N] [--repeat R]

Prints the best of R runs (the least disturbed by the rest of the machine).
"""

from __future__ import annotations

import argparse
import time

from proxycmd.session import JobInfo
from sshconfig.block.render import RenderContext, render_block
from sshconfig.block.settings import Settings

BUDGET = 1.0  # seconds


def fake_jobs(count: int):
    start = time.time() - 86400
    return [JobInfo(cluster=1000 + i // 10, proc=i % 10, status="idle" if i % 5 == 0 else "running",
                    cmd=f"/home/user/bin/analyse --input run{i}.root --events 100000", batch_name=f"sweep-{i % 40}",
                    remote_host=f"slot1_{i % 48}@exec{i % 700:03d}.example.org", since=start + i,
                    schedd=None if i % 4 else "ap2.example.org")
            for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    jobs = fake_jobs(args.jobs)
    ctx = RenderContext(proxy="/opt/condor-job-proxy/bin/condor-job-proxy",
                        runtime_dir="/run/user/1000/condor-job-proxy", settings=Settings(), now=time.time())
    best = float("inf")
    for _ in range(args.repeat):
        began = time.perf_counter()
        text = render_block(ctx, jobs)
        best = min(best, time.perf_counter() - began)
    print(f"render_block: {args.jobs} jobs -> {len(text.splitlines())} lines, {len(text) / 1024:.0f} KiB "
          f"in {best * 1000:.1f} ms (best of {args.repeat})")
    print(f"budget {BUDGET:.0f} s: {best / BUDGET:.3f} of it ({BUDGET / best:.0f}x headroom)")


if __name__ == "__main__":
    main()
