"""What a condor_starter does for each ssh-to-job request (docs/design-facts.md: "How condor_ssh_to_job opens a session, step by step"), for the sim.

`open_session` makes a new `.condor_ssh_to_job_N` directory in the job's sandbox, generates one key pair
there with ssh-keygen (host key and authorized key at once), saves the job's environment for the forced
command, writes the sshd_config, and runs `sshd -i -e -f` on one end of a fresh loopback TCP connection.
It returns the other end, the private key, the public host key and the user name.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import socket
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from . import rootdir

KEYGEN_DEFAULT = ["-N", "", "-C", "", "-q", "-t", "rsa"]

SFTP_SERVER_CANDIDATES = (
    "/usr/lib/openssh/sftp-server",
    "/usr/libexec/openssh/sftp-server",
    "/usr/libexec/sftp-server",
    "/usr/lib/ssh/sftp-server",
    "/usr/lib/misc/sftp-server",
)

# The forced command of every session, doing what HTCondor 25.x's condor_ssh_to_job_shell_setup does, in
# the same order (docs/design-facts.md: "What a starter does in every session"; order checked against the script a 25.14 release installs): restore the
# job's saved environment; go to the job's working directory (else its scratch directory); in an interactive
# job (the job ad file says `InteractiveJob = true`), signal the PID list as ONE word and clear it -- while
# the list holds only the job's program (no other session lives) that SIGTERMs the program, afterwards the
# word names no process and the kill fails quietly; then run the client's command with an unquoted eval, or
# greet and exec the login shell.
SHELL_SETUP = r"""#!/bin/bash
# condor-job-proxy simulated pool: forced command of every ssh-to-job session.
PATH=$PATH:/bin:/usr/bin
test -z "$1" || . "$1"
for dir in "${_CONDOR_JOB_IWD}" "${_CONDOR_SCRATCH_DIR}"; do
  cd "$dir" && break
done
if grep -q '^InteractiveJob = true' "${_CONDOR_SCRATCH_DIR}/.job.ad" && test -n "${_CONDOR_JOB_PIDS}"; then
  kill "${_CONDOR_JOB_PIDS}" 2>/dev/null
  _CONDOR_JOB_PIDS=
fi
if test -n "${SSH_ORIGINAL_COMMAND}"; then
  eval ${SSH_ORIGINAL_COMMAND}
  exit
fi
test -z "${_CONDOR_SLOT_NAME}" || echo "Welcome to ${_CONDOR_SLOT_NAME}!"
test -z "${_CONDOR_JOB_PIDS}" || echo "Your condor job is running with pid(s) ${_CONDOR_JOB_PIDS}."
test -z "${TMOUT}" || echo "You will be logged out after ${TMOUT} seconds of inactivity."
test -z "${_CONDOR_SHELL}" || exec -l "${_CONDOR_SHELL}"
exec -l "${SHELL:-/bin/sh}"
"""

SSHD_CONFIG = """\
# Written by the condor-job-proxy simulated pool, as a condor_starter writes it for each session.
HostKey {dir}/sshkey
AuthorizedKeysFile {dir}/authorized_keys
AcceptEnv *
Subsystem sftp {sftp_server}
StrictModes no
X11Forwarding yes
X11UseLocalhost no
PermitRootLogin {permit_root}
PermitEmptyPasswords no
PermitUserEnvironment no
GSSAPIAuthentication no
HostbasedAuthentication no
IgnoreRhosts yes
IgnoreUserKnownHosts yes
Ciphers aes128-ctr,aes192-ctr,aes256-ctr
MACs hmac-sha2-256,hmac-sha2-512
Compression delayed
LogLevel DEBUG
"""


class StarterError(Exception):
    """Session set-up failed on the execute side (not retry-able)."""


@dataclass
class StartedSession:
    sock: socket.socket
    private_key: str
    host_key: str
    user: str
    directory: Path
    sshd: subprocess.Popen


def find_sshd() -> str:
    found = shutil.which("sshd", path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/local/sbin:/sbin")
    if not found:
        raise StarterError("sshd is not installed on this (simulated) execute node; install openssh-server")
    return found


def find_sftp_server() -> str:
    for candidate in SFTP_SERVER_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("sftp-server") or "internal-sftp"


def install_shell_setup(libexec: Path) -> Path:
    """Write the forced-command script into *libexec* (a private directory of ours, see rootdir)."""
    script = libexec / "condor_ssh_to_job_shell_setup"
    try:
        st = os.lstat(script)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise rootdir.RootError(f"refusing to write {script}: something that is not a regular file is there "
                                "(a symbolic link?); remove it if you put it there")
    rootdir.write_file(script, SHELL_SETUP.encode(), 0o755)
    return script


def remove_session_dir(directory: Path) -> None:
    """What a starter does when a session's sshd exits: its directory and key go (docs/design-facts.md: "Interactive jobs and session directories")."""
    try:
        shutil.rmtree(directory)  # refuses a symlinked top; on Linux never follows a symlink inside
    except FileNotFoundError:
        pass
    except OSError:
        pass


def _new_session_dir(sandbox: Path) -> Path:
    n = 1
    while True:
        candidate = sandbox / f".condor_ssh_to_job_{n}"
        try:
            os.mkdir(candidate, 0o700)
            return candidate
        except FileExistsError:
            n += 1


def _env_script(env: Mapping[str, str]) -> str:
    lines = []
    for key in sorted(env):
        if key.isidentifier() and key not in ("DISPLAY", "LD_PRELOAD"):
            lines.append(f"export {key}={shlex.quote(env[key])}")
    return "\n".join(lines) + "\n"


def _loopback_pair() -> "tuple[socket.socket, socket.socket]":
    """A connected TCP pair on 127.0.0.1, like the starter's connection (not a socketpair).

    Both ends have TCP_NODELAY, as HTCondor's CEDAR sockets do (src/condor_io/sock.cpp on connect,
    reli_sock.cpp on accept: "Set no delay to disable Nagle").  With Nagle on, sshd's back-to-back small
    handshake writes wait for delayed ACKs and a connection takes ~100 ms longer than on a real pool."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        while True:
            server, peer = listener.accept()
            if peer == client.getsockname():
                for end in (client, server):
                    end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return client, server
            server.close()  # someone else raced us to the port: not ours


def _ensure_privsep_dir() -> None:
    # sshd started as root insists on its privilege separation directory (docs/design-facts.md: "Running as root (CI, fresh machines)").
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)


def open_session(*, sandbox: Path, job_env: Mapping[str, str], shell_setup: Path,
                 keygen_options: Sequence[str] = (), log_level: Optional[str] = None) -> StartedSession:
    directory = _new_session_dir(sandbox)
    try:
        return _start_in(directory, sandbox=sandbox, job_env=job_env, shell_setup=shell_setup,
                         keygen_options=keygen_options, log_level=log_level)
    except BaseException:
        remove_session_dir(directory)  # a session that never started leaves nothing behind
        raise


def _start_in(directory: Path, *, sandbox: Path, job_env: Mapping[str, str], shell_setup: Path,
              keygen_options: Sequence[str], log_level: Optional[str]) -> StartedSession:
    key = directory / "sshkey"
    keygen = [shutil.which("ssh-keygen") or "ssh-keygen", *KEYGEN_DEFAULT, *keygen_options, "-f", str(key)]
    done = subprocess.run(keygen, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          cwd=sandbox)
    rootdir.write_file(directory / "keygen.log", done.stdout)
    if done.returncode != 0 or not key.exists():
        first = done.stdout.decode(errors="replace").strip().splitlines()
        raise StarterError(f"ssh-keygen failed on the execute node: {first[0] if first else 'no output'}")
    env_file = directory / "env.sh"
    rootdir.write_file(env_file, _env_script(job_env).encode())
    public = (key.with_name("sshkey.pub")).read_text().split()
    host_key = f"{public[0]} {public[1]}"
    forced = f"{shell_setup} {env_file}"
    rootdir.write_file(directory / "authorized_keys", f'command="{forced}" {host_key}\n'.encode())
    config = directory / "sshd_config"
    permit_root = "forced-commands-only" if os.geteuid() == 0 else "no"  # root only in CI (docs/design-facts.md: "Running as root (CI, fresh machines)")
    text = SSHD_CONFIG.format(dir=directory, sftp_server=find_sftp_server(), permit_root=permit_root)
    if os.geteuid() == 0 and not log_level:  # an sshd running as root logs its privilege steps at DEBUG into the
        log_level = "INFO"                     # session's stderr: the client would print them (no starter runs as root)
    if log_level:
        text = text.replace("LogLevel DEBUG", f"LogLevel {log_level}")
    rootdir.write_file(config, text.encode())
    _ensure_privsep_dir()
    ours, theirs = _loopback_pair()
    try:
        with open(rootdir.open_append(directory / "sshd.log"), "ab") as log:
            sshd = subprocess.Popen([find_sshd(), "-i", "-e", "-f", str(config)], stdin=theirs, stdout=theirs,
                                    stderr=log, cwd=sandbox, env=_sshd_env(job_env), start_new_session=True,
                                    close_fds=True)
    except OSError as exc:
        ours.close()
        raise StarterError(f"could not start sshd on the execute node: {exc.strerror}") from None
    finally:
        theirs.close()
    return StartedSession(sock=ours, private_key=key.read_text(), host_key=host_key,
                          user=pwd.getpwuid(os.geteuid()).pw_name, directory=directory, sshd=sshd)


def _sshd_env(job_env: Mapping[str, str]) -> Dict[str, str]:
    return {"PATH": job_env.get("PATH", "/usr/local/bin:/usr/bin:/bin") + ":/usr/sbin:/sbin"}


def parse_keygen_options(text: str) -> List[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise StarterError(f"bad ssh-keygen options {text!r}: {exc}") from None
