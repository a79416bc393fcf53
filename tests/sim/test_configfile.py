"""The user's ssh config as a file (issue 8, item 4): setup and sync on a simulated pool never lose a line
appended meanwhile (the file on its own: tests/unit/test_configfile_writes.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from proxycmd.sim.client import SimPool
from isolated_user import User, base  # noqa: F401  (base is a fixture)
from test_configfile_writes import appended, temp_files


# ----- item 4: concurrent writers ---------------------------------------------------------------------------
class Appender(threading.Thread):
    """Appends numbered lines to the file the way `echo >>` does (open, append, close), no lock."""

    def __init__(self, path: Path, count: int) -> None:
        super().__init__(daemon=True)
        self.path, self.count, self.done = path, count, 0

    def run(self) -> None:
        for number in range(self.count):
            with open(self.path, "a") as handle:
                handle.write(f"# appended line {number}\n")
            self.done += 1
            time.sleep(0.001)


def test_setup_and_sync_never_lose_a_line_appended_meanwhile(base):
    user = User(base)
    pool = SimPool(base / "pool")
    pool.start()
    try:
        pool.submit(["sleep", "600"])
        pool.submit(["sleep", "600"], idle=True)
        assert user.setup("--sim", str(pool.root)).returncode == 0
        appender = Appender(user.ssh_config, 300)
        appender.start()
        runs = 0
        while appender.is_alive() or runs < 8:
            runs += 1
            if runs % 2:
                done = user.setup("--user", f"u{runs}")
            else:
                done = user.run("sync", "--include-idle" if runs % 4 else "--running-only")
            assert done.returncode == 0, done.stderr
            assert "Updated" in done.stdout, done.stdout
        appender.join()
        text = user.ssh_config.read_text()
        lines = appended(text, 300)  # lines that hit the old file in the last instant may come a little later
        assert sorted(lines) == list(range(300)), f"lost: {sorted(set(range(300)) - set(lines))}"
        assert f"User u{runs - 1 if runs % 2 == 0 else runs}" in text
        assert temp_files(user.ssh_config.parent) == []
    finally:
        pool.stop()
