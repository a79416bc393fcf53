"""doctor's table from given rows: it fits 80 columns, fixes sit under their rows, paths wrap after a slash
and commands stay whole on lines of their own; and the paths doctor checks, as read from `ssh -G`'s output.
No pool and no sshd (doctor against a pool: tests/sim/test_doctor.py)."""

from __future__ import annotations

from sshconfig.commands import doctor as doctor_mod
from sshconfig.block.resolved import from_ssh_g


def test_the_table_fits_80_columns_with_fixes_under_their_rows():
    checks = [doctor_mod.Check("ssh config", doctor_mod.FAIL, "x" * 10 + " word" * 40, "move it " + "y " * 50),
              doctor_mod.Check("key agent", doctor_mod.OK, "fine")]
    text = doctor_mod.render(checks)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[1].startswith("ssh config  FAIL    xxxxxxxxxx word")
    fix = [i for i, line in enumerate(lines) if line.startswith("            fix:    move it y")]
    assert fix and fix[0] > 1 and lines[fix[0] + 1].startswith(" " * 20 + "y ")
    assert lines[fix[0] + 2].startswith("key agent   OK      fine")


VENV = "/home/a-rather-long-user-name/.local/share/pipx/venvs/condor-job-proxy/bin/condor-job-proxy"


def test_a_long_path_is_wrapped_after_a_slash_and_commands_stay_whole_on_their_own_lines():
    """The row that was 93 columns wide (a pipx venv path), and fixes whose commands must be copied."""
    long_cmd = "condor-job-proxy agent --runtime-dir /home/a-rather-long-user-name/.ssh/cjp-with-a-long-tail/x"
    checks = [
        doctor_mod.Check("ssh config", doctor_mod.OK, f"/home/u/.ssh/config: the block comes first and "
                                                      f"1.0.job.condor goes through {VENV}"),
        doctor_mod.Check("key agent", doctor_mod.FAIL, "no answer",
                         f"remove /x/agent.sock, or see why it fails in a terminal: `{long_cmd}`"),
        doctor_mod.Check("simulated pool", doctor_mod.FAIL, "nothing answers",
                         "start it: `condor-job-ssh sim start --root /srv/pool`"),
        doctor_mod.Check("schedd", doctor_mod.OK, "the local schedd answers: 1 job of yours, 1 running"),
    ]
    lines = doctor_mod.render(checks).splitlines()
    text = "\n".join(lines)
    assert max(len(line) for line in lines) <= 80, text
    stripped = [line.strip() for line in lines]
    assert "condor-job-ssh sim start --root /srv/pool" in stripped, text  # whole, alone on its line
    [at] = [i for i, line in enumerate(stripped) if line.startswith("condor-job-proxy agent")]
    assert stripped[at].endswith(" \\") and stripped[at][:-2] + " " + stripped[at + 1] == long_cmd, text
    path = "".join(line.split()[-1] if i == 0 else line.strip() for i, line in enumerate(lines[2:5]))
    assert path == VENV and all(line.rstrip().endswith("/") for line in lines[2:4]), text


def test_a_command_word_longer_than_any_line_is_never_cut():
    word = "/" + "a" * 90 + "/condor-job-ssh"
    lines = doctor_mod.render([doctor_mod.Check("x", doctor_mod.FAIL, "d", f"run: `{word} setup`")]).splitlines()
    assert [line for line in lines if line.strip().startswith(word)], lines  # the word whole, on one line


def test_layout_breaks_paths_only_after_a_slash():
    from sshconfig.ui import wrap

    lines = wrap(f"goes through {VENV}", 40)
    assert all(len(line) <= 40 for line in lines)
    assert "".join(lines).replace("goes through ", "") == VENV
    assert all(line.endswith("/") for line in lines[:-1] if line != "goes through")


def test_one_failure_per_line_in_recent_failures():
    checks = [doctor_mod.Check("recent failures", doctor_mod.WARN, "1.0.job.condor (1 s ago): a\n"
                                                                   "2.0.job.condor (2 s ago): b", "fix it")]
    lines = doctor_mod.render(checks).splitlines()
    assert lines[1].endswith("1.0.job.condor (1 s ago): a") and lines[2].strip() == "2.0.job.condor (2 s ago): b"


def test_resolved_paths_from_ssh_g():
    values = {"user": "bob", "proxycommand": "'/opt/cjp/condor-job-proxy' --runtime-dir '/run/a 100%%/x' "
                                             "--login '%r' '%h'",
              "identityagent": "/run/a 100%/x/agent.sock", "controlpath": "/home/bob/.ssh/cjp/cm-abc",
              "userknownhostsfile": "/run/a 100%/x/known_hosts"}
    got = from_ssh_g(values, "1.0.job.condor")
    assert got.proxy_runtime_dir == "/run/a 100%/x"
    assert got.runtime_dirs() == ["/run/a 100%/x", "/home/bob/.ssh/cjp"]
    assert from_ssh_g(dict(values, controlpath="none"), "h").runtime_dirs() == ["/run/a 100%/x"]
