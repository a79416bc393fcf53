"""The probe `condor-job-ssh doctor JOB` runs in the job through a real ssh session, and what it prints.

It runs where the job's sessions run -- on the execute host or inside the job's container, whatever the
job ad says (an execute node may put every job in a container: USE_DEFAULT_CONTAINER) -- so what it sees
is what the user's ssh, scp, sftp and rsync meet there.  It is a POSIX sh script sent on standard input to
`ssh HOST sh`, so no quoting passes through the starter's `eval` or `docker exec ... /bin/sh -c`, and it
uses only sh's own built-ins (`test`, `read`, `command -v`, `echo`): a minimal image needs nothing else.

What it reports (one `key=value` line each, between two marks):
  sock        the scratch directory holds `.docker_sock`: the starter serves sessions into a container
              (Docker and, since HTCONDOR-3658, Apptainer: docker_proc.cpp, os_proc.cpp)
  dockerenv   /.dockerenv exists: a Docker container's root (but an execute host may itself run in one:
              this machine does)
  apptainer   /.singularity.d exists: an Apptainer (Singularity) image's root
  starter     the job's starter ($CONDOR_STARTER_PID, in every job's environment) is visible here: this
              shell shares the execute host's process namespace, so it is not in a Docker container
              (nor in an Apptainer one with pid namespaces); empty when the variable is not set
  uid         the uid the session runs as (/proc/self/status)
  passwd      that uid has an entry in this root's /etc/passwd: sftp-server and scp need one
  sftp        the sftp subsystem's path in the session's sshd_config (the execute node's sshd reads it
              there; a session in a container runs it inside the container), and sftp_ok whether it is
              an executable there
  scp rsync   the programs `scp -O` and rsync run on this side
  bash        /bin/bash exists (the starter runs `/bin/bash -i` for a shell in a Docker container)
  version     the execute node's HTCondor version, from the machine ad the starter writes to the scratch
              directory
  os          PRETTY_NAME of this root's /etc/os-release
  devpts      the mount options of /dev/pts: without gid=5 a job's sshd that is not root cannot give a
              session a terminal (proxycmd/sim/ptycheck.py)
Then `terminal` tries a shell's first step for real: a session with a terminal (`ssh -tt`), on a connection of
its own (a job's sshd that cannot give one dies, and takes every session on its connection with it).
It ends with `exit 3`: the status ssh returns tells whether the job's sessions report exit statuses.
"""

from __future__ import annotations

import subprocess
from collections import namedtuple
from typing import List, Optional

from proxycmd import bounded

BEGIN, END = "cjp-probe-begin", "cjp-probe-end"
EXIT_STATUS = 3  # what the probe exits with; ssh returns it only where exit statuses are reported
MAX_OUTPUT = 64 * 1024
TIMEOUT = 90.0

SCRIPT = f"""\
echo {BEGIN}
s=${{_CONDOR_SCRATCH_DIR:-.}}
if test -S "$s/.docker_sock"; then echo sock=yes; else echo sock=no; fi
if test -e /.dockerenv; then echo dockerenv=yes; else echo dockerenv=no; fi
if test -d /.singularity.d; then echo apptainer=yes; else echo apptainer=no; fi
if test -z "$CONDOR_STARTER_PID"; then echo starter=; elif read -r c < "/proc/$CONDOR_STARTER_PID/comm" \
  && test "$c" = condor_starter; then echo starter=yes; else echo starter=no; fi 2>/dev/null
u=
if test -r /proc/self/status; then
  while read -r k v rest; do if test "$k" = "Uid:"; then u=$v; fi; done < /proc/self/status
fi
echo "uid=$u"
p=no
if test -n "$u" && test -r /etc/passwd; then
  while IFS=: read -r n x id rest; do if test "$id" = "$u"; then p=yes; fi; done < /etc/passwd
fi
echo "passwd=$p"
f=
for c in "$s"/.condor_ssh_to_job_*/sshd_config; do
  if test -r "$c"; then
    while read -r k a b rest; do
      case "$k" in [Ss][Uu][Bb][Ss][Yy][Ss][Tt][Ee][Mm]) if test "$a" = sftp; then f=$b; fi;; esac
    done < "$c"
  fi
  if test -n "$f"; then break; fi
done
echo "sftp=$f"
if test -n "$f"; then if test -f "$f" && test -x "$f"; then echo sftp_ok=yes; else echo sftp_ok=no; fi; fi
for t in scp rsync; do if command -v $t >/dev/null 2>&1; then echo "$t=yes"; else echo "$t=no"; fi; done
if test -x /bin/bash; then echo bash=yes; else echo bash=no; fi
m=${{_CONDOR_MACHINE_AD:-$s/.machine.ad}}
v=
if test -r "$m"; then
  while read -r k e a b rest; do if test "$k" = CondorVersion; then v=$b; fi; done < "$m"
fi
echo "version=$v"
o=
if test -r /etc/os-release; then
  while IFS== read -r k w; do if test "$k" = PRETTY_NAME; then o=$w; fi; done < /etc/os-release
fi
echo "os=$o"
d=
if test -r /proc/mounts; then
  while read -r x m t w rest; do if test "$t" = devpts && test "$m" = /dev/pts; then d=$w; fi; done < /proc/mounts
fi
echo "devpts=$d"
echo {END}
exit {EXIT_STATUS}
"""

_YES_NO = ("sock", "dockerenv", "apptainer", "passwd", "sftp_ok", "scp", "rsync", "bash")


class Probe(namedtuple("Probe", "complete status_reported sock dockerenv apptainer starter uid passwd sftp sftp_ok "
                                "scp rsync bash version os error devpts terminal terminal_said",
                       defaults=(False, False, False, False, False, "", "", False, "", None, False, False, False, "",
                                 "", "", "", None, ""))):
    """What the probe saw.  complete: its end mark came (else *error* says why not); status_reported: ssh
    returned the probe's own exit status; starter: "yes", "no" or "" (unknown); sftp_ok None: no
    sshd_config told the sftp-server's path; terminal: whether a session with a terminal started (None: not
    tried), terminal_said: ssh's last line when it did not; the other flags as the module's docstring says."""

    __slots__ = ()

    @property
    def in_container(self) -> bool:
        """The probe ran inside the job's container: the starter serves sessions into one (`.docker_sock`)
        and this shell is in an image's root (Apptainer's mark) or out of sight of the starter's processes
        (a Docker container's own pid namespace; /.dockerenv only when the starter's pid is not known)."""
        if not self.sock:
            return False
        return self.apptainer or self.starter == "no" or (self.starter == "" and self.dockerenv)

    @property
    def runtime(self) -> str:
        if not self.in_container:
            return ""
        return "Apptainer" if self.apptainer else "Docker"


def _clean(text: str, limit: int = 200) -> str:
    """A value as it may be shown: printable, on one line, not too long (an image is not ours)."""
    text = "".join(ch if ch.isprintable() and ch != "`" else "?" for ch in text).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def ssh_said(stderr: str) -> List[str]:
    """ssh's lines on stderr, blanks made single, without the trailer ssh prints at LogLevel INFO after a
    refusal it already printed (`Disconnected from ...`): the last line left says why."""
    said = [" ".join(line.split()) for line in stderr.splitlines() if line.strip()]
    return [line for line in said if not line.startswith("Disconnected from ")] or said


def parse(stdout: str, returncode: int, stderr: str = "") -> Probe:
    """The probe's output and ssh's exit status -> a Probe."""
    lines = stdout[:MAX_OUTPUT].splitlines()
    if BEGIN not in lines or END not in lines[lines.index(BEGIN):]:
        said = ssh_said(stderr)
        why = said[-1] if said else f"ssh exited with status {returncode} and the probe did not finish"
        return Probe(error=_clean(why, 300))
    body = lines[lines.index(BEGIN) + 1:]
    body = body[:body.index(END)]
    values = {}
    for line in body:
        key, sep, value = line.partition("=")
        if sep and key not in values:
            values[key] = value
    flags = {key: values.get(key) == "yes" for key in _YES_NO}
    if "sftp_ok" not in values:
        flags["sftp_ok"] = None
    starter = values.get("starter", "")
    return Probe(complete=True, status_reported=returncode == EXIT_STATUS, uid=_clean(values.get("uid", ""), 12),
                 starter=starter if starter in ("yes", "no") else "",
                 sftp=_clean(values.get("sftp", "")), version=_clean(values.get("version", ""), 40),
                 os=_clean(values.get("os", ""), 80), devpts=_clean(values.get("devpts", ""), 120), **flags)


def ssh_argv(ssh_config: Optional[str], host: str) -> List[str]:
    """ssh through the user's config (*ssh_config*, else ssh's own choice) to *host*, running `sh` on the
    probe it reads from standard input.  An existing shared connection is used, none is left behind
    (ControlMaster=no), and nothing prompts (BatchMode)."""
    config = ["-F", ssh_config] if ssh_config else []
    return ["ssh", *config, "-o", "BatchMode=yes", "-o", "ControlMaster=no", "-T", "--", host, "sh"]


def run(ssh_config: Optional[str], host: str, timeout: float = TIMEOUT, env: Optional[dict] = None) -> Probe:
    try:  # what the job prints is read within bounds: a job's flood costs neither memory nor a screenful
        code, out, err = bounded.run(ssh_argv(ssh_config, host), input=SCRIPT.encode(), timeout=timeout, env=env,
                                     max_output=MAX_OUTPUT)
    except subprocess.TimeoutExpired:
        return Probe(error=f"the session to {host} did not finish within {timeout:g} s")
    except bounded.TooMuchOutput:
        return Probe(error=f"the session to {host} printed more than {MAX_OUTPUT >> 10} KiB instead of the probe's "
                           "report")
    except OSError as exc:
        return Probe(error=f"cannot run ssh: {exc.strerror or exc}")
    probe = parse(out.decode("utf-8", "replace"), code, err)
    if probe.complete:
        started, said = terminal(ssh_config, host, timeout, env)
        probe = probe._replace(terminal=started, terminal_said=said)
    return probe


TERMINAL_MARK = "cjp-terminal-ok"


def terminal_argv(ssh_config: Optional[str], host: str) -> List[str]:
    """ssh asking the job's sshd for a terminal (-tt), on a connection of its own: ControlPath=none, so a sshd
    that dies at the pty request never takes the user's shared connection down with it."""
    config = ["-F", ssh_config] if ssh_config else []
    return ["ssh", *config, "-o", "BatchMode=yes", "-o", "ControlMaster=no", "-o", "ControlPath=none", "-tt",
            "--", host, f"echo {TERMINAL_MARK}"]


def terminal(ssh_config: Optional[str], host: str, timeout: float = TIMEOUT, env: Optional[dict] = None):
    """(whether a session with a terminal started, ssh's last line on stderr when it did not)."""
    from proxycmd import bounded

    try:
        code, out, err = bounded.run(terminal_argv(ssh_config, host), timeout=timeout, env=env,
                                     max_output=MAX_OUTPUT)
    except subprocess.TimeoutExpired:
        return False, f"a session with a terminal did not finish within {timeout:g} s"
    except (bounded.TooMuchOutput, OSError) as exc:
        return False, _clean(str(exc), 300)
    if TERMINAL_MARK.encode() in out:
        return True, ""
    said = ssh_said(str(err))
    return False, _clean(said[-1] if said else f"ssh exited with status {code}", 300)
