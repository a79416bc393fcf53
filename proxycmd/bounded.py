"""Another program's output, read within bounds.

condor_ssh_to_job, the access point and the programs we run there may write anything: 300 MiB on stderr
once cost 2.1 GB of memory, a 314 MB "one line" error and a failure record of that size.  What they write
is always read to its end (a writer blocked on a full pipe would never finish), but only a bounded part is
kept: of messages (stderr) the first and the last part, since the words that explain a failure come first
or last; of output (stdout) up to a limit, past which the command fails with one line.  Imports only what
the ProxyCommand's path imports already (os, time; select and subprocess where a command is run).
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import Mapping, Optional, Sequence

KEEP = 64 * 1024  # bytes of a program's messages kept: the first and the last half of it
MAX_OUTPUT = 64 * 1024 * 1024  # bytes of a program's standard output we take (condor_q's JSON for many jobs)
CHUNK = 65536


class Said:
    """What a program says on stderr: its first and last KEEP/2 bytes; what lies between is only counted."""

    __slots__ = ("head", "tail", "dropped", "_half")

    def __init__(self, keep: int = KEEP) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self._half = keep // 2

    def add(self, chunk: bytes) -> None:
        room = self._half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            over = len(self.tail) - self._half
            if over > 0:
                del self.tail[:over]  # from the front of a bytearray: no copy of the rest
                self.dropped += over

    def __bool__(self) -> bool:
        return bool(self.head)

    def text(self) -> str:
        """The kept bytes, decoded; where the middle was left out, a line says how much."""
        gap = b"\n[... %d bytes left out ...]\n" % self.dropped if self.dropped else b""
        return (bytes(self.head) + gap + bytes(self.tail)).decode("utf-8", "replace")


class TooMuchOutput(Exception):
    """A program printed more than we take (see `run`)."""


def run(argv: Sequence[str], *, input: Optional[bytes] = None, timeout: float = 120.0,
        max_output: int = MAX_OUTPUT, keep: int = KEEP, env: Optional[Mapping[str, str]] = None):
    """Run *argv* (in *env*, else ours) with *input* on its stdin (else /dev/null): (exit status, stdout
    bytes, stderr text), stderr kept as `Said` keeps it.  subprocess.TimeoutExpired after *timeout* and TooMuchOutput past
    *max_output* bytes of stdout (the program is killed in both cases); OSError when it cannot start."""
    import selectors
    import subprocess

    proc = subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True, env=env)
    out, err = bytearray(), Said(keep)
    deadline = time.monotonic() + timeout
    pending = memoryview(input or b"")
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            sel.register(proc.stderr, selectors.EVENT_READ)
            if proc.stdin is not None:
                if pending:
                    os.set_blocking(proc.stdin.fileno(), False)
                    sel.register(proc.stdin, selectors.EVENT_WRITE)
                else:
                    proc.stdin.close()
            while sel.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise subprocess.TimeoutExpired(argv, timeout)
                for key, _ in sel.select(left):
                    if key.fileobj is proc.stdin:
                        try:
                            pending = pending[os.write(key.fd, pending[:CHUNK]):]
                        except BrokenPipeError:
                            pending = pending[:0]
                        if not pending:
                            sel.unregister(proc.stdin)
                            proc.stdin.close()
                        continue
                    chunk = os.read(key.fd, CHUNK)
                    if not chunk:
                        sel.unregister(key.fileobj)
                    elif key.fileobj is proc.stderr:
                        err.add(chunk)
                    else:
                        out += chunk
                        if len(out) > max_output:
                            raise TooMuchOutput(f"{os.path.basename(argv[0])} printed more than "
                                                f"{max_output >> 20} MiB")
        code = proc.wait(max(deadline - time.monotonic(), 0.0))
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    return code, bytes(out), err.text()
