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
stdout -- the hop's channel back to the laptop -- and then relays the starter connection on that same
channel: from then on the job's sshd speaks on it.

The relay.  condor_ssh_to_job's own (``condor_ssh_to_job -proxy <dir>/fdpass``, the ProxyCommand it
gave us) moves every byte through a 1 KiB buffer with a select() per read and per write (SocketProxy in
HTCondor's socket_proxy.cpp): four system calls per KiB, which made laptop scp through the hop up to 1.3
times slower than ``scp -J AP``.  Where the AP is Linux and has a system Python 3 (`AP_PYTHONS`; nothing is
installed there), RELAY runs `AP_RELAY` instead, sent inline as one more word of the -ssh value: it takes
the starter connection from the same fdpass socket, as ``-proxy`` would, and moves bytes with splice(2)
(os.splice, Python 3.10+) or else 256 KiB reads and writes.  It runs isolated (``-I -S``: no working
directory, user site-packages, PYTHON* variables or site-packages on its path: only the standard
library's own modules are imported) and writes no file.  Without such a Python, or when that Python lacks
what AP_RELAY needs (it checks before it touches the fdpass socket, which serves only once), the
ProxyCommand runs as before.  ``CONDOR_JOB_PROXY_AP_PYTHON`` on the laptop names other interpreters to try
(blank-separated absolute paths; empty: always condor_ssh_to_job's relay).

The header (`HEADER`)::

    condor-job-proxy-hop 1 <remote user> <key length>\\n
    <known_hosts line: "* <type> <base64>">\\n
    <key length bytes: the OpenSSH private key>

and right after it the job sshd's own bytes.
"""

from __future__ import annotations

from ...condorargs import quote_word, ssh_to_job_words

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

# Run by condor_ssh_to_job as its ssh program: $1 is AP_RELAY's text, $2 the interpreters to try for it,
# the rest the session's options.  No single quote, so V2 quoting keeps it one word as it is; its percent
# signs (printf's) are doubled by `ssh_program`.  `eval "set -- $p"` splits the ProxyCommand as `eval
# "exec $p"` would run it (HTCondor quotes its words for a shell); the interpreter is used only on Linux.
RELAY = (
    "r=$1; y=$2; shift 2;"
    " for a do case $a in"
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
    " eval \"set -- $p\";"
    " if test -d /proc/self; then for x in $y; do"
    " if test -x \"$x\"; then exec \"$x\" -I -S -c \"$r\" \"$@\"; fi; done; fi;"
    " exec \"$@\""
).replace("PCT", "%")

# The interpreters RELAY tries for AP_RELAY, in order: the system's own (root's, never one found on a PATH,
# which may be a slow shim or a directory of someone else's).  /usr/libexec/platform-python: RHEL 8's.
AP_PYTHONS = ("/usr/bin/python3", "/usr/libexec/platform-python")
AP_PYTHON_ENV = "CONDOR_JOB_PROXY_AP_PYTHON"

# The relay on the AP, run as ``python3 -I -S -c AP_RELAY <ProxyCommand words>`` (Python 3.4 or later; no
# f-strings, no single quote).  Before it connects to the fdpass socket, which condor_ssh_to_job serves
# once, anything missing sends it to the ProxyCommand itself (exec); after, a failure ends the session
# with one line on stderr, as condor_ssh_to_job's relay would.  Each direction waits for its source to be
# readable, or while it has bytes it could not pass on, for its destination to be writable: nothing blocks,
# and nothing spins.  End of input from ssh: the starter connection's write side is shut (half-close); end
# of the connection: our stdout is closed (sshd sees the end when condor_ssh_to_job exits too, right after).
AP_RELAY = """\
import os, sys
a = sys.argv[1:]
try:
    import _socket, select
    path = a[a.index("-proxy") + 1]
    chan = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    poll, IN, OUT = select.poll, select.POLLIN, select.POLLOUT
    GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL
    pipes = all(os.fstat(fd).st_mode & 0o170000 == 0o010000 for fd in (0, 1))
    splice = getattr(os, "splice", None) if pipes else None
    FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)
    os.set_blocking, os.readv
except Exception:
    os.execvp(a[0], a)


def fail(what):
    try:
        os.write(2, ("condor-job-proxy-hop: " + what + "\\n").encode())
    except OSError:
        pass
    os._exit(1)


try:
    chan.settimeout(60)
    chan.connect(path)
    data, anc, flags, addr = chan.recvmsg(1, _socket.CMSG_SPACE(4))
except OSError as e:
    fail("cannot take the session from %s: %s" % (path, e.strerror or e))
fds = [int.from_bytes(d[:4], sys.byteorder) for level, kind, d in anc
       if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS and len(d) >= 4]
chan.close()
if len(fds) != 1:
    fail("condor_ssh_to_job sent no connection on " + path)
conn = _socket.socket(fileno=fds[0])
sock = conn.fileno()
try:
    conn.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
except OSError:
    pass
for fd in (0, 1, sock):
    os.set_blocking(fd, False)


class Way:
    \"\"\"One direction.  held: bytes read but not written yet (with splice: the kernel holds them, and
    held only says that the destination was full).\"\"\"

    def __init__(self, src, dst):
        self.src, self.dst, self.held = src, dst, b""
        self.buf = None if splice is not None else bytearray(1 << 18)

    def waits_on(self):
        return (self.dst, OUT) if self.held else (self.src, IN)

    def step(self):
        \"\"\"Move what can be moved now; False at the end of the source.\"\"\"
        if splice is not None:
            # Splice until the kernel says wait, a few times at most (the other way must not starve): one
            # wake-up moves what came meanwhile.  That wait means no room when the first try follows a
            # readable source, else (room came, or bytes moved) most likely nothing left to read; a wrong
            # guess costs one more poll, never a spin.
            waited_for_room, self.held = self.held, b""
            for tries in range(16):
                try:
                    if splice(self.src, self.dst, 1 << 20, flags=FLAGS) == 0:
                        return False
                except BlockingIOError:
                    self.held = b"" if waited_for_room or tries else b"full"
                    break
            return True
        if not self.held:
            n = os.readv(self.src, [self.buf])
            if n == 0:
                return False
            self.held = memoryview(self.buf)[:n]
        self.held = self.held[os.write(self.dst, self.held):]
        return True


ways = [Way(0, sock), Way(sock, 1)]
while ways:
    want = {}
    for w in ways:
        fd, ev = w.waits_on()
        want[fd] = want.get(fd, 0) | ev
    p = poll()
    for fd, ev in want.items():
        p.register(fd, ev)
    ready = dict(p.poll())
    for w in list(ways):
        fd, ev = w.waits_on()
        if not ready.get(fd, 0) & (ev | GONE):
            continue
        try:
            if w.step():
                continue
        except BlockingIOError:
            continue
        except OSError as e:
            fail("the session ended: %s" % (e.strerror or e))
        ways.remove(w)
        if w.src == 0:
            try:
                conn.shutdown(_socket.SHUT_WR)
            except OSError:
                pass
        else:
            os.close(1)
"""


def ap_pythons() -> List[str]:
    """The interpreters RELAY tries for AP_RELAY: $CONDOR_JOB_PROXY_AP_PYTHON's when it is set (absolute
    paths only: RELAY never searches a PATH), else AP_PYTHONS."""
    import os

    given = os.environ.get(AP_PYTHON_ENV)
    if given is None:
        return list(AP_PYTHONS)
    return [word for word in given.split() if word.startswith("/") and _SH_SAFE.issuperset(word)]


def ssh_program(pythons: Optional[Sequence[str]] = None) -> str:
    """The -ssh value: /bin/sh running RELAY with AP_RELAY and the interpreters to try for it, each word in
    V2 quoting with '%' doubled for condor_ssh_to_job's token expansion."""
    tried = " ".join(ap_pythons() if pythons is None else pythons)
    return " ".join(quote_word(w).replace("%", "%%") for w in ("/bin/sh", "-c", RELAY, "cjp-hop", AP_RELAY, tried))


def sh_quote(word: str) -> str:
    """One word for POSIX sh (shlex.quote without importing re on the ProxyCommand's path)."""
    if word and all(c in _SH_SAFE for c in word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


def tool_words(job_id: str, *, schedd: Optional[str] = None, pool: Optional[str] = None,
               keygen_options: Sequence[str] = (), shells: Sequence[str] = (),
               pythons: Optional[Sequence[str]] = None) -> List[str]:
    """condor_ssh_to_job's argument list on the AP (without the program name); *pythons*: see ssh_program."""
    return ssh_to_job_words(ssh_program(pythons), job_id, schedd=schedd, pool=pool, keygen_options=keygen_options,
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
