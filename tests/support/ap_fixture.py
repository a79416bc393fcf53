"""An access point (AP) and a laptop, for the hop tests (proxycmd/backends/hop).

The AP is a real sshd daemon on a loopback port, run as the test user (`sshd -D -p PORT -f CFG`) with its
own host key and one authorized key.  Every session there runs through a ForceCommand wrapper that puts
the fakes (condor_ssh_to_job, condor_q, condor_rm on the simulated pool) on PATH and then hands the
command line to the chosen login shell -- `bash -c`, `sh -c` or `tcsh -c "$SSH_ORIGINAL_COMMAND"`, as
sshd would with that login shell.

The laptop has its own HOME and runtime dir, an ssh config file with a Host alias `ap` for the AP (ssh
reads ~/.ssh/config from the password database, not from $HOME, so the tests pass that file with -F, and
`setup --ssh-config` makes the hop read it too), and no HTCondor tool on its PATH.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import stop_agent, BIN, FAKE_POOL_ENV, _kill_pool_leftovers, _short_tmp, install_fakes, tool, wait_for
from ports import free_port, listening

ALIAS = "ap"


def _sshd() -> str:
    for candidate in ("/usr/sbin/sshd", shutil.which("sshd") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("sshd is not installed")


@dataclass
class Laptop:
    base: Path
    env: Dict[str, str]  # the laptop user's environment: no HTCondor tool on PATH
    ssh_config: Path  # the laptop's ssh config: the `ap` alias and, after setup, the managed block
    sim_root: Path
    ap_tmp: Path  # TMP on the AP: where condor_ssh_to_job makes its session directories
    rundir: Path
    shell: str
    sshd: subprocess.Popen = None
    cleanups: List = field(default_factory=list)
    pool: object = None  # a realpool.RealPool behind the AP instead of the simulated pool
    jobs: Dict[str, Path] = field(default_factory=dict)  # the real pool's jobs: id -> initial directory

    def run(self, argv: List[str], check: bool = True, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("stdin", subprocess.DEVNULL)
        done = subprocess.run(argv, env=kw.pop("env", self.env), capture_output=True, text=kw.pop("text", True),
                              timeout=timeout, **kw)
        if check and done.returncode != 0:
            raise AssertionError(f"{argv} exited {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}")
        return done

    def sim(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run([tool("condor-job-ssh"), "sim", *args, "--root", str(self.sim_root)], check=check)

    def submit(self, *cmd: str, idle: bool = False) -> str:
        if self.pool is not None:
            from realworld import submit_job

            return submit_job(self.pool, self.base / "ap" / "jobs", self.jobs, *cmd, idle=idle)
        return self.run([tool("condor-job-ssh"), "sim", "submit", *(["--idle"] if idle else []), "--root",
                         str(self.sim_root), "--", *cmd]).stdout.strip()

    def ssh_argv(self, *args: str) -> List[str]:
        return ["ssh", "-F", str(self.ssh_config), *args]

    def ssh(self, host: str, *command: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
        return self.run(self.ssh_argv(host, *command), check=check, **kw)

    def setup(self, *extra: str) -> subprocess.CompletedProcess:
        return self.run([tool("condor-job-ssh"), "setup", "--ssh-config", str(self.ssh_config), "--via", ALIAS,
                         "--condor", "--yes", *extra])

    def session_dirs(self) -> List[Path]:
        return sorted(self.ap_tmp.glob("*.condor_ssh_to_job_*"))


def _sftp_server() -> str:
    from proxycmd.sim.starter import SFTP_SERVER_CANDIDATES

    return next((c for c in SFTP_SERVER_CANDIDATES if os.access(c, os.X_OK)), "internal-sftp")


def make_laptop(shell: str = "bash", keygen_options: str = "", pool=None, schedds=()):
    """A laptop and an AP; behind the AP the simulated pool (serving *schedds* besides its default one), or
    with *pool* a real HTCondor pool (tests/support/realpool.py), whose tools the AP's sessions then find on PATH."""
    if shell != "bash" and not shutil.which(shell):
        pytest.skip(f"{shell} is not installed (apt-get install -y {shell})")
    base = _short_tmp("cjph-")
    ap, home = base / "ap", base / "laptop"
    ap.mkdir()
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    runtime = base / "run"
    runtime.mkdir(mode=0o700)
    sim_root = base / "pool"
    ap_tmp = ap / "tmp"
    ap_tmp.mkdir(mode=0o700)
    fakes = install_fakes(ap / "fakes")
    me = pwd.getpwuid(os.geteuid()).pw_name

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ap / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / ".ssh" / "id_ap")], check=True)
    (ap / "authorized_keys").write_text((home / ".ssh" / "id_ap.pub").read_text())
    port = free_port()
    login = ap / "login"
    if pool is None:
        where = (f"PATH='{fakes}':'{BIN}':/usr/local/bin:/usr/bin:/bin; export PATH\n"
                 f"{FAKE_POOL_ENV}='{sim_root}'; export {FAKE_POOL_ENV}\n")
    else:
        where = (f"PATH='{pool.dir}/release/bin':'{BIN}':/usr/local/bin:/usr/bin:/bin; export PATH\n"
                 f"CONDOR_CONFIG='{pool.env['CONDOR_CONFIG']}'; export CONDOR_CONFIG\n")
    login.write_text(
        "#!/bin/sh\n" + where +
        f"TMP='{ap_tmp}'; export TMP\n"
        "LC_ALL=C.UTF-8; export LC_ALL\n"
        'if test -n "$CJP_AP_BARE"; then PATH=/usr/bin:/bin; fi\n'  # an AP without HTCondor's tools
        'if test -n "$CJP_AP_MOTD"; then echo "Welcome to the AP"; fi\n'  # a login script that talks
        'if test -n "$CJP_AP_SAYS"; then echo "$CJP_AP_SAYS"; exit 1; fi\n'  # a ForceCommand that only talks
        f"exec {shutil.which(shell) or '/bin/' + shell} -c \"$SSH_ORIGINAL_COMMAND\"\n")
    login.chmod(0o755)
    config = ap / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {ap / 'host_key'}\n"
        f"AuthorizedKeysFile {ap / 'authorized_keys'}\nPidFile {ap / 'sshd.pid'}\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        f"PermitRootLogin {'yes' if os.geteuid() == 0 else 'no'}\nAllowTcpForwarding yes\n"
        f"AcceptEnv CJP_AP_BARE CJP_AP_MOTD CJP_AP_SAYS\nForceCommand {login}\nLogLevel ERROR\n"
        f"Subsystem sftp {_sftp_server()}\n")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory (docs/design-facts.md: "Running as root (CI, fresh machines)")
    host_pub = (ap / "host_key.pub").read_text().split()
    (home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    ssh_config = home / ".ssh" / "config"
    ssh_config.write_text(
        f"Host {ALIAS}\n    HostName 127.0.0.1\n    Port {port}\n    User {me}\n"
        f"    IdentityFile {home / '.ssh' / 'id_ap'}\n    IdentitiesOnly yes\n"
        f"    UserKnownHostsFile {home / '.ssh' / 'known_hosts'}\n    StrictHostKeyChecking yes\n"
        "    BatchMode yes\n    LogLevel ERROR\n"
        f"Host {ALIAS}-bare\n    HostName 127.0.0.1\n    Port {port}\n    User {me}\n    SetEnv CJP_AP_BARE=1\n"
        f"    IdentityFile {home / '.ssh' / 'id_ap'}\n    IdentitiesOnly yes\n    HostKeyAlias [127.0.0.1]:{port}\n"
        f"    UserKnownHostsFile {home / '.ssh' / 'known_hosts'}\n    BatchMode yes\n    LogLevel ERROR\n"
        f"Host {ALIAS}-noisy\n    HostName 127.0.0.1\n    Port {port}\n    User {me}\n    HostKeyAlias [127.0.0.1]:{port}\n"
        f"    IdentityFile {home / '.ssh' / 'id_ap'}\n    IdentitiesOnly yes\n    BatchMode yes\n"
        f"    UserKnownHostsFile {home / '.ssh' / 'known_hosts'}\n    RequestTTY force\n    ForwardAgent yes\n"
        "    SetEnv CJP_AP_MOTD=1\n"
        "    PermitLocalCommand yes\n    LocalCommand echo local-noise\n    RemoteCommand echo remote-noise\n"
        "    LocalForward 127.0.0.1:1 127.0.0.1:1\n"
        f"Host {ALIAS}-says\n    HostName 127.0.0.1\n    Port {port}\n    User {me}\n"
        f"    HostKeyAlias [127.0.0.1]:{port}\n    IdentityFile {home / '.ssh' / 'id_ap'}\n    IdentitiesOnly yes\n"
        f"    UserKnownHostsFile {home / '.ssh' / 'known_hosts'}\n    BatchMode yes\n    LogLevel ERROR\n"
        '    SetEnv CJP_AP_SAYS="This account is locked: see https://help.example/locked"\n'
        f"Host {ALIAS}-dead\n    HostName 127.0.0.1\n    Port {free_port()}\n    BatchMode yes\n")

    env = dict(os.environ)
    env.update({"HOME": str(home), "XDG_RUNTIME_DIR": str(runtime), "XDG_CONFIG_HOME": str(base / "config"),
                "XDG_STATE_HOME": str(base / "state"), "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
                "LC_ALL": "C.UTF-8"})
    for name in ("SSH_AUTH_SOCK", FAKE_POOL_ENV, "TMP", "CONDOR_SSH_TO_JOB"):
        env.pop(name, None)
    laptop = Laptop(base=base, env=env, ssh_config=ssh_config, sim_root=sim_root, ap_tmp=ap_tmp,
                    rundir=home / ".ssh" / "cjp", shell=shell, pool=pool)  # where setup puts it
    try:
        if pool is None:
            laptop.sim("start", *(["--keygen-options", keygen_options] if keygen_options else []),
                       *[word for name in schedds for word in ("--schedd", name)])
        laptop.sshd = subprocess.Popen([_sshd(), "-D", "-e", "-p", str(port), "-f", str(config)],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=open(ap / "sshd.log", "wb"))
        assert wait_for(lambda: listening(port), timeout=15), (ap / "sshd.log").read_text()
        yield laptop
    finally:
        for cleanup in laptop.cleanups:
            cleanup()
        if laptop.sshd is not None:
            laptop.sshd.send_signal(signal.SIGTERM)
            try:
                laptop.sshd.wait(timeout=10)
            except subprocess.TimeoutExpired:
                laptop.sshd.kill()
        if pool is None:
            laptop.sim("stop", check=False)
            _kill_pool_leftovers(sim_root)
        for job in laptop.jobs:
            pool.condor("condor_rm", job, check=False)
        stop_agent(laptop.rundir)
        time.sleep(0.2)
        shutil.rmtree(base, ignore_errors=True)




def set_up_laptop(shell: str = "bash", *setup_args: str, pool=None):
    """make_laptop, then `setup --via ap` with *setup_args*: the body of the tests' `laptop` fixtures."""
    gen = make_laptop(shell, pool=pool)
    lap = next(gen)
    lap.setup(*setup_args)
    yield lap
    try:
        next(gen)
    except StopIteration:
        pass
