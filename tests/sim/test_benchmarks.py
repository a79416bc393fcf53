"""The benchmarks under bench/ still run and print every row, on the simulated pool (--fake) with the smallest
sizes.  What they measure is not checked here (tests never check wall-clock time); that they measure is."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RATIO = r"[0-9]+\.[0-9]{3}"

pytestmark = pytest.mark.e2e


def bench(name: str) -> str:
    done = subprocess.run([sys.executable, str(REPO / "bench" / name), "--fake", "--runs", "1", "--transfers", "1",
                           "--size-mib", "1"], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_bench_condor_prints_both_cold_ratios_and_where_the_proxy_cpu_goes():
    out = bench("bench_condor.py")
    assert re.search(rf"cold, default vs default .* ratio ours/classic {RATIO}", out), out
    assert re.search(rf"cold, equal key \(ECDSA\) .* ratio {RATIO}", out), out
    assert re.search(r"cold gap to classic ECDSA [+-]\d+\.\d ms, against the proxy's CPU \d+\.\d ms", out), out
    split = re.search(r"`python -I -S` starting ([0-9.]+) ms, importing the ([0-9]+) proxycmd modules a connection "
                      r"loads (-?[0-9.]+) ms more", out)
    assert split, out
    assert int(split.group(2)) >= 5  # the modules a real connection loads were found (-X importtime)
    assert re.search(r"scp upload +1 MiB .* classic/ours [0-9.]+x", out), out


def test_bench_hop_prints_the_hop_against_scp_j_with_and_without_the_jobs_cipher():
    out = bench("bench_hop.py")
    assert re.search(r"the job's sshd negotiated aes128-ctr with MAC hmac-sha2-256", out), out
    for label in ("upload", "download", "upload to /dev/null"):
        line = re.search(rf"scp {re.escape(label)} +1 MiB .*", out)
        assert line, out
        rest = out[line.start():]
        assert re.search(rf"time ratio hop/jump {RATIO} \(aim <= 1\.05; per round [0-9]+\.[0-9]+\.\.[0-9]+\.[0-9]+",
                         rest), out
        assert re.search(rf"with the job's cipher and MAC inside .* time ratio hop/jump {RATIO}", rest), out
