"""The rendered block: golden files, quoting checked with the real ssh client, speed.

Rewrite the golden files with ``UPDATE_GOLDEN=1 python -m pytest tests/unit/test_render.py``.
"""

from __future__ import annotations

import json
import re
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from proxycmd.session import JobInfo
from sshconfig.block.splice import BEGIN, END
from sshconfig.block.quoting import RenderError
from sshconfig.block.render import RenderContext, job_hostname, render_block, render_hosts
from sshconfig.block.settings import Route, Settings

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
PROXY = "/opt/condor-job-proxy/bin/condor-job-proxy"
RUNDIR = "/home/alice/.ssh/cjp"
T0 = 1795000000.0  # 2026-11-18 11:06:40 UTC

JOBS = [
    JobInfo(33, 0, "idle", cmd="/usr/bin/python3 train.py --epochs 20", batch_name="sweep", since=T0 + 60),
    JobInfo(32, 0, "running", cmd="/bin/sleep 600", batch_name="nightly", remote_host="slot1@exec7", since=T0),
    JobInfo(7, 3, "running", cmd="./analyse", remote_host="slot1_2@exec2.example.org", since=T0 - 3600,
            schedd="ap2.example.org"),
]

CASES = {
    "defaults": Settings(),
    "sim": Settings(sim_root="/root/sim pool"),
    "no-multiplex": Settings(multiplex=False, wait=False, control_persist="1h"),
    "user-forward-agent": Settings(user="alice", forward_agent=True),
    "routes": Settings(schedd="ap1.example.org", pool="cm.example.org:9618",
                       routes=[Route("ap2.condor", "ap2.example.org"), Route("cern.job.condor", None, "cm.cern.ch"),
                               Route("osg", "s2@ap40.osg.org", "cm.osg.org")]),
    "jobs": Settings(),
    "starter-key": Settings(keygen_options=""),
    "shared-known-hosts": Settings(),  # OpenSSH before 8.4: one known_hosts for every login node
}
SHARED_KNOWN_HOSTS_CASES = {"shared-known-hosts"}


def context(settings: Settings, **kw) -> RenderContext:
    return RenderContext(proxy=kw.pop("proxy", PROXY), runtime_dir=kw.pop("runtime_dir", RUNDIR),
                         settings=settings, now=kw.pop("now", None), **kw)


def rendered(case: str) -> str:
    return render_block(context(CASES[case], shared_known_hosts=case in SHARED_KNOWN_HOSTS_CASES),
                        JOBS if case == "jobs" else ())


def ssh_g(config: Path, host: str, *extra: str) -> dict:
    """`ssh -G` as {option: [values]} (ssh must accept the file)."""
    out = subprocess.run(["ssh", "-G", "-F", str(config), *extra, host], capture_output=True, text=True,
                         timeout=20)
    assert out.returncode == 0, out.stderr
    options: dict = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition(" ")
        options.setdefault(key, []).append(value)
    return options


needs_ssh = pytest.mark.skipif(shutil.which("ssh") is None, reason="needs the OpenSSH client")


# ----- golden files -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case):
    path = GOLDEN / f"{case}.txt"
    text = rendered(case)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run UPDATE_GOLDEN=1 python -m pytest {__file__}"
    assert text == path.read_text(), f"{case}: the block changed; if on purpose, rerun with UPDATE_GOLDEN=1"


@needs_ssh
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_parses_with_the_real_client(case, tmp_path):
    config = tmp_path / "config"
    config.write_text(rendered(case))
    options = ssh_g(config, "32.0.job.condor")
    node = socket.gethostname()  # what ssh's %l is (ssh.c: gethostname, as it is)
    assert options["proxyusefdpass"] == ["yes"]
    assert options["identityagent"] == [f"{RUNDIR}/host-{node}/agent.sock"]
    assert options["identityfile"] == ["none"]
    assert options["stricthostkeychecking"] == ["true"]
    if case in SHARED_KNOWN_HOSTS_CASES:
        assert options["userknownhostsfile"] == [f"{RUNDIR}/known_hosts.shared"]
        assert "--shared-known-hosts" in options["proxycommand"][0]
    else:
        assert options["userknownhostsfile"] == [f"{RUNDIR}/host-{node}/known_hosts"]
        assert "--shared-known-hosts" not in options["proxycommand"][0]
    assert options["proxycommand"][0].startswith(f"'{PROXY}' --runtime-dir '{RUNDIR}'")
    assert options["proxycommand"][0].endswith("--login '%r' '%h'")
    other = ssh_g(config, "example.org")  # Match all: nothing of ours leaks to other hosts
    assert "proxycommand" not in other and other["identityfile"] != ["none"]


def test_block_shape():
    text = rendered("defaults")
    lines = text.split("\n")
    assert lines[0] == BEGIN and lines[-2] == END and lines[-1] == ""
    assert lines[-3] == "Match all"
    assert 'Match host "*.job.condor,*.job.condor." user "*\'*,*!*"' in lines
    assert 'Match host "*.job.condor,*.job.condor.,!*\'*,!*!*"' in lines
    assert lines[lines.index('Match host "*.job.condor,*.job.condor." user "*\'*,*!*"') + 1] == "    ProxyCommand none"


def test_options_follow_the_settings():
    text = render_block(context(Settings(multiplex=False, wait=False, user="bob", forward_agent=True,
                                         server_alive_interval=5, server_alive_count_max=9, connect_timeout=7)))
    for line in ["ControlMaster no", "ControlPath none", "User bob", "ForwardAgent yes", "ServerAliveInterval 5",
                 "ServerAliveCountMax 9", "ConnectTimeout 7"]:
        assert f"\n    {line}\n" in text
    assert "ControlPersist" not in text and "--no-wait --forward-agent --login" in text
    defaults = rendered("defaults")
    assert "User " not in defaults and "--suffix" not in defaults
    assert "\n    ForwardAgent no\n" in defaults and "ForwardAgent yes" not in defaults
    assert "--sim" not in defaults and "--no-wait" not in defaults and "--forward-agent" not in defaults


def test_session_key_options_reach_the_proxy_only_when_not_the_default():
    from proxycmd.sessionkey import DEFAULT_KEYGEN_OPTIONS
    from sshconfig.block.settings import to_dict

    assert DEFAULT_KEYGEN_OPTIONS == "-t ecdsa -b 256" and Settings().keygen_options == DEFAULT_KEYGEN_OPTIONS
    assert "--keygen-options" not in rendered("defaults")  # the proxy's own default (ECDSA) applies
    assert "--keygen-options '' --login" in rendered("starter-key")  # '': the starter's own default
    text = render_block(context(Settings(keygen_options="-t ed25519")))
    assert "--keygen-options '-t ed25519' --login" in text
    assert "keygen_options" not in to_dict(Settings())
    assert to_dict(Settings(keygen_options="")) == {"keygen_options": ""}


# ----- the real client reads what we mean ------------------------------------------------------------------
@needs_ssh
def test_our_options_beat_a_users_host_star(tmp_path):
    config = tmp_path / "config"
    user_part = ("Host *\n    IdentityFile ~/.ssh/id_mine\n    IdentityAgent /tmp/their-agent\n    User bob\n"
                 "    ControlMaster no\n    ControlPath ~/.ssh/cm-%r@%h\n    IdentitiesOnly yes\n"
                 "    ProxyCommand nc %h %p\n")
    config.write_text(render_block(context(Settings(user="alice"))) + user_part)
    ours = ssh_g(config, "32.0.job.condor")
    # IdentityFile adds up instead of keeping the first value: ours comes first, and ssh offers the agent's
    # keys (the job key) before any file's, so theirs is never tried while the job key works.
    assert ours["identityfile"][0] == "none"
    assert ours["identityagent"] == [f"{RUNDIR}/host-{socket.gethostname()}/agent.sock"]
    assert ours["user"] == ["alice"]
    assert ours["controlmaster"] == ["auto"]
    assert re.fullmatch(f"{RUNDIR}/[0-9a-f]{{40}}", ours["controlpath"][0]), ours["controlpath"]
    assert ours["identitiesonly"] == ["no"]
    assert ours["proxycommand"][0].startswith(f"'{PROXY}'")
    theirs = ssh_g(config, "example.org")
    assert theirs["user"] == ["bob"] and theirs["identitiesonly"] == ["yes"]


@needs_ssh
def test_global_options_after_the_block_still_apply_to_other_hosts(tmp_path):
    config = tmp_path / "config"
    config.write_text(render_block(context(Settings())) + "User carol\nCompression yes\nPort 2222\n\nHost x\n    User x\n")
    theirs = ssh_g(config, "example.org")
    assert theirs["user"] == ["carol"] and theirs["compression"] == ["yes"] and theirs["port"] == ["2222"]
    assert ssh_g(config, "32.0.job.condor")["user"] == ["carol"]  # we set no User: theirs applies


@needs_ssh
@pytest.mark.parametrize("user", ["a'b", "a!b"])
def test_a_user_name_with_a_quote_or_a_bang_gets_no_proxy(tmp_path, user):
    config = tmp_path / "config"
    config.write_text(f"Host 1.0.job.condor\n    User \"{user}\"\n" + rendered("defaults"))
    assert "proxycommand" not in ssh_g(config, "1.0.job.condor")
    config.write_text(rendered("defaults"))
    assert "proxycommand" in ssh_g(config, "1.0.job.condor")
    if "'" not in user:  # ssh with the CVE-2023-51385 fix refuses a quote on its command line; not a '!'
        assert "proxycommand" not in ssh_g(config, "1.0.job.condor", "-l", user)


@needs_ssh
@pytest.mark.parametrize("host", ["1.0.job.condor!#:0", "1.0!x.job.condor", "1.0.job.condor!."])
def test_a_host_name_with_a_bang_is_not_ours(tmp_path, host):
    """csh and tcsh expand `!` history even inside the ProxyCommand's single quotes: such a name never
    reaches it (ssh then looks the name up, and fails).  ssh with the CVE-2023-51385 fix (9.6, and Debian
    12's 9.2) refuses a quote in a name on its command line, but takes a '!'."""
    config = tmp_path / "config"
    config.write_text(rendered("defaults"))
    assert "proxycommand" not in ssh_g(config, host)
    assert "condor-job-proxy" in ssh_g(config, "1.0.job.condor")["proxycommand"][0]


@needs_ssh
def test_extra_suffixes_reach_their_own_route(tmp_path):
    config = tmp_path / "config"
    config.write_text(rendered("routes"))
    main = ssh_g(config, "1.0.job.condor")["proxycommand"][0]
    assert "--schedd 'ap1.example.org' --pool 'cm.example.org:9618' --login" in main
    nested = ssh_g(config, "1.0.cern.job.condor")["proxycommand"][0]  # under job.condor, yet its own route
    assert "--pool 'cm.cern.ch' --pool-only --suffix 'cern.job.condor'" in nested and "--schedd" not in nested
    osg = ssh_g(config, "5.0.osg")["proxycommand"][0]
    assert "--schedd 's2@ap40.osg.org' --pool 'cm.osg.org' --suffix 'osg'" in osg
    assert "--schedd 'ap2.example.org' --suffix 'ap2.condor'" in ssh_g(config, "5.0.ap2.condor")["proxycommand"][0]


@needs_ssh
@pytest.mark.parametrize("where", ["cjp test/it's 100%/bin", "cjp-$HOME-`id`-;x"])
def test_awkward_paths_reach_the_proxy_as_one_word_each(tmp_path, where):
    """Run the real ssh: the shell must hand the proxy exactly the paths we rendered."""
    bindir = tmp_path / where
    bindir.mkdir(parents=True)
    record = tmp_path / "argv.json"
    proxy = bindir / "fake proxy"
    proxy.write_text(f"#!{sys.executable}\nimport json, sys\n"
                     f"json.dump(sys.argv[1:], open({str(record)!r}, 'w'))\n")
    proxy.chmod(0o755)
    rundir = str(bindir / "run dir")
    sim = str(bindir / "sim's root %h")
    config = tmp_path / "config"
    config.write_text(render_block(context(Settings(sim_root=sim, multiplex=False), proxy=str(proxy),
                                           runtime_dir=rundir)))
    env = dict(os.environ, SHELL="/bin/sh", HOME=str(tmp_path))
    subprocess.run(["ssh", "-F", str(config), "-l", "joe", "32.0.job.condor", "true"], env=env,
                   capture_output=True, timeout=30)
    assert json.loads(record.read_text()) == ["--runtime-dir", rundir, "--sim", sim, "--login", "joe",
                                              "32.0.job.condor"]


@pytest.mark.parametrize("rundir", ['/run/a"b', "/run/a\\b", "relative/dir", "/run/${HOME}", "/run/a\nb"])
def test_runtime_dirs_ssh_config_cannot_carry_are_refused(rundir):
    with pytest.raises(RenderError) as info:
        render_block(context(Settings(), runtime_dir=rundir))
    assert "\n" not in str(info.value)


def test_a_newline_in_the_proxy_path_is_refused():
    with pytest.raises(RenderError):
        render_block(context(Settings(), proxy="/opt/x\nProxyCommand evil"))


# ----- job entries ---------------------------------------------------------------------------------------------
def test_job_entries_are_sorted_and_deduplicated():
    text = render_hosts(JOBS + JOBS[:1], Settings())
    hosts = [line for line in text.split("\n") if line.startswith("Host ")]
    assert hosts == ["Host 32.0.job.condor", "Host 33.0.job.condor", "Host 7.3.ap2.example.org.job.condor"]
    assert len(text.split("\n")) == 2 * len(hosts) + 1


def test_job_text_cannot_break_out_of_its_comment():
    evil = JobInfo(1, 0, "running\nHost *", cmd="x\nProxyCommand touch /tmp/pwned\r\n\x00",
                   batch_name="a\u2028b\x85c", remote_host="\x1b[31mred")
    text = render_hosts([evil], Settings())
    lines = text.split("\n")
    assert lines == ["Host 1.0.job.condor", lines[1], ""] and lines[1].startswith("    # ")
    assert all(ch.isprintable() for ch in lines[1])


def test_long_fields_are_cut():
    text = render_hosts([JobInfo(1, 0, "running", cmd="x" * 500)], Settings())
    assert len(text.split("\n")[1]) < 120 and "..." in text


def test_the_clock_only_clamps_future_times():
    job = JobInfo(1, 0, "running", since=T0 + 7200)
    assert "2026-11-18 13:06" in render_hosts([job], Settings())
    assert "2026-11-18 11:06" in render_hosts([job], Settings(), now=T0)


def test_job_hostnames():
    settings = Settings(schedd="ap1.example.org")
    assert job_hostname(JobInfo(1, 2, "running"), settings) == "1.2.job.condor"
    assert job_hostname(JobInfo(1, 2, "running", schedd="ap1.example.org"), settings) == "1.2.job.condor"
    assert job_hostname(JobInfo(1, 2, "running", schedd="AP2.example.org"), settings) == \
        "1.2.ap2.example.org.job.condor"
    assert job_hostname(JobInfo(1, 2, "running", schedd="s2@ap2"), settings) is None
    assert job_hostname(JobInfo(1, 2, "running", schedd="99.example.org"), settings) is None
    assert job_hostname(JobInfo(0, 0, "running"), settings) is None
    assert job_hostname(JobInfo(1, 0, "running"), Settings(suffix="ap.condor")) == "1.0.ap.condor"


def test_kept_hosts_are_used_as_given():
    hosts = "Host 5.0.job.condor\n    # kept\n"
    assert hosts in render_block(context(Settings()), JOBS, hosts=hosts)
    assert "32.0" not in render_block(context(Settings()), JOBS, hosts=hosts)


def test_created_note():
    from sshconfig.block.splice import CREATED_NOTE

    assert render_block(context(Settings(), created_file=True)).split("\n")[1] == CREATED_NOTE
    assert CREATED_NOTE not in rendered("defaults")


def test_ten_thousand_jobs_each_get_their_host_entry():
    """Every one of 10,000 jobs gets its own entry, in order (how long it takes: bench/bench_render.py)."""
    jobs = [JobInfo(1000 + i, i % 7, "running" if i % 3 else "idle", cmd=f"/bin/job --n {i}", batch_name="b",
                    remote_host=f"slot{i % 32}@exec{i % 500}", since=T0 + i) for i in range(10_000)]
    text = render_block(context(Settings()), jobs, )
    assert text.count("\nHost ") == 10_000
    hosts = [line.split()[1] for line in text.splitlines() if line.startswith("Host ") and "*" not in line]
    assert hosts == [f"{1000 + i}.{i % 7}.job.condor" for i in range(10_000)]


@needs_ssh
def test_a_users_forward_agent_yes_cannot_forward_our_agent(tmp_path):
    """A `Host *` `ForwardAgent yes` below the block must not forward our agent (IdentityAgent) into the
    job: the block says `ForwardAgent no` unless `setup --forward-agent`."""
    config = tmp_path / "config"
    config.write_text(rendered("defaults") + "Host *\n    ForwardAgent yes\n")
    assert ssh_g(config, "32.0.job.condor")["forwardagent"] == ["no"]
    assert ssh_g(config, "example.org")["forwardagent"] == ["yes"]  # the user's other hosts keep theirs
    config.write_text(render_block(context(Settings(forward_agent=True))) + "Host *\n    ForwardAgent no\n")
    assert ssh_g(config, "32.0.job.condor")["forwardagent"] == ["yes"]


def test_socket_paths_fit_for_the_longest_runtime_dir_we_accept():
    """Every socket path in a runtime dir that check_socket_room accepts fits in sun_path (104 bytes on
    macOS, NUL included), ssh's expanded ControlPath (%C: 40 hex digits) included."""
    from proxycmd import paths

    for length in range(20, 120):
        rundir = "/" + "d" * (length - 1)
        try:
            paths.check_socket_room(rundir)
        except paths.PathError as exc:
            assert "--runtime-dir" in str(exc) and length > 40
            continue
        control = paths.control_path(Path(rundir)).replace("%C", "f" * 40) + ".0123456789abcdef"  # ssh's temp name
        for sock in (control, str(paths.agent_socket(Path(rundir))), f"{rundir}/{paths.CLASSIC_FDPASS}"):
            assert len(sock.encode()) <= paths.SOCKET_PATH_MAX


@needs_ssh
def test_ssh_and_the_proxy_expand_the_host_directory_alike(tmp_path):
    """IdentityAgent's %l (ssh's expansion) names the directory the proxy and agent use (ours)."""
    from proxycmd import paths

    config = tmp_path / "config"
    config.write_text(render_block(context(Settings(), runtime_dir="/home/al 100%/.ssh/cjp")))
    options = ssh_g(config, "32.0.job.condor")
    rundir = Path("/home/al 100%/.ssh/cjp")
    assert options["identityagent"] == [str(paths.agent_socket(rundir))]
    assert options["userknownhostsfile"] == [str(paths.known_hosts(rundir))]
    assert paths.agent_socket(rundir).parent == paths.control_socket(rundir).parent == paths.host_dir(rundir)


def test_wait_timeout_reaches_the_proxy_command_as_one_plain_number():
    assert "--wait-timeout 600 --login" in render_block(context(Settings(wait_timeout=600.0)))
    assert "--wait-timeout 2.5 --login" in render_block(context(Settings(wait_timeout=2.5)))
    assert "--wait-timeout" not in render_block(context(Settings(wait_timeout=600.0, wait=False)))
    assert "--wait-timeout" not in rendered("defaults")


def test_only_a_job_on_a_host_names_its_execute_host():
    idle = JobInfo(5, 0, "idle", cmd="sleep 9", remote_host="slot1@vm", since=T0)
    running = idle._replace(cluster=6, status="running")
    text = render_hosts([idle, running], Settings())
    assert "# cmd: sleep 9 | idle since" in text
    assert "# cmd: sleep 9 | on: slot1@vm | running since" in text
