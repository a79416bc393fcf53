"""The ProxyCommand reads a plain command line without argparse (cli._plain_args; argparse with the re, enum
and gettext it imports costs ~10 ms of CPU a connection): what it reads must be what argparse reads, and
everything else must go to argparse."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import example, given, settings, strategies as st

from proxycmd import cli

PARSER = cli.build_parser()
OPTIONS = sorted(s for s in PARSER._option_string_actions if s.startswith("--"))  # argparse's own list
VALUES = st.sampled_from(["", "x", "32.0.job.condor", "-t ecdsa -b 256", "-x", "0", "22", "-1", "1.5", "nan",
                          "inf", "٣", " 7 ", "a b", "--", "--login", "=", "bob", "/tmp/r d", "'q'"])
WORDS = st.lists(st.sampled_from(OPTIONS) | VALUES | st.sampled_from(["--login=bob", "--run", "-h", "--tim"])
                 | st.text(max_size=6), max_size=9)


def argparse_reads(argv):
    """vars() of argparse's result, or None where it refuses (its error is one line and exit 2: SystemExit)."""
    import contextlib
    import io

    def refuse(message, code, **_):  # the parser's errors end the process (cli._fail): here they raise
        raise SystemExit(code)

    saved, cli._fail = cli._fail, refuse
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return vars(PARSER.parse_args(argv))
    except SystemExit:
        return None
    finally:
        cli._fail = saved


@settings(max_examples=3000, deadline=None)
@given(WORDS)
@example(["--runtime-dir", "/home/u/.ssh/cjp", "--login", "u", "32.0.job.condor"])
@example(["--suffix", "a.b", "--suffix", "c", "--no-wait", "--port", "2222", "--wait-timeout", "5", "--poll", "1",
          "--keygen-options", "", "h"])
@example(["--port", "x", "h"])
@example(["--poll", "0", "h"])
@example(["h", "--relay", "--timings"])
def test_plain_command_lines_read_as_argparse_reads_them(argv):
    fast = cli._plain_args(argv)
    if fast is not None:  # else argparse reads it, as before
        assert vars(fast) == argparse_reads(argv)


def test_every_option_of_the_parser_is_read_without_argparse():
    """Each option build_parser has (but --help and --version), with a plain value, takes the fast path:
    an option added to the parser alone would quietly cost every connection argparse again."""
    for option in OPTIONS:
        if option in ("--help", "--version"):
            continue
        action = PARSER._option_string_actions[option]
        argv = [option] + (["3"] if action.nargs != 0 else []) + ["h"]  # flags take no value (nargs 0)
        fast = cli._plain_args(argv)
        assert fast is not None, option
        assert vars(fast) == argparse_reads(argv), option


def test_the_block_s_command_line_imports_no_argparse(tmp_path):
    """What a ProxyCommand line holds is read without importing argparse (or re); --help still is argparse's."""
    probe = ("import sys; from proxycmd import cli; args = cli._plain_args(sys.argv[1:]); "
             "print(args.login, args.runtime_dir, args.host, 'argparse' in sys.modules, 're' in sys.modules)")
    done = subprocess.run([sys.executable, "-S", "-c", probe, "--runtime-dir", str(tmp_path), "--login", "u",
                           "32.0.job.condor"], capture_output=True, text=True, cwd=str(Path(__file__).resolve().parents[2]),
                          timeout=60)
    assert done.stdout.split() == ["u", str(tmp_path), "32.0.job.condor", "False", "False"], done.stderr
    assert cli._plain_args(["--help"]) is None and cli._plain_args(["--version"]) is None
