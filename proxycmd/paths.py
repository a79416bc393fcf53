"""Every path the tool uses is built here: config, state, the private runtime directory and its sockets.

The runtime directory holds the agent's socket, the live known_hosts file, ControlMaster sockets and the
classic shim's per-invocation key directories.  ssh connects to a ControlPath BEFORE it runs the
ProxyCommand, so no check of ours can protect that path when ssh uses it: the directory must live where
no other user can ever create or replace it, today or after a reboot.  Hence the "safe chain" rule
(``check_safe_chain``): the directory is ours, 0700 and not a symlink, and every directory above it, from
``/`` down (symlinks followed and their targets checked too), belongs to root or to us and is writable by
nobody else.  A sticky world-writable directory such as /tmp fails it: after a reboot anyone may take the
name again.

Everything bound to one kernel lives in a per-host directory inside it, ``host-<name>`` (``HOST_DIR``):
the agent's two sockets, its start lock and its log.  A home shared by several login nodes (NFS) has one
runtime directory for all of them, but a unix socket only answers in the kernel that bound it, so each
node's agent keeps to its own directory.  ssh names the same directory with ``%l`` (IdentityAgent,
UserKnownHostsFile): ssh.c sets ``%l`` to gethostname(3) as it is, dots and all (``%L`` is the part before
the first dot), and ``local_node`` reads the same call.  ControlPath's ``%C`` already hashes the local host
name, so those sockets stay in the runtime directory itself.

Where one machine owns the runtime directory (a local file system, laptop mode), the per-host level is one
fixed directory instead, ``local`` (``ONE_HOST_DIR``), and the block names it literally: SSH libraries and
editors that read ssh_config themselves expand no ``%l``.  `setup` decides (sshconfig/pernode.py) and leaves
the empty file ``one-host`` (``ONE_HOST_MARKER``) in the runtime directory; every process that knows the
runtime directory (the proxy, the agent, our commands) then finds the same directory the block names.
Without the file (every runtime directory made before this existed) the directory is ``host-<name>``.

The default is ``<home>/.ssh/cjp``; where the home's file system cannot hold unix sockets (AFS) `setup`
falls back to ``/run/user/<uid>/condor-job-proxy``, which only root can create.  Every socket path in it
stays under 104 bytes (macOS's limit; Linux allows 108).  docs/security.md tells the whole story.
"""

from __future__ import annotations

import os
import stat
import sys

from . import safefs
from .safefs import PathError  # noqa: F401 -- where callers have always found it

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Mapping, Optional, Tuple
else:
    def Path(*parts):  # noqa: N802 - pathlib.Path, imported when the first one is made
        """pathlib costs ~9 ms of CPU (it imports re): the ProxyCommand's own path makes no Path
        (`ensure_runtime_path`, and the socket paths joined onto a str: `_join`)."""
        from pathlib import Path as _Path

        return _Path(*parts)

APP = "condor-job-proxy"
# sun_path holds 108 bytes on Linux and 104 on macOS and the BSDs, the final NUL included.
SOCKET_PATH_MAX = 107 if sys.platform.startswith("linux") else 103
CONTROL_NAME = "%C"  # %C expands to 40 hex characters; no prefix, to keep socket paths short
# ssh binds a master's socket under a temporary name, "<ControlPath>.<16 random characters>", then renames
# it into place (mux.c, muxserver_listen): that longer name must fit too.
_CONTROL_EXPANDED = 40 + 17
HOME_RUNDIR = (".ssh", "cjp")  # the default runtime directory, under the user's home
CLASSIC_FDPASS = "classic/0123456-012345678/fdpass"  # the longest socket path the classic shim makes (sshconfig/classic/dirs.py)

HOST_DIR = "host-%l"  # the per-host directory as ssh_config writes it; ``host_dir`` expands it the same way
ONE_HOST_DIR = "local"  # the host directory where one machine owns the runtime directory (no "host-" prefix:
# no host name can make a per-node directory of that name)
ONE_HOST_MARKER = "one-host"  # present in the runtime directory: ONE_HOST_DIR is the host directory
AGENT_SOCKET = "agent.sock"
CONTROL_SOCKET = "control.sock"
KNOWN_HOSTS = "known_hosts"
# OpenSSH before 8.4 expands no tokens in UserKnownHostsFile: then every node's ssh reads this one file in
# the runtime directory, which each node's agent merges its lines into (agent/knownhosts.py).  Not named
# known_hosts, which an agent of an earlier version may still be rewriting whole.
SHARED_KNOWN_HOSTS = "known_hosts.shared"
_NODE_NAME_MAX = 255
AGENT_LOCK = "agent.lock"
AGENT_LOG = "agent.log"


_RUNTIME_FIX = "(`condor-job-ssh setup --runtime-dir DIR`)"
_STATE_FIX = "(set XDG_STATE_HOME to one, or leave it unset for ~/.local/state)"
_CONFIG_FIX = "(set XDG_CONFIG_HOME to one, or leave it unset for ~/.config)"
_SSH_CONFIG_FIX = "(or name another file with --ssh-config PATH)"


def _check_ancestors(path: str, below: str, missing_ok: bool = False, fix: str = _RUNTIME_FIX) -> None:
    """The safe chain above and at *path* (safefs.check_ancestors), with the runtime directory's fix by default."""
    safefs.check_ancestors(path, below, fix=fix, missing_ok=missing_ok)


def check_safe_chain(path) -> None:
    """Raise PathError (one line) unless no other user can create, replace or enter *path*, now or after a
    reboot: *path* is our 0700 directory and not a symlink, and every directory above it belongs to root or
    to us and is writable by nobody else (see the module's docstring)."""
    text = os.path.normpath(str(path))
    if not os.path.isabs(text):
        raise PathError(f"runtime directory {path} must be an absolute path")
    _check_ancestors(os.path.dirname(text), text)
    safefs.check_own_dir(Path(text))


def check_runtime_dir(path) -> None:
    """Like ``ensure_runtime_dir`` but creating nothing: what is there must pass, what is missing we would
    create privately (for `--dry-run` and `doctor`)."""
    text = os.path.normpath(str(path))
    if not os.path.isabs(text):
        raise PathError(f"runtime directory {path} must be an absolute path")
    check_socket_room(text)
    _check_ancestors(os.path.dirname(text), text, missing_ok=True)
    if os.path.lexists(text):
        safefs.check_own_dir(Path(text))


def check_socket_room(path, node: "Optional[str]" = None) -> None:
    """Raise PathError unless every socket we (or ssh) make in *path* fits in a unix socket address: the
    agent's in the per-host directory of *node* (this host when None), ssh's ControlPath, the classic shim's."""
    node = local_node() if node is None else node
    agent = len(os.fsencode(HOST_DIR.replace("%l", node))) + 1 + max(len(AGENT_SOCKET), len(CONTROL_SOCKET))
    longest = max(agent, _CONTROL_EXPANDED, len(CLASSIC_FDPASS))
    size = len(os.fsencode(str(path))) + 1 + longest
    if size > SOCKET_PATH_MAX:
        raise PathError(f"runtime directory {path} is too long for unix socket paths ({size} bytes with ssh's "
                        f"ControlPath, {SOCKET_PATH_MAX} at most): run `condor-job-ssh setup --runtime-dir DIR` "
                        "with a short private directory under your home")


def home_dir(env: "Optional[Mapping[str, str]]" = None) -> Path:
    """$HOME when it is an absolute directory of ours (not under `su`, where it is the other user's), else
    the home in the password database."""
    env = os.environ if env is None else env
    home = env.get("HOME", "")
    if os.path.isabs(home):
        try:
            st = os.stat(home)
        except OSError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid():
            return Path(os.path.normpath(home))
    import pwd

    try:
        return Path(pwd.getpwuid(os.getuid()).pw_dir)
    except KeyError:
        raise PathError(f"cannot find a home directory for uid {os.getuid()}: set HOME, or run "
                        "`condor-job-ssh setup --runtime-dir DIR` with a private directory") from None


def default_runtime_dir(env: "Optional[Mapping[str, str]]" = None) -> Path:
    """``<home>/.ssh/cjp``: valid after logout, in cron, tmux and under `su`; nobody else can create it."""
    return home_dir(env).joinpath(*HOME_RUNDIR)


def fallback_runtime_dir() -> Path:
    """For homes that cannot hold unix sockets (AFS): only root creates /run/user/<uid>; gone at logout."""
    return Path(f"/run/user/{os.getuid()}") / APP


def runtime_dir(env: "Optional[Mapping[str, str]]" = None, create: bool = True) -> Path:
    """The default runtime directory (``<home>/.ssh/cjp``), created on demand (~/.ssh too, 0700, when it is
    missing) and checked with ``check_safe_chain``."""
    path = default_runtime_dir(env)
    if create:
        _check_ancestors(str(path.parent.parent), str(path))
        if not os.path.lexists(path.parent):
            try:
                os.mkdir(path.parent, 0o700)
            except FileExistsError:
                pass
            except OSError as exc:
                raise PathError(f"cannot create {path.parent}: {exc.strerror}") from None
        return ensure_runtime_dir(path)
    return path


def ensure_runtime_dir(path) -> Path:
    """Create (its parent must exist) or verify a runtime directory: short enough for sockets, and a safe
    chain (``check_safe_chain``).  The proxy calls this on every connection: a few lstat calls."""
    return Path(ensure_runtime_path(path))


def ensure_runtime_path(path) -> str:
    """``ensure_runtime_dir``, returning a str (the ProxyCommand's path makes no Path)."""
    path = os.path.normpath(str(path))
    if not os.path.isabs(path):
        raise PathError(f"runtime directory {path} must be an absolute path")
    check_socket_room(path)
    parent = os.path.dirname(path)
    _check_ancestors(parent, path)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except FileNotFoundError:
        raise PathError(f"cannot create {path}: its parent {parent} does not exist "
                        "(run `condor-job-ssh setup` again to pick a new runtime directory)") from None
    except OSError as exc:
        raise PathError(f"cannot create {path}: {exc.strerror}") from None
    safefs.check_own_dir(path)
    return path


def can_hold_sockets(directory: Path) -> bool:
    """Whether a unix socket can be made in *directory* (AFS, for one, cannot): bind a test socket."""
    import socket

    probe = directory / f".probe-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            os.unlink(probe)
        except OSError:
            pass
        sock.bind(str(probe))
    except OSError:
        return False
    finally:
        sock.close()
    try:
        os.unlink(probe)
    except OSError:
        pass
    return True


def pick_runtime_dir(env: "Optional[Mapping[str, str]]" = None, create: bool = True) -> "Tuple[Path, Optional[str]]":
    """The runtime directory `setup` writes into the block, and a one-line warning or None.

    ``<home>/.ssh/cjp`` when its file system holds unix sockets; else ``/run/user/<uid>/condor-job-proxy``
    with a warning that it disappears at logout.  Without *create* nothing is made or probed.
    """
    chosen = runtime_dir(env, create=create)
    if not create or can_hold_sockets(chosen):
        return chosen, None
    fallback = fallback_runtime_dir()
    if not fallback.parent.is_dir():
        raise PathError(f"{chosen} cannot hold unix sockets (a network file system such as AFS?) and there is no "
                        f"{fallback.parent}: run `condor-job-ssh setup --runtime-dir DIR` with a short private "
                        "directory on a local disk")
    ensure_runtime_dir(fallback)
    return fallback, (f"{chosen} cannot hold unix sockets (AFS?): using {fallback}, which disappears when you log "
                      "out, so connections from cron or after logout fail; `setup --runtime-dir DIR` picks another")


def check_node_name(name: str) -> str:
    """*name* (a host name, as gethostname(3) returns it) if it can name a directory, else PathError."""
    if not name or len(name) > _NODE_NAME_MAX or "/" in name or not name.isprintable() or " " in name:
        raise PathError(f"this host's name {name!r} cannot name a directory (empty, or it holds '/', a blank or "
                        "a control character): ask your admin to fix the host name")
    return name


def local_node() -> str:
    """This host's name exactly as OpenSSH expands ``%l``: gethostname(3), not shortened, not resolved."""
    from _socket import gethostname  # socket's own: the socket module costs ~10 ms of CPU (enum, selectors)

    return check_node_name(gethostname())


def _join(rundir, *names):
    """*rundir*/names: a str for a str *rundir* (the ProxyCommand's path makes no Path), else a Path."""
    return os.path.join(rundir, *names) if isinstance(rundir, str) else rundir.joinpath(*names)


def one_host(rundir: Path) -> bool:
    """Whether *rundir* is owned by this one machine (``ONE_HOST_MARKER`` is there): its host directory is then
    ``ONE_HOST_DIR``, as the block names it.  One lstat; *rundir* is a checked private directory, so only we
    can have made the file."""
    return os.path.lexists(os.path.join(rundir, ONE_HOST_MARKER))


def set_one_host(rundir: Path, one: bool) -> None:
    """Make (*one*) or remove the marker: `setup` calls this with the block it writes."""
    marker = os.path.join(rundir, ONE_HOST_MARKER)
    if one:
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600))
    else:
        try:
            os.unlink(marker)
        except FileNotFoundError:
            pass


def host_dir(rundir: Path, node: "Optional[str]" = None) -> Path:
    """The per-host directory of *node* (this host when None) in *rundir*: ``HOST_DIR`` with ``%l``
    expanded as ssh does, or ``ONE_HOST_DIR`` (for this host) when *rundir* is this machine's alone
    (``one_host``).  Not created here (``ensure_host_dir``)."""
    if node is None and one_host(rundir):
        return _join(rundir, ONE_HOST_DIR)
    return _join(rundir, HOST_DIR.replace("%l", check_node_name(node) if node is not None else local_node()))


def agent_socket(rundir: Path, node: "Optional[str]" = None) -> Path:
    """The socket ssh's IdentityAgent names: in this host's directory, since a socket answers only in the
    kernel that bound it."""
    return _join(host_dir(rundir, node), AGENT_SOCKET)


def control_socket(rundir: Path, node: "Optional[str]" = None) -> Path:
    """The agent's management socket (register, status, stop): only our own client uses it, ssh never
    names it, so agent forwarding cannot carry it into a job."""
    return _join(host_dir(rundir, node), CONTROL_SOCKET)


def known_hosts(rundir: Path, shared: bool = False, node: "Optional[str]" = None) -> Path:
    """The file ssh reads for job host keys: this host's own (OpenSSH 8.4+ expands ``%l`` in
    UserKnownHostsFile), or with *shared* the one file all login nodes read and merge into."""
    return _join(rundir, SHARED_KNOWN_HOSTS) if shared else _join(host_dir(rundir, node), KNOWN_HOSTS)


def shared_known_hosts_lock(rundir: Path) -> Path:
    """The lock every node's agent takes (fcntl, which NFS carries to the server) to merge the shared file."""
    return _join(rundir, SHARED_KNOWN_HOSTS + ".lock")


def ensure_host_dir(rundir: Path) -> Path:
    """Create (0700) or verify this host's directory in *rundir*, which must be a checked runtime directory:
    only we can create anything in it, so the directory's own check is enough."""
    return safefs.make_private_dir(host_dir(rundir))


def agent_lock(rundir: Path) -> Path:
    return _join(host_dir(rundir), AGENT_LOCK)


def agent_log(rundir: Path) -> Path:
    return _join(host_dir(rundir), AGENT_LOG)


def control_path(rundir: Path) -> str:
    """ControlPath for ssh_config: ``%C`` keeps it unique per (local host, host, port, user) and short."""
    return str(rundir / CONTROL_NAME)


def classic_session_dir(rundir: Path) -> Path:
    """Parent of the classic shim's per-invocation key directories (0700)."""
    return safefs.make_private_dir(rundir / "classic")


def config_dir() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP, appauthor=False))


def _safe_dir(path: str, fix: str, create: bool) -> str:
    """*path* (normalised) after the safe-chain rule for what exists of it and above it; with *create* the
    missing directories are made 0700 first and everything is checked after (what raced us included)."""
    path = os.path.abspath(path)
    _check_ancestors(path, path, missing_ok=True, fix=fix)
    if create:
        current = "/"
        for part in [p for p in path.split("/") if p]:
            current = os.path.join(current, part)
            safefs.mkdir_private(current)
        _check_ancestors(path, path, fix=fix)
    return path


def check_config_dir(create: bool = False) -> Path:
    """The settings directory (config.toml, profiles/), after the state directory's safe-chain rule: it and
    every directory above it belong to root or to us and nobody else can write to them, so nobody can swap a
    link into it while `setup` writes there (an ``XDG_CONFIG_HOME`` in a shared directory is refused).  With
    *create* the missing directories are made 0700."""
    return Path(_safe_dir(str(config_dir()), _CONFIG_FIX, create))


def check_ssh_config_dir(config: Path, create: bool = False) -> None:
    """The same rule for the directories of the ssh config that follows $HOME (~/.ssh/config): the one named,
    and the one it really is in when it is a symbolic link.  *create*: make a missing ~/.ssh (0700)."""
    where = os.path.dirname(os.path.abspath(config))
    _safe_dir(where, _SSH_CONFIG_FIX, create)
    real = os.path.dirname(os.path.realpath(config))
    if real != where:
        _safe_dir(real, _SSH_CONFIG_FIX, False)


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
    return _join(rundir, f"profile-{name}.lock")


def state_dir() -> Path:
    from platformdirs import user_state_dir

    return Path(user_state_dir(APP, appauthor=False))


def check_state_dir() -> str:
    """The state directory, after the safe-chain check of what exists of it (PathError when it fails)."""
    return _safe_dir(str(state_dir()), _STATE_FIX, False)


def state_subdir(name: str, create: bool = True) -> Path:
    """``<state dir>/<name>``, a private 0700 directory (made when *create*), in a state directory that
    passes the runtime directory's safe-chain rule: it and every directory above it belong to root or to
    us and nobody else can write to them, so no other user can delete, rename or plant what we keep there
    (an ``XDG_STATE_HOME`` in a shared directory is refused).  Without *create* nothing is made and a
    missing directory is a PathError."""
    state = _safe_dir(str(state_dir()), _STATE_FIX, create)
    if create:
        return safefs.make_private_dir(Path(state) / name)
    safefs.check_own_dir(Path(state) / name)
    return Path(state) / name


def config_lock(config: Path) -> Path:
    """The lock file that every run of ours writing the ssh config *config* (its real path) takes: in our
    private state directory, never beside the config (the directory it is in may be shared)."""
    import hashlib

    key = hashlib.sha256(os.fsencode(os.path.realpath(config))).hexdigest()[:32]
    return state_subdir("locks") / f"ssh-config-{key}.lock"


def failures_dir() -> Path:
    """Where the proxy records the last failure per host (for `doctor`); see ``state_subdir``."""
    return state_dir() / "failures"


def default_sim_root() -> Path:
    return state_dir() / "sim"


def default_ssh_config() -> Path:
    return Path(os.path.expanduser("~")) / ".ssh" / "config"

