"""The ssh process that runs us: where its own stderr goes, whether it prints our disconnect, and
whether a person at a terminal is waiting.

With ControlPersist on, ssh starts the ProxyCommand with stderr on /dev/null (docs/design-facts.md: "Errors that reach the user through ssh"), yet ssh's own
stderr still reaches the user: a terminal, the pipe a script or cron reads, a log file opened for
appending.  `reach_ssh_stderr` writes there instead (on Linux through /proc/PID/fd/2 of our parent, which
is ours), else to the controlling terminal.

`prints_disconnect` tells the failure path whether ssh itself will print our sentence (the SSH disconnect
of proxycmd/disconnect.py): OpenSSH prints it at log level ERROR, so only `-q` (QUIET) or a LogLevel of
QUIET or FATAL given on its command line hides it.  A LogLevel set in an ssh config file is not seen here.
"""

from __future__ import annotations

import os
import stat
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import List, Optional

# ssh's options that take an argument (ssh.c's getopt string)
_WITH_ARGUMENT = set("bceilmopBDEFIJLOPQRSwW")
_SILENT_LEVELS = ("quiet", "fatal")


def _is_null(st: os.stat_result) -> bool:
    try:
        null = os.stat(os.devnull)
    except OSError:
        return False
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == null.st_rdev


def _appends(parent: int, fd: int) -> bool:
    """Whether *parent* opened its *fd* for appending (a shell's `2>>log`): only then can a second writer
    add lines without overwriting ssh's own."""
    try:
        with open(f"/proc/{parent}/fdinfo/{fd}", encoding="ascii") as info:
            for line in info:
                if line.startswith("flags:"):
                    return bool(int(line.split()[1], 8) & os.O_APPEND)
    except (OSError, ValueError, IndexError):
        pass
    return False


def open_ssh_stderr(parent: int) -> Optional[int]:
    """A descriptor on *parent*'s own stderr (Linux), or None: not our process, /dev/null, a file that
    would be overwritten, a socket (which /proc cannot open)."""
    where = f"/proc/{parent}/fd/2"
    try:
        if parent <= 1 or os.stat(f"/proc/{parent}").st_uid != os.getuid():
            return None
        st = os.stat(where)
    except OSError:
        return None
    if _is_null(st) or (stat.S_ISREG(st.st_mode) and not _appends(parent, 2)):
        return None
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode)):
        return None
    try:
        return os.open(where, os.O_WRONLY | os.O_APPEND | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None


def reach_ssh_stderr(parent: Optional[int] = None) -> None:
    """Make our stderr reach the user when ssh sent it to /dev/null: ssh's own stderr, else the terminal."""
    try:
        if not _is_null(os.fstat(2)):
            return
    except OSError:
        return
    fd = open_ssh_stderr(os.getppid() if parent is None else parent)
    if fd is None:
        try:
            fd = os.open("/dev/tty", os.O_WRONLY | os.O_NOCTTY)
        except OSError:
            return
    os.dup2(fd, 2)
    os.close(fd)


def has_terminal() -> bool:
    """Whether a person at a terminal runs us: stderr is one, or a controlling terminal can be opened."""
    try:
        if os.isatty(2):
            return True
        os.close(os.open("/dev/tty", os.O_WRONLY | os.O_NOCTTY))
        return True
    except OSError:
        return False


# ----- does ssh print our disconnect? -------------------------------------------------------------------------
def parent_argv(parent: int) -> Optional[List[str]]:
    """*parent*'s command line: /proc on Linux, `ps` elsewhere (only on the failure path)."""
    try:
        with open(f"/proc/{parent}/cmdline", "rb") as f:
            raw = f.read(1 << 16)
        return [word.decode("utf-8", "surrogateescape") for word in raw.split(b"\0")[:-1]] or None
    except FileNotFoundError:
        pass
    except OSError:
        return None
    if sys.platform.startswith("linux"):
        return None
    import subprocess

    try:
        done = subprocess.run(["ps", "-ww", "-o", "args=", "-p", str(parent)], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.split() or None


def read_ssh_args(args: List[str]) -> dict:
    """What ssh's command line *args* (without argv[0]) asks for: ``quiet`` (its ERROR messages off: -q, or
    -o LogLevel QUIET/FATAL), ``tty`` (-t: True, -T: False, else None) and ``command`` (one follows the
    destination).  ssh reads options before and after the destination; the command starts after it."""
    quiet = None  # -q and -v: the last one counts
    level = None  # the first -o LogLevel counts, and only when neither -q nor -v was given
    tty = None
    seen_host = command = False
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word == "--":
            command = i < len(args) if seen_host else i + 1 < len(args)
            break
        if not word.startswith("-") or word == "-":
            if seen_host:
                command = True
                break
            seen_host = True
            continue
        for j, letter in enumerate(word[1:], start=1):
            if letter in "qv":
                quiet = letter == "q"
            elif letter in "tT":
                tty = letter == "t"
            elif letter in _WITH_ARGUMENT:
                value = word[j + 1:]
                if not value and i < len(args):
                    value, i = args[i], i + 1
                if letter == "o" and level is None:
                    key, _, rest = value.replace("=", " ", 1).partition(" ")
                    if key.strip().lower() == "loglevel":
                        level = rest.strip().lower()
                break
    return {"quiet": quiet if quiet is not None else level in _SILENT_LEVELS, "tty": tty, "command": command}


def quiet_ssh(args: List[str]) -> bool:
    """Whether ssh's command line *args* turns off its ERROR messages (see `read_ssh_args`)."""
    return read_ssh_args(args)["quiet"]


def wants_terminal(parent: int) -> bool:
    """Whether the ssh that runs us will ask the job's sshd for a terminal: -t, or no command and a
    terminal on its stdin (ssh's RequestTTY auto)."""
    argv = parent_argv(parent)
    if argv is None:
        return False
    asked = read_ssh_args(argv[1:])
    if asked["tty"] is not None:
        return asked["tty"]
    if asked["command"]:
        return False
    try:
        st = os.stat(f"/proc/{parent}/fd/0")
    except OSError:
        return sys.platform == "darwin"  # no /proc: a shell was most likely asked for
    return stat.S_ISCHR(st.st_mode) and not _is_null(st)


def prints_disconnect(parent: int, fd_mode: bool) -> bool:
    """Whether the SSH client that runs us will show our disconnect on its stderr: OpenSSH (fd passing
    means OpenSSH; with pipes its argv[0] must be ssh) not told to be quiet."""
    argv = parent_argv(parent)
    if argv is None:
        return fd_mode
    if not fd_mode and os.path.basename(argv[0]) != "ssh":
        return False  # paramiko, JetBrains, a script: they need our line on stderr
    return not quiet_ssh(argv[1:])
