"""What condor_ssh_to_job and the access point write is read within bounds (issue 24, item 3).

300 MiB on the tool's stderr once cost 2.1 GB of memory, a 314 MB "one line" error and a 314 MB failure
record that pruning skipped.  Here real floods go through the fake condor_ssh_to_job (locally, and on an
access point behind a real sshd): the proxy's peak memory (ru_maxrss, from wait4), the line it says and the
record it keeps stay small, and the sentence is still the right one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import proxy_said
from proxycmd import said

pytestmark = [pytest.mark.e2e, pytest.mark.world(backends=["condor"])]

FLOOD = 300 << 20  # bytes
MAX_RSS_KIB = 120 * 1024  # the proxy's peak: a Python with its imports and 64 KiB of what was said
MAX_SAID = 1100  # characters of the proxy's one line (errors.MAX_LINE and its prefix)


def _proxy_command(ssh_config: Path, host: str, env: dict) -> str:
    """The ProxyCommand ssh would run for *host* (ssh -G expands %h)."""
    out = subprocess.run(["ssh", "-G", "-F", str(ssh_config), host], env=env, capture_output=True, text=True,
                         check=True).stdout
    command = next(line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("proxycommand "))
    return command.replace("%h", host)  # ssh -G leaves the tokens


# Linux carries a process's peak RSS over fork and exec (the forked copy's pages count as its own), so a
# child of a large pytest would report pytest's peak.  A small Python forks the command instead: its child
# starts from that small Python's pages, and wait4 there gives the command's own peak.
_MEASURE = """import os, sys
pid = os.fork()
if pid == 0:
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(int(sys.argv[2]))
    os.execvp("sh", ["sh", "-c", "exec " + sys.argv[1]])
_pid, _status, usage = os.wait4(pid, 0)
os.write(int(sys.argv[2]), str(usage.ru_maxrss).encode())
"""


def _run_measured(command: str, env: dict):
    """Run the ProxyCommand (exec'd by sh) with no client on its stdio: (what it says on stderr, its peak RSS
    in KiB, seconds)."""
    start = time.monotonic()
    read_end, write_end = os.pipe()
    proc = subprocess.Popen([sys.executable, "-I", "-c", _MEASURE, command, str(write_end)], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            pass_fds=(write_end,))
    os.close(write_end)
    err = proc.stderr.read()  # the proxy's own words
    proc.wait()
    with os.fdopen(read_end, "rb") as measured:
        rss = int(measured.read() or 0)
    assert rss > 0, "the measuring Python reported no peak"
    return err.decode("utf-8", "replace"), rss, time.monotonic() - start


def _records(env: dict) -> list:
    where = Path(env["XDG_STATE_HOME"]) / "condor-job-proxy" / "failures"
    return sorted(where.iterdir()) if where.exists() else []


def _check(err: str, rss: int, env: dict, *words: str) -> None:
    lines = err.strip().splitlines()  # our sentence, then at most MAX_LINES of the tool's own lines, each cut
    assert 1 <= len(lines) <= 1 + said.MAX_LINES, [line[:200] for line in lines]
    assert all(len(line) <= MAX_SAID for line in lines), [line[:200] for line in lines]
    assert lines[0].startswith("condor-job-proxy: "), lines[0][:300]
    for word in words:
        assert word in err, err[:600]
    assert rss < MAX_RSS_KIB, f"peak memory {rss >> 10} MiB"
    records = _records(env)
    assert records and all(r.stat().st_size < 8192 for r in records), [(r, r.stat().st_size) for r in records]


# the flood, then the tool's own words; or the flood alone (its one line is all there is to quote)
FAULTS = {"then-words": ({"stderr_flood": FLOOD}, "job 9.0 is not in the queue"),
          "alone": ({"stderr_flood": FLOOD, "stderr_flood_only": True}, "condor_ssh_to_job failed for job 9.0")}


def _flood(where, fault: str, what: str) -> None:
    """Ask the fake condor_ssh_to_job behind *where* (a world, a laptop's AP) for *fault*, run the ProxyCommand
    for a job that is not there, and check its memory, its line and its record."""
    faults, words = FAULTS[fault]
    (where.sim_root / "fake-faults.json").write_text(json.dumps(faults))
    command = _proxy_command(where.ssh_config, "9.0.job.condor", where.env)
    err, rss, took = _run_measured(command, where.env)
    print(f"{what} flood ({fault}): peak {rss >> 10} MiB, {took:.1f} s, said {len(err)} characters")
    _check(err, rss, where.env, words)


@pytest.mark.parametrize("fault", FAULTS)
def test_a_stderr_flood_from_condor_ssh_to_job(world, fault):
    _flood(world, fault, "condor_ssh_to_job")
    # through ssh too: one sentence
    done = world.ssh("9.0.job.condor", "true", check=False)
    said = proxy_said(done.stderr)
    assert done.returncode == 255 and len(said) == 1 and len(said[0]) <= MAX_SAID, done.stderr[:2000]


@pytest.mark.world(via="ap", multiplex=True)
@pytest.mark.parametrize("fault", FAULTS)
def test_a_stderr_flood_through_the_access_point(world, fault):
    """The AP's condor_ssh_to_job floods; the bytes come through a real sshd and the hop's ssh."""
    _flood(world, fault, "access point")


def _peak_of(code: str) -> dict:
    """Run *code* (which sets `result`) in a fresh Python: {"result": ..., "rss": its peak RSS in KiB}.  The
    peak is VmHWM, the high-water mark of the fresh process's own memory (ru_maxrss would carry pytest's)."""
    program = (f"import json, re\n{code}\n"
               "hwm = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1)\n"
               "print(json.dumps({'result': result, 'rss': int(hwm)}))")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_command_on_the_access_point_is_read_within_bounds():
    """hop.command.run's reader (condor_q, condor_submit, condor_rm on the AP): stderr kept head and tail,
    stdout refused past its limit, memory bounded either way."""
    got = _peak_of("from proxycmd import bounded\n"
                   f"code, out, err = bounded.run(['sh', '-c', 'head -c {FLOOD} /dev/zero | tr \"\\\\0\" x >&2; "
                   "echo >&2; echo the last word >&2; echo out'])\n"
                   "result = [code, out.decode(), len(err), err.splitlines()[-1]]")
    code, out, err_len, last = got["result"]
    assert (code, out, last) == (0, "out\n", "the last word")
    assert err_len < 70 * 1024 and got["rss"] < MAX_RSS_KIB, got
    got = _peak_of("from proxycmd import bounded\n"
                   "try:\n"
                   f"    bounded.run(['sh', '-c', 'head -c {FLOOD} /dev/zero'])\n"
                   "    result = 'read it all'\n"
                   "except bounded.TooMuchOutput as exc:\n"
                   "    result = str(exc)\n")
    assert got["result"] == "sh printed more than 64 MiB" and got["rss"] < MAX_RSS_KIB + 140 * 1024, got


def test_doctor_jobs_probe_reads_what_the_job_prints_within_bounds():
    """`doctor JOB` reads what a session in the job prints: a job that floods it costs no memory."""
    got = _peak_of("from sshconfig.checks import jobprobe\n"
                   f"jobprobe.ssh_argv = lambda config, host: ['sh', '-c', 'cat >/dev/null; head -c {FLOOD} /dev/zero']\n"
                   "result = jobprobe.run(None, '1.0.job.condor').error")
    assert got["result"] == "the session to 1.0.job.condor printed more than 64 KiB instead of the probe's report"
    assert got["rss"] < MAX_RSS_KIB, got


def test_one_line_is_bounded():
    from proxycmd.errors import MAX_LINE, one_line

    line = one_line("cannot do it: " + "x" * (10 << 20) + "\n" + "y" * 100)
    assert len(line) <= MAX_LINE and line.startswith("cannot do it: xxx") and line.endswith(" ...")
    assert one_line("short\nand  sweet") == "short\\nand sweet"


def test_every_record_is_pruned_and_none_is_large(tmp_path):
    """A record too large to read (an older version's flood), one that is no JSON and a link are removed by
    the next record; a flood in a sentence is cut to fit."""
    from proxycmd import failures

    big = tmp_path / ("a" * 24 + ".json")
    with open(big, "wb") as handle:
        handle.truncate(314 << 20)  # sparse: 314 MB without writing them
    (tmp_path / ("b" * 24 + ".json")).write_text("not json")
    (tmp_path / ("c" * 24 + ".json")).symlink_to(big)
    failures.record("1.0.job.condor", "condor-job-proxy: " + "z" * (10 << 20), directory=tmp_path,
                    where="x" * 100000)
    left = sorted(tmp_path.iterdir())
    assert len(left) == 1 and left[0].stat().st_size <= failures.MAX_RECORD, left
    (item,) = failures.recent(directory=tmp_path)
    assert item["sentence"].startswith("condor-job-proxy: zzz")
    failures.forget(item, directory=tmp_path)
    assert list(tmp_path.iterdir()) == []
