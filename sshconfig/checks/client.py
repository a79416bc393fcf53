"""doctor's rows about the OpenSSH client: its version, and that it honours the options the block relies on."""

from __future__ import annotations

from proxycmd.checkresult import FAIL, OK, Check

from .. import sshclient

MIN_OPENSSH = (8, 0)
_UPGRADE = "upgrade the OpenSSH client to 8.0 or newer"
_INSTALL = "install the OpenSSH client, version 8.0 or newer"


def check_ssh_version() -> Check:
    name = "OpenSSH client"
    done = sshclient.run(["ssh", "-V"])
    if done is None:
        return Check(name, FAIL, "ssh is not installed (or not on PATH)", _INSTALL)
    said = (done.stderr or done.stdout).strip().splitlines()
    version, text = sshclient.parse(said[0] if said else "")
    if version is None:
        return Check(name, FAIL, f"`ssh -V` said {said[0] if said else 'nothing'!r}: not OpenSSH", _INSTALL)
    if version < MIN_OPENSSH:
        return Check(name, FAIL, f"{text} is older than 8.0", _UPGRADE)
    return Check(name, OK, text)


# option: (the value given, what `ssh -G` prints back for it)
_OPTIONS = {"ProxyUseFdpass": ("yes", "yes"), "IdentityAgent": ("/nonexistent/agent.sock",) * 2,
            "IdentityFile": ("none", "none"), "UserKnownHostsFile": ("/nonexistent/known_hosts",) * 2,
            "StrictHostKeyChecking": ("yes", "true"), "UpdateHostKeys": ("no", "false"),
            "ControlMaster": ("no", "false")}


def check_ssh_options() -> Check:
    name = "ssh options"
    argv = ["ssh", "-G", "-F", "/dev/null"] + [f"-o{key}={given}" for key, (given, _) in _OPTIONS.items()]
    values, why = sshclient.ssh_g(argv + ["1.0.job.condor"])
    if values is None:
        return Check(name, FAIL, f"ssh does not accept the options condor-job-proxy relies on: {why}", _UPGRADE)
    wrong = [key for key, (_, shown) in _OPTIONS.items() if values.get(key.lower(), "").split(" ")[0] != shown]
    if wrong:
        return Check(name, FAIL, f"ssh ignores {', '.join(wrong)}", _UPGRADE)
    return Check(name, OK, "accepts " + ", ".join(_OPTIONS))
