"""The tests' way of ending a background ssh (tests/support/sshstop.py): signal again until it exits."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sshstop import stop_ssh

# Like ssh 9.2 when SIGTERM lands between its check and poll(): the first SIGTERM is only noted.
DEAF_ONCE = """
import signal, sys, time
seen = []
signal.signal(signal.SIGTERM, lambda *_: sys.exit(7) if seen else seen.append(1))
print("ready", flush=True)
time.sleep(60)
"""
DEAF = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(60)
"""


def _start(code: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-I", "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    return proc


def test_a_second_sigterm_ends_what_missed_the_first():
    proc = _start(DEAF_ONCE)
    assert stop_ssh(proc, timeout=10) == 7


def test_what_never_ends_is_reported_not_waited_for_forever():
    proc = _start(DEAF)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            stop_ssh(proc, timeout=1.5)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
