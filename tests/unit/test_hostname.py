"""Property tests of the job host name grammar (proxycmd/hostname.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, example, given, settings, strategies as st

from proxycmd.hostname import (DEFAULT_SUFFIX, MAX_HOSTNAME, MAX_ID, HostnameError, JobAddress, is_profile_name,
                               parse)

EXPECTED = "expected CLUSTER[.PROC[.NODE]][.SCHEDD]"
EXTRA_SUFFIXES = ("ap2.condor", "cern-jobs", "x1.example.org")  # none lies under another
SUFFIXES = (DEFAULT_SUFFIX,) + EXTRA_SUFFIXES

ids = st.integers(0, MAX_ID)
clusters = st.integers(1, MAX_ID)
label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
first_label = label.filter(lambda text: not text.isdigit())
schedds = st.builds(lambda first, rest: ".".join([first] + rest), first_label, st.lists(label, max_size=3))


@st.composite
def addresses(draw) -> JobAddress:
    addr = JobAddress(cluster=draw(clusters), proc=draw(ids), node=draw(st.none() | ids),
                      schedd=draw(st.none() | schedds), suffix=draw(st.sampled_from(SUFFIXES)))
    assume(len(addr.hostname) <= MAX_HOSTNAME)
    return addr


profile_names = st.from_regex(r"[a-z]([a-z0-9-]{0,30}[a-z0-9])?", fullmatch=True)


@st.composite
def profile_addresses(draw) -> JobAddress:
    addr = JobAddress(cluster=0, proc=0, schedd=draw(st.none() | schedds), suffix=draw(st.sampled_from(SUFFIXES)),
                      profile=draw(profile_names))
    assume(len(addr.hostname) <= MAX_HOSTNAME)
    return addr


def refused(text: str, suffixes=SUFFIXES) -> str:
    with pytest.raises(HostnameError) as info:
        parse(text, suffixes)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message, message
    assert EXPECTED in message, message
    return message


# ----- accepted ---------------------------------------------------------------------------------------------
@settings(max_examples=200)
@given(addresses())
def test_round_trip(addr):
    assert parse(addr.hostname, SUFFIXES) == addr


@settings(max_examples=100)
@given(addresses())
def test_case_does_not_matter(addr):
    assert parse(addr.hostname.upper(), SUFFIXES) == addr


@settings(max_examples=100)
@given(addresses())
def test_a_trailing_dot_names_the_same_host(addr):
    """A fully qualified name ends in a dot: the same host, and ssh keeps the dot in %h (issue 24, item 5)."""
    assert parse(addr.hostname + ".", SUFFIXES) == addr
    assert parse(addr.hostname.upper() + ".", SUFFIXES) == addr


@pytest.mark.parametrize("text", ["1.0.job.condor..", ".", "..", "1.0.job.condor. "])
def test_only_one_trailing_dot(text):
    refused(text)


@given(clusters, st.sampled_from(SUFFIXES))
def test_short_forms(cluster, suffix):
    assert parse(f"{cluster}.{suffix}", SUFFIXES) == JobAddress(cluster, 0, suffix=suffix)
    assert parse(f"{cluster}.a.{suffix}", SUFFIXES) == JobAddress(cluster, 0, schedd="a", suffix=suffix)


def test_examples_from_the_docstring():
    assert parse("32.job.condor").job_id == "32.0"
    assert parse("32.0.1.job.condor") == JobAddress(32, 0, 1)
    assert parse("32.0.ap1.example.org.job.condor").schedd == "ap1.example.org"


# ----- profiles ---------------------------------------------------------------------------------------------
@settings(max_examples=200)
@given(profile_addresses())
def test_profile_round_trip(addr):
    assert parse(addr.hostname, SUFFIXES) == addr
    assert parse(addr.hostname.upper(), SUFFIXES) == addr
    assert is_profile_name(addr.profile)


@given(clusters, st.sampled_from(SUFFIXES))
def test_a_first_label_of_digits_is_still_a_job_id(cluster, suffix):
    addr = parse(f"{cluster}.{suffix}", SUFFIXES)
    assert addr.profile is None and addr.cluster == cluster


def test_profile_examples():
    assert parse("gpu.job.condor") == JobAddress(0, 0, profile="gpu")
    assert parse("GPU.ap1.example.org.job.condor") == JobAddress(0, 0, schedd="ap1.example.org", profile="gpu")
    assert parse("big-mem2.job.condor").hostname == "big-mem2.job.condor"


@pytest.mark.parametrize("text, why", [
    ("gpu-.job.condor", "is not a profile name"),
    ("gpu.0.job.condor", "all-digit label"),
    ("gpu.1.0.job.condor", "all-digit label"),
    ("1gpu.job.condor", "does not start with a cluster number"),
    ("g" * 64 + ".job.condor", "longer than 63"),
    ("gpu.-x.job.condor", "is not a DNS label"),
])
def test_refuses_bad_profile_names(text, why):
    assert why in refused(text)


# ----- refused ------------------------------------------------------------------------------------------------
METACHARACTERS = ";|&$`'\"\\<>(){}*?!#~=,:/@%^[]+"
WHITESPACE = " \t\n\r\x0b\x0c"


@settings(max_examples=150)
@given(addresses(), st.sampled_from(METACHARACTERS + WHITESPACE), st.data())
def test_refuses_shell_metacharacters_quotes_and_whitespace(addr, bad, data):
    name = addr.hostname
    at = data.draw(st.integers(0, len(name)))
    refused(name[:at] + bad + name[at:])


@example("1.0.job.condor\nProxyCommand touch x")
@example("1.0;touch x.job.condor")
@example("$(reboot).job.condor")
@given(st.text(min_size=1).filter(lambda t: not re.fullmatch(r"[A-Za-z0-9.-]+", t)))
def test_refuses_anything_outside_the_alphabet(text):
    refused(text)


@settings(max_examples=100)
@given(addresses(), st.data())
def test_refuses_empty_labels(addr, data):
    name = addr.hostname
    dots = [i for i, c in enumerate(name) if c == "."]
    at = data.draw(st.sampled_from(dots))
    refused(name[:at] + "." + name[at:])
    refused("." + name)


@given(addresses())
def test_refuses_leading_dash(addr):
    refused("-" + addr.hostname)


@given(st.integers(MAX_HOSTNAME - len(DEFAULT_SUFFIX), 400))
def test_refuses_names_longer_than_253(length):
    schedd = ".".join(["a" * 60] * 8)[: length]
    name = f"1.0.{schedd.strip('.')}.{DEFAULT_SUFFIX}"
    assume(len(name) > MAX_HOSTNAME)
    refused(name)


@given(st.integers(MAX_ID + 1, 10**15), st.integers(0, 2))
def test_refuses_numbers_out_of_range(big, where):
    numbers = [1, 0, 0]
    numbers[where] = big
    refused(".".join(map(str, numbers[: where + 1])) + ".job.condor")


@given(clusters, st.integers(0, 2), st.integers(1, 3))
def test_refuses_leading_zeros(cluster, where, zeros):
    parts = [str(cluster), "0", "0"][: where + 1]
    parts[where] = "0" * zeros + parts[where]
    refused(".".join(parts) + ".job.condor")


def test_refuses_cluster_zero():
    refused("0.0.job.condor")


@given(clusters, ids, ids, st.integers(0, MAX_ID), schedds)
def test_refuses_all_digit_first_schedd_label(cluster, proc, node, digits, rest):
    refused(f"{cluster}.{proc}.{node}.{digits}.{rest}.job.condor")


@given(addresses(), st.sampled_from(["example.org", "condor", "job.condor.evil.com", "jobxcondor"]))
def test_refuses_wrong_suffix(addr, other):
    name = addr.hostname[: -len(addr.suffix)] + other
    assume(not any(name.endswith("." + s) for s in SUFFIXES))
    refused(name)


@pytest.mark.parametrize("text", ["", ".job.condor", "job.condor", "a.0.job.condor", "1..job.condor",
                                  "1.0.-ap.job.condor", "1.0.ap-.job.condor", "1.0." + "a" * 64 + ".job.condor"])
def test_refuses_assorted(text):
    refused(text)


@given(profile_addresses(), st.sampled_from(METACHARACTERS + WHITESPACE + "_"), st.data())
def test_profile_names_refuse_metacharacters(addr, bad, data):
    name = addr.hostname
    at = data.draw(st.integers(0, len(addr.profile)))
    refused(name[:at] + bad + name[at:])


# ----- the grammar's words, checked without re (hostname.py runs on every connection) --------------------------
# The regular expressions the grammar had: the hand-written checks must accept exactly what they accept.
LABEL_RE = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
NUMBER_RE = re.compile(r"(0|[1-9][0-9]*)\Z")
PROFILE_RE = re.compile(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?\Z")
words = (st.text(alphabet="az09-Z.\n\t _é٣", max_size=70) | st.from_regex(r"[a-z0-9-]{0,66}", fullmatch=True)
         | st.from_regex(r"[0-9]{0,12}", fullmatch=True) | st.text(max_size=8))


@settings(max_examples=2000)
@given(words)
@example("a" * 63)
@example("a" * 64)
@example("0")
@example("00")
@example("a-")
@example("-a")
@example("٣")
@example("1\n")
def test_the_word_checks_accept_what_the_old_regular_expressions_did(text):
    from proxycmd import hostname

    assert hostname._is_label(text) == bool(LABEL_RE.match(text))
    assert hostname._is_number(text) == bool(NUMBER_RE.match(text))
    assert hostname._is_profile(text) == bool(PROFILE_RE.match(text)) == is_profile_name(text)


# ----- the early try's own reading of the host name (proxycmd/backends/condor/early.py) ----------------------
from proxycmd.backends.condor import early  # noqa: E402


@given(st.one_of(addresses().map(lambda a: a.hostname), st.text(alphabet="0123456789.jobcondrJOB-x", max_size=30)))
@example("32.job.condor")
@example("32.0.JOB.Condor")
@example("0.0.job.condor")
@example("007.0.job.condor")
@example("3.0.1.job.condor")
@example("9999999999.0.job.condor")
def test_the_early_try_names_the_job_the_grammar_names_or_none(name):
    """early.job_id reads only `CLUSTER[.PROC].job.condor`; whenever it names a job, parse names the same
    one (a disagreement would only cost a wasted try, but there should be none)."""
    found = early.job_id(name)
    if found is None:
        return
    addr = parse(name)
    assert (addr.classic_id, addr.schedd, addr.profile) == (found, None, None)
