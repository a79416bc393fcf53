"""Every path the tool uses is built here: config, state, the private runtime directory and its sockets.

The runtime directory holds the agent's socket, the live known_hosts file, ControlMaster sockets and the
classic shim's per-invocation key directories.  It must be private (ours, 0700, not a symlink) and short
enough that a unix socket path in it stays under 104 bytes (macOS's limit; Linux allows 108).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from .errors import ProxyError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import Mapping, Optional

APP = "condor-job-proxy"
SOCKET_PATH_MAX = 103  # sun_path is 104 bytes on macOS, including the final NUL
CONTROL_NAME = "cm-%C"  # %C expands to 40 hex characters
_CONTROL_EXPANDED = 3 + 40

AGENT_SOCKET = "agent.sock"
KNOWN_HOSTS = "known_hosts"
AGENT_LOCK = "agent.lock"
AGENT_LOG = "agent.log"


class PathError(ProxyError):
    pass


def check_private_dir(path: Path) -> None:
    """Raise PathError unless *path* is a real directory owned by us that nobody else can enter."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise PathError(f"cannot use {path}: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise PathError(f"refusing to use {path}: it is a symbolic link")
    if not stat.S_ISDIR(st.st_mode):
        raise PathError(f"refusing to use {path}: it is not a directory")
    if st.st_uid != os.getuid():
        raise PathError(f"refusing to use {path}: it belongs to uid {st.st_uid}, not to you")
    if st.st_mode & 0o077:
        raise PathError(f"refusing to use {path}: mode {stat.S_IMODE(st.st_mode):o} lets others in (want 700)")


def make_private_dir(path: Path) -> Path:
    """Create *path* as a 0700 directory (its parent must exist) or verify the one that is there."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise PathError(f"cannot create {path}: {exc.strerror}") from None
    check_private_dir(path)
    return path


def _fits(app_dir: Path) -> bool:
    longest = max(len(AGENT_SOCKET), _CONTROL_EXPANDED, len("classic/0123456789abcdef/fdpass"))
    return len(os.fsencode(str(app_dir))) + 1 + longest <= SOCKET_PATH_MAX


def _usable_base(path: Optional[str]) -> Optional[Path]:
    if not path or not os.path.isabs(path):
        return None
    try:
        check_private_dir(Path(path))
    except PathError:
        return None
    return Path(path) if _fits(Path(path) / APP) else None


def runtime_dir(env: Optional[Mapping[str, str]] = None, create: bool = True) -> Path:
    """The private runtime directory for this user, created on demand.

    In order: ``$XDG_RUNTIME_DIR/condor-job-proxy``; on Linux ``/run/user/<uid>/condor-job-proxy`` (present
    under ``su`` even when the variable is not); on macOS ``$TMPDIR`` (a per-user 0700 directory); else
    ``/tmp/condor-job-proxy-<uid>``, created and verified by us.
    """
    env = os.environ if env is None else env
    uid = os.getuid()
    candidates = [env.get("XDG_RUNTIME_DIR")]
    if sys.platform.startswith("linux"):
        candidates.append(f"/run/user/{uid}")
    elif sys.platform == "darwin":
        candidates.append(env.get("TMPDIR", "").rstrip("/") or None)
    for candidate in candidates:
        base = _usable_base(candidate)
        if base is not None:
            app = base / APP
            return make_private_dir(app) if create else app
    tmp = Path("/tmp") / f"{APP}-{uid}"
    return make_private_dir(tmp) if create else tmp


def ensure_runtime_dir(path: Path) -> Path:
    """Create or verify a runtime directory named explicitly (``--runtime-dir``)."""
    path = Path(path)
    if not path.is_absolute():
        raise PathError(f"runtime directory {path} must be an absolute path")
    if not _fits(path):
        raise PathError(f"runtime directory {path} is too long for unix socket paths (keep it under 50 characters)")
    try:
        return make_private_dir(path)
    except PathError as exc:
        if getattr(exc, "__cause__", None) is None and not path.parent.exists():
            raise PathError(f"cannot create {path}: its parent {path.parent} does not exist "
                            "(run `condor-job-ssh setup` again to pick a new runtime directory)") from None
        raise


def agent_socket(rundir: Path) -> Path:
    return rundir / AGENT_SOCKET


def known_hosts(rundir: Path) -> Path:
    return rundir / KNOWN_HOSTS


def agent_lock(rundir: Path) -> Path:
    return rundir / AGENT_LOCK


def control_path(rundir: Path) -> str:
    """ControlPath for ssh_config: ``%C`` keeps it unique per (local host, host, port, user) and short."""
    return str(rundir / CONTROL_NAME)


def classic_session_dir(rundir: Path) -> Path:
    """Parent of the classic shim's per-invocation key directories (0700)."""
    return make_private_dir(rundir / "classic")


def console_script(name: str) -> "Optional[str]":
    """The absolute path of one of our console scripts: beside this Python first (a pyenv shim found on
    PATH costs 100+ ms a start, on every connection), else the first on PATH; None when neither."""
    import shutil

    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return os.path.abspath(beside)
    found = shutil.which(name)
    return os.path.abspath(found) if found else None


def config_dir() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP, appauthor=False))


def config_file() -> Path:
    return config_dir() / "config.toml"


def profiles_dir() -> Path:
    """Where on-demand job profiles live: ``profiles/`` next to config.toml."""
    return config_dir() / "profiles"


def profile_file(name: str) -> Path:
    """The submit description of profile *name* (a checked profile name: no '/' or '..' can reach here)."""
    return profiles_dir() / f"{name}.sub"


def profile_lock(rundir: Path, name: str) -> Path:
    """The lock that makes simultaneous first connections to a profile submit one job, in our private dir."""
    return rundir / f"profile-{name}.lock"


def state_dir() -> Path:
    from platformdirs import user_state_dir

    return Path(user_state_dir(APP, appauthor=False))


def default_sim_root() -> Path:
    return state_dir() / "sim"


def default_ssh_config() -> Path:
    return Path(os.path.expanduser("~")) / ".ssh" / "config"

