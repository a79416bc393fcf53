"""HTCondor's messages are passed on whole, their line breaks kept (issue 28, item 3): without CONDOR_CONFIG,
HTCondor's five lines once came out cut at "Either set CONDOR_CONFIG to point to a valid config source," with
"; " for their line breaks."""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import tool
from proxycmd.backends.condor import refusals
from proxycmd.hostname import parse
from proxycmd.said import flat, lines, words

pytestmark = pytest.mark.world(backends=["real"])

# what condor_ssh_to_job 25.14 prints without CONDOR_CONFIG (and no config in the places it names)
NO_CONFIG = ("\nNeither the environment variable CONDOR_CONFIG,\n/etc/condor/, /usr/local/etc/, nor ~condor/ contain a "
             "condor_config source.\nEither set CONDOR_CONFIG to point to a valid config source,\nor put a "
             "\"condor_config\" file in /etc/condor/ /usr/local/etc/ or ~condor/\nExiting.\n\n")
SENTENCE = ("Either set CONDOR_CONFIG to point to a valid config source, or put a \"condor_config\" file in "
            "/etc/condor/ /usr/local/etc/ or ~condor/")


def test_a_multi_line_htcondor_message_is_kept_whole_with_its_lines():
    refusal = refusals.explain(1, NO_CONFIG, parse("1.0.job.condor"))
    shown = lines(str(refusal))
    assert shown == ["condor_ssh_to_job failed for job 1.0 (exit status 1):",
                     "Neither the environment variable CONDOR_CONFIG,",
                     "/etc/condor/, /usr/local/etc/, nor ~condor/ contain a condor_config source.",
                     "Either set CONDOR_CONFIG to point to a valid config source,",
                     "or put a \"condor_config\" file in /etc/condor/ /usr/local/etc/ or ~condor/", "Exiting."]
    one = flat(str(refusal))
    assert SENTENCE in one and "; " not in one and "\n" not in one


def test_a_long_htcondor_line_is_not_cut_at_240_characters():
    line = "ERROR: " + " ".join(f"word{i}" for i in range(120))  # about 700 characters, one line
    refusal = refusals.explain(1, line + "\n", parse("1.0.job.condor"))
    assert line in flat(str(refusal))


def test_the_words_stay_bounded():
    flood = ["x" * 100000] * 1000
    kept = lines(words(flood))
    assert len(kept) <= 22 and all(len(one) <= 1000 for one in kept) and kept[-1] == "..."
    assert "\x1b" not in words(["\x1b[2Jhostile"])


def _real_tools_without_config(world):
    env = dict(world.env)
    env.pop("CONDOR_CONFIG", None)
    home = world.base / "nch"  # short: the runtime dir under it must leave room for socket names
    home.mkdir(exist_ok=True)
    return dict(env, HOME=str(home))


@pytest.mark.e2e
@pytest.mark.real
def test_without_condor_config_htcondor_s_words_arrive_whole(world):
    """The real condor_ssh_to_job with no config: by hand, its lines on our stderr as it wrote them; through ssh,
    one line whole (OpenSSH prints a disconnect's first 400 bytes: it fits)."""
    env = _real_tools_without_config(world)
    by_hand = subprocess.run([tool("condor-job-proxy"), "1.0.job.condor"], env=env, capture_output=True, text=True,
                             timeout=60, stdin=subprocess.DEVNULL)
    assert by_hand.returncode != 0
    assert "  Either set CONDOR_CONFIG to point to a valid config source,\n" in by_hand.stderr, by_hand.stderr
    assert "  or put a \"condor_config\" file in /etc/condor/ /usr/local/etc/ or ~condor/\n" in by_hand.stderr
    through = world.run(world.ssh_argv("-o", "ControlMaster=no", "1.0.job.condor", "true"), check=False,
                             env=env)
    assert through.returncode == 255 and SENTENCE in through.stderr and "; " not in through.stderr, through.stderr
    assert through.stderr.count("Either set CONDOR_CONFIG") == 1, through.stderr
