"""What runs on the access point, built as text.  Pure: no I/O.

The laptop runs ``ssh DEST <line>``.  sshd hands <line> to the AP user's login shell (bash, sh, tcsh...), so
`login_line` makes it out of characters that mean the same to all of them: ``/bin/sh -c '...'`` where the
single-quoted part holds no quote, no ``!`` and no newline, only ``eval "$(printf "<escapes>")"``.  The
printf escapes spell a POSIX sh script (octal for every byte that is not a plain letter, digit or
``_./,:=+-`` and ``%%`` for a percent sign), so any script reaches /bin/sh intact.

The script that `session_script` builds checks that condor_ssh_to_job is on PATH, then runs::

    condor_ssh_to_job -ssh "/bin/sh -c '<RELAY>' cjp-hop" [-name S] [-pool P] [-keygen-options O]
                      [-shells A,B] -- JOB

condor_ssh_to_job splits the -ssh value with HTCondor's V2 argument syntax (single quotes group, '' is a
quote) and expands every ``%`` in its words (``%%`` is one), then runs the program with the session's
options (``-oUser=``, ``-oIdentityFile=``, ``-oUserKnownHostsFile=``, ``-oProxyCommand=condor_ssh_to_job
-proxy <dir>/fdpass``...; docs/design-facts.md: "How condor_ssh_to_job opens a session, step by step" and "What condor_ssh_to_job hands its ssh program").  RELAY picks those out, writes the header below on its
stdout -- the hop's channel back to the laptop -- and execs the ProxyCommand, condor_ssh_to_job's own
relay to the starter connection: from then on the job's sshd speaks on the same channel.

The header (`HEADER`)::

    condor-job-proxy-hop 1 <remote user> <key length>\\n
    <known_hosts line: "* <type> <base64>">\\n
    <key length bytes: the OpenSSH private key>

and right after it the job sshd's own bytes.
"""

from __future__ import annotations

from ...condorargs import ssh_to_job_words

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, Sequence, Tuple

MAGIC = b"condor-job-proxy-hop 1 "
NO_TOOL_MARK = "condor-job-proxy-hop: no condor_ssh_to_job"
NO_TOOL_STATUS = 127
MAX_HEADER_LINE = 4096
MAX_KEY = 64 * 1024
MAX_NOISE = 64 * 1024  # what a login script may print before the header
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_PLAIN = _ALNUM | frozenset("_./,:=+- ")
_SH_SAFE = _ALNUM | frozenset("_./,:=+-@%")
_KEY_TYPE = _ALNUM | frozenset("@._+-")
_BASE64 = _ALNUM | frozenset("+/=")

# Run by condor_ssh_to_job as its ssh program ("$@": the session's options).  No single quote, so V2
# quoting keeps it one word as it is; its percent signs (printf's) are doubled by `ssh_program`.
RELAY = (
    "for a do case $a in"
    " -oUser=*) u=${a#*=};;"
    " -oIdentityFile=*) i=${a#*=};;"
    " -oUserKnownHostsFile=*) k=${a#*=};;"
    " -oProxyCommand=*) p=${a#*=};;"
    " esac; done;"
    " if test -z \"$p\" || test -z \"$u\" || test -z \"$i\" || test -z \"$k\"; then"
    " echo \"condor-job-proxy-hop: condor_ssh_to_job gave its ssh program no session options"
    " (is SSH_TO_JOB_SH_CMD set?)\" >&2; exit 3; fi;"
    " n=$(wc -c < \"$i\") && h=$(sed -n 1p \"$k\") || exit 3;"
    " printf \"condor-job-proxy-hop 1 PCTs PCTs\\nPCTs\\n\" \"$u\" $n \"$h\" && cat \"$i\" || exit 3;"
    " eval \"exec $p\""
).replace("PCT", "%")


def v2_word(word: str) -> str:
    """One word in HTCondor's V2 argument syntax: single quotes group, '' is a quote inside them."""
    if word and not any(c.isspace() or c == "'" for c in word):
        return word
    return "'" + word.replace("'", "''") + "'"


def ssh_program() -> str:
    """The -ssh value: /bin/sh running RELAY, with '%' doubled for condor_ssh_to_job's token expansion."""
    return " ".join(v2_word(w).replace("%", "%%") for w in ("/bin/sh", "-c", RELAY, "cjp-hop"))


def sh_quote(word: str) -> str:
    """One word for POSIX sh (shlex.quote without importing re on the ProxyCommand's path)."""
    if word and all(c in _SH_SAFE for c in word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def tool_words(job_id: str, *, schedd: Optional[str] = None, pool: Optional[str] = None,
               keygen_options: Sequence[str] = (), shells: Sequence[str] = ()) -> List[str]:
    """condor_ssh_to_job's argument list on the AP (without the program name)."""
    return ssh_to_job_words(ssh_program(), job_id, schedd=schedd, pool=pool, keygen_options=keygen_options,
                            shells=shells)


def session_script(job_id: str, **options) -> str:
    """The POSIX sh script that opens the session on the AP (see the module's docstring)."""
    words = " ".join(sh_quote(w) for w in tool_words(job_id, **options))
    return ("if command -v condor_ssh_to_job >/dev/null 2>&1; then :; else"
            f" echo \"{NO_TOOL_MARK} on PATH on $(hostname)\" >&2; exit {NO_TOOL_STATUS}; fi\n"
            f"exec condor_ssh_to_job {words}\n")


def command_script(argv: Sequence[str]) -> str:
    """A POSIX sh script that runs *argv* (for `hop.run`): exit status 127 when the program is missing."""
    if not argv:
        raise ValueError("no command given")
    return "exec " + " ".join(sh_quote(w) for w in argv) + "\n"


def printf_escapes(script: str) -> str:
    """*script* as a printf format that prints it back: safe inside "..." inside '...'."""
    out = []
    for byte in script.encode("utf-8"):
        ch = chr(byte)
        if ch == "%":
            out.append("%%")
        elif ch in _PLAIN:
            out.append(ch)
        else:
            out.append("\\%03o" % byte)
    return "".join(out)


def login_line(script: str) -> str:
    """The command line for ``ssh DEST <line>``: the same meaning to bash, sh, zsh and tcsh login shells."""
    return "/bin/sh -c 'eval \"$(printf \"" + printf_escapes(script) + "\")\"'"


# ----- the header, read on the laptop ---------------------------------------------------------------------
class HeaderError(ValueError):
    """The bytes are not our header."""


def parse_header(buf: bytes) -> Optional[Tuple[int, str, str, bytes]]:
    """(end of the header in *buf*, remote user, host key "type base64", private key) once *buf* holds
    the whole header, None when more bytes are needed; HeaderError when *buf* cannot be one.

    Lines before the header (a login script that prints a greeting) are skipped: the header starts at
    the beginning of a line, and what follows it is the job sshd's."""
    at = 0 if buf.startswith(MAGIC) else buf.find(b"\n" + MAGIC) + 1
    if at == 0 and not buf.startswith(MAGIC):
        if len(buf) > MAX_NOISE:
            raise HeaderError("the access point sent no session header, only other output")
        return None
    end, user, host_key, key = _parse_at(buf[at:]) or (None, None, None, None)
    return None if end is None else (at + end, user, host_key, key)


def _parse_at(buf: bytes) -> Optional[Tuple[int, str, str, bytes]]:
    first = buf.find(b"\n")
    if first < 0:
        if len(buf) > MAX_HEADER_LINE:
            raise HeaderError("the session header's first line is too long")
        return None
    fields = buf[len(MAGIC):first].split()
    if len(fields) != 2 or not fields[1].isdigit():
        raise HeaderError("the session header's first line is malformed")
    user, size = fields[0].decode("utf-8", "replace"), int(fields[1])
    if not 0 < size <= MAX_KEY or not user.isprintable():
        raise HeaderError("the session header names no usable key or user")
    second = buf.find(b"\n", first + 1)
    if second < 0:
        if len(buf) - first > MAX_HEADER_LINE:
            raise HeaderError("the session header's host key line is too long")
        return None
    words = buf[first + 1:second].decode("ascii", "replace").split()
    if len(words) < 3 or words[0] != "*" or not set(words[1]) <= _KEY_TYPE or not set(words[2]) <= _BASE64:
        raise HeaderError("the session header holds no '* <host key>' line")
    end = second + 1 + size
    if len(buf) < end:
        return None
    key = buf[second + 1:end]
    if not key.lstrip().startswith(b"-----BEGIN "):
        raise HeaderError("the session header holds no private key")
    return end, user, f"{words[1]} {words[2]}", key
