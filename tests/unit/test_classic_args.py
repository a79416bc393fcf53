"""The classic command line: option parsing as HTCondor's condor_ssh_to_job does it, HTCondor's argument
syntax for -ssh, and the program's argv.  Pure functions, no processes."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given, strategies as st

from proxycmd.errors import UsageError
from proxycmd.hostname import JobAddress
from sshconfig.classic.args import (
    OPTIONS, USAGE, ClassicRequest, ShowHelp, host_word, join_v2, parse, program_argv, proxy_command, split_v2,
)

DIR = "/run/user/1000/condor-job-proxy/classic/0123456789abcdef"
PROXY = "/venv/bin/condor-job-proxy"


def argv_for(request: ClassicRequest, user: str = "condor-user", proxy: str = PROXY, session_dir: str = DIR):
    return program_argv(request, session_dir=session_dir, user=user, proxy=proxy)


# ----- options -------------------------------------------------------------------------------------------------
def test_defaults():
    request = parse(["32.0"])
    assert request == ClassicRequest(job=JobAddress(32, 0))
    assert request.program == ("ssh",) and request.command == () and request.shells is None
    assert not (request.auto_retry or request.remove_on_interrupt or request.x11 or request.debug)


@pytest.mark.parametrize("text, job", [
    ("32", JobAddress(32, 0)),
    ("32.0", JobAddress(32, 0)),
    ("32.4", JobAddress(32, 4)),
    ("32.0.1", JobAddress(32, 0, node=1)),
])
def test_job_ids(text, job):
    assert parse([text]).job == job


def test_every_option():
    request = parse(["-debug", "-name", "ap1.example.org", "-pool", "cm.example.org:9618", "-auto-retry",
                     "-remove-on-interrupt", "-shells", "/bin/zsh,,/bin/bash", "-ssh", "sftp -b -",
                     "-keygen-options", "-t ed25519", "-X", "32.1", "ls", "-l"])
    assert request == ClassicRequest(
        job=JobAddress(32, 1), command=("ls", "-l"), program=("sftp", "-b", "-"), schedd="ap1.example.org",
        pool="cm.example.org:9618", keygen_options=("-t", "ed25519"), shells=("/bin/zsh", "/bin/bash"),
        auto_retry=True, remove_on_interrupt=True, x11=True, debug=True)


def test_session_key_is_ecdsa_p256_unless_keygen_options_are_given():
    assert parse(["32"]).keygen_options == ("-t", "ecdsa", "-b", "256")
    assert parse(["-keygen-options", "", "32"]).keygen_options == ()  # the starter's own default
    assert parse(["-k", "-t rsa -b 4096", "32"]).keygen_options == ("-t", "rsa", "-b", "4096")


def test_everything_after_the_job_is_the_command():
    request = parse(["32", "-debug", "echo $_CONDOR_JOB_PIDS", "--"])
    assert request.command == ("-debug", "echo $_CONDOR_JOB_PIDS", "--")
    assert not request.debug


def test_what_rsync_passes():
    request = parse(["-l", "anybody", "32.0", "rsync", "--server", "-vlogDtpre.iLsfxCIvu", ".", "back.dat"])
    assert request.login == "anybody"
    assert request.job == JobAddress(32, 0)
    assert request.command == ("rsync", "--server", "-vlogDtpre.iLsfxCIvu", ".", "back.dat")
    assert parse(["-lbob", "32"]).login == "bob"


@pytest.mark.parametrize("word, field, value", [
    ("-d", "debug", True),
    ("-deb", "debug", True),
    ("--debug", "debug", True),
    ("-a", "auto_retry", True),
    ("-auto", "auto_retry", True),
    ("-r", "remove_on_interrupt", True),
])
def test_flags_may_be_abbreviated(word, field, value):
    assert getattr(parse([word, "32"]), field) == value


@pytest.mark.parametrize("word, field, value", [
    ("-n", "schedd", "ap1"),
    ("--name", "schedd", "ap1"),
    ("-p", "pool", "ap1"),  # -pool comes before HTCondor's internal -proxy
    ("-s", "program", ("ap1",)),  # -ssh comes before -shells, as in HTCondor's tool
    ("-sh", "shells", ("ap1",)),
    ("-k", "keygen_options", ("ap1",)),
])
def test_options_with_a_value_may_be_abbreviated(word, field, value):
    assert getattr(parse([word, "ap1", "32"]), field) == value


def test_values_may_start_with_a_dash_and_the_last_one_wins():
    request = parse(["-keygen-options", "-t", "-ssh", "scp", "-ssh", "sftp", "32"])
    assert request.keygen_options == ("-t",)
    assert request.program == ("sftp",)


def test_lower_x_undoes_upper_x():
    assert parse(["-X", "-x", "32"]).x11 is False
    assert parse(["-x", "-X", "32"]).x11 is True


def test_double_dash_ends_the_options():
    request = parse(["-debug", "--", "32", "--", "x"])
    assert request.debug and request.job == JobAddress(32, 0) and request.command == ("--", "x")


@pytest.mark.parametrize("argv", [["-help"], ["-h"], ["--help"], ["-debug", "-help", "32"], ["-he", "nonsense"]])
def test_help(argv):
    with pytest.raises(ShowHelp):
        parse(argv)


@pytest.mark.parametrize("argv, message", [
    ([], "You must specify a job!"),
    (["-debug"], "You must specify a job!"),
    (["--"], "You must specify a job!"),
    (["-bogus", "32"], "Unrecognized argument: -bogus"),
    (["-bogus", "-help"], "Unrecognized argument: -bogus"),  # as HTCondor: left to right
    (["-debugging", "32"], "Unrecognized argument: -debugging"),
    (["-", "32"], "Unrecognized argument: -"),
    (["---name", "x", "32"], "Unrecognized argument: ---name"),
    (["-proxy", "/tmp/fdpass"], "Unrecognized argument: -proxy"),
    (["-name"], "-name requires an argument"),
    (["-l"], "-l requires an argument"),
    (["-ssh", "", "32"], "-ssh needs a program"),
    (["-ssh", "   ", "32"], "-ssh needs a program"),
    (["-ssh", "'sftp -b", "32"], "unbalanced quote starting here: 'sftp -b"),
    (["-keygen-options", "-C 'x", "32"], "bad -keygen-options"),
    (["abc"], "Invalid job id: 'abc'"),
    (["0.0"], "Invalid job id"),
    (["32.x"], "Invalid job id"),
    (["32.0.1.2"], "Invalid job id"),
    (["32.0.job.condor"], "Invalid job id"),
    (["032"], "Invalid job id"),
])
def test_usage_errors(argv, message):
    with pytest.raises(UsageError) as info:
        parse(argv)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 2


def test_usage_lists_every_option():
    listed = [line.split()[0] for line in USAGE.splitlines() if line.startswith(" -")]
    assert sorted(listed) == sorted([f"-{name}" for name in OPTIONS] + ["-X", "-x", "-l", "--"])
    assert " ".join(USAGE.split("\n\n")[0].split()) == \
        "Usage: condor-ssh-to-job [OPTIONS] { cluster | cluster.proc | cluster.proc.node } [command]"
    assert "condor-job-proxy" in USAGE
    assert not [line for line in USAGE.splitlines() if len(line) > 80]  # -help fits 80 columns


@pytest.mark.parametrize("word", ["--version", "-version", "-vers"])
def test_version_is_shown_not_refused(word):
    from sshconfig.classic.args import ShowVersion

    with pytest.raises(ShowVersion):
        parse([word])


# ----- HTCondor's argument syntax for -ssh ------------------------------------------------------------------
@pytest.mark.parametrize("text, words", [
    ("sftp", ["sftp"]),
    ("  sftp   -b  - ", ["sftp", "-b", "-"]),
    ("ssh\t-v\n-C\r", ["ssh", "-v", "-C"]),
    ("ssh -o 'ProxyJump none'", ["ssh", "-o", "ProxyJump none"]),
    ("'it''s'", ["it's"]),
    ("'a'''", ["a'"]),
    ("a'b c'd", ["ab cd"]),
    ("'' x", ["", "x"]),
    ("'a' 'b'", ["a", "b"]),
    ('"x y"', ['"x', 'y"']),  # double quotes are ordinary characters
    ("a\\ b", ["a\\", "b"]),  # and so are backslashes
    ("", []),
    ("   ", []),
])
def test_split_v2(text, words):
    assert split_v2(text) == words


@pytest.mark.parametrize("text", ["'a", "a 'b", "'a''", "x'''"])
def test_split_v2_unbalanced(text):
    with pytest.raises(ValueError, match="unbalanced quote"):
        split_v2(text)


@given(st.lists(st.text()))
def test_join_then_split_gives_the_words_back(words):
    assert split_v2(join_v2(words)) == words


@given(st.text(alphabet=st.sampled_from(list("ab '\t\"\\"))))
def test_split_of_any_text_is_stable(text):
    try:
        words = split_v2(text)
    except ValueError:
        assert text.count("'") % 2 == 1  # only an unbalanced quote is an error
        return
    assert split_v2(join_v2(words)) == words


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1), min_size=1))
def test_ssh_option_round_trip(words):
    assert parse(["-ssh", join_v2(words), "32"]).program == tuple(words)


# ----- the program's argv -----------------------------------------------------------------------------------
def test_ssh_argv_in_htcondors_order():
    argv = argv_for(parse(["32", "echo", "hi there"]))
    assert argv == [
        "ssh", "-S", "none",
        "-oUser=condor-user",
        f"-oIdentityFile={DIR}/ssh_key",
        "-oIdentitiesOnly=yes",
        "-oIdentityAgent=none",
        "-oStrictHostKeyChecking=yes",
        f"-oUserKnownHostsFile={DIR}/known_hosts",
        f"-oGlobalKnownHostsFile={DIR}/known_hosts",
        "-oUpdateHostKeys=no",
        f"-oProxyCommand={PROXY} --from-socket {DIR}/fdpass condor-job.32.0",
        "-oProxyUseFdpass=yes",
        "-oControlMaster=no",
        "-oControlPath=none",
        "condor-job.32.0", "echo", "hi there",
    ]


def test_extra_words_and_x11_come_right_after_the_program():
    argv = argv_for(parse(["-ssh", "/usr/bin/ssh -v -o 'LogLevel debug3'", "-X", "32"]))
    assert argv[:7] == ["/usr/bin/ssh", "-v", "-o", "LogLevel debug3", "-X", "-S", "none"]


def test_scp_gets_no_host_and_no_dash_s():
    argv = argv_for(parse(["-ssh", "scp", "32", "remote:outputfile.dat", "."]), user="alice")
    assert "-S" not in argv and "condor-job.32.0" not in argv
    assert argv[0] == "scp" and argv[1] == "-oUser=alice"
    assert argv[-2:] == ["remote:outputfile.dat", "."]


def test_sftp_gets_the_host_but_no_dash_s():
    argv = argv_for(parse(["-ssh", "sftp -b batch", "32.0.1"]))
    assert argv[:3] == ["sftp", "-b", "batch"]
    assert "-S" not in argv and argv[-1] == "condor-job.32.0.1"


def test_proxy_command_is_quoted_for_the_shell_and_for_ssh_tokens():
    command = proxy_command("/opt/my tools/100%/condor-job-proxy", "/run/x/fdpass", host_word(JobAddress(32, 0)))
    assert command == "'/opt/my tools/100%%/condor-job-proxy' --from-socket /run/x/fdpass condor-job.32.0"
    assert shlex.split(command.replace("%%", "%")) == [
        "/opt/my tools/100%/condor-job-proxy", "--from-socket", "/run/x/fdpass", "condor-job.32.0"]


def test_login_does_not_change_the_user():
    argv = argv_for(parse(["-l", "anybody", "32", "true"]), user="condor-user")
    assert "-oUser=condor-user" in argv and not any("anybody" in word for word in argv)
