"""Docker for the container tier (tests/real/test_real_containers.py): the test images, built once and cached.

No container registry is reachable where the tier runs, so images come from Debian's own package registry:
`debootstrap --variant=minbase` of the machine's Debian suite from the mirror its apt sources name
(deb.debian.org), trimmed, then `docker import`.  That base is tarred into a cache directory outside the
repository ($CJP_IMAGE_CACHE, default /var/cache/condor-job-proxy-tests) under a hash of its recipe; the
variants are small `docker build` layers on it (no network: `--network=none`):

    good     the job's user (uid, gid) in /etc/passwd and sftp-server at the execute node's path
             (/usr/lib/openssh/sftp-server, as the pool's sshd_config template names it): what an image
             builder should make (docs/containers.md)
    nouid    no entry for the job's uid: scp and sftp fail ("No user found for uid N"), rsync works
    nosftp   the user, but no sftp-server: sftp and scp fail, `scp -O` and rsync work

Every image has rsync, busybox (a small web server for the `ssh -L` tests), a page at /srv/cjp/index.html
and `VARIANT_ID=cjp-test` in its /etc/os-release, so a command that ran inside tells itself from one that
ran on the host.  Tags carry the recipe's hash (with the user's name, uid and gid), so a changed recipe
builds anew and an unchanged one costs nothing; a fresh machine simply builds them all (about a minute).

Building needs root (debootstrap): `python3 tests/support/realdocker.py build --user NAME`, which
scripts/test-containers.sh runs before it starts the tier as that user.  The tier itself only checks that
Docker answers and the images are there (`why_unavailable`).
"""

from __future__ import annotations

import argparse
import grp
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Dict, Optional, Tuple

DOCKER = "/usr/bin/docker"  # Debian's docker.io client, the one HTCondor's DOCKER knob names by default
REQUIRE_ENV = "CJP_REQUIRE_CONTAINERS"  # set by CI: the tier must run, a missing piece fails it
CACHE_ENV = "CJP_IMAGE_CACHE"
DEFAULT_CACHE = "/var/cache/condor-job-proxy-tests"
REPOSITORY = "cjp-test"
RECIPE_VERSION = 1
PACKAGES = ("openssh-sftp-server", "rsync", "busybox")  # openssh-sftp-server brings openssh-client: scp
TRIM = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale",
        "usr/share/info")
SFTP_SERVER = "/usr/lib/openssh/sftp-server"  # the path the pool's sshd_config template names (checked)
PAGE = "/srv/cjp/index.html"
PAGE_TEXT = "served from inside a cjp-test image\n"
VARIANT_ID = "cjp-test"
VARIANTS = ("good", "nouid", "nosftp")


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def apt_source() -> Tuple[str, str]:
    """(mirror URI, suite) of the machine's Debian archive, as its apt sources name them (deb822 .sources
    files and the one-line sources.list), not the security archive; deb.debian.org and the os-release's
    codename when none says."""
    found = []
    directory = "/etc/apt/sources.list.d"
    names = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
    for name in [n for n in names if n.endswith(".sources")]:
        for stanza in _read(os.path.join(directory, name)).split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                key, sep, value = line.partition(":")
                if sep and not line.startswith((" ", "#")):
                    fields[key.strip().lower()] = value.split()
            if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
                found += [(uri, suite) for uri in fields.get("uris", []) for suite in fields.get("suites", [])]
    for line in (_read("/etc/apt/sources.list") + "\n" + "\n".join(
            _read(os.path.join(directory, n)) for n in names if n.endswith(".list"))).splitlines():
        words = [w for w in line.split("#")[0].split() if not w.startswith("[")]
        if len(words) >= 3 and words[0] == "deb":
            found.append((words[1], words[2]))
    for uri, suite in found:
        if "security" not in uri and "-" not in suite and "debian" in uri:
            return uri.rstrip("/"), suite
    codename = next((line.split("=", 1)[1].strip().strip('"') for line in _read("/etc/os-release").splitlines()
                     if line.startswith("VERSION_CODENAME=")), "bookworm")
    return "http://deb.debian.org/debian", codename


def _digest(recipe) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def base_recipe() -> dict:
    return {"version": RECIPE_VERSION, "suite": apt_source()[1], "variant": "minbase", "packages": list(PACKAGES),
            "trim": list(TRIM), "page": PAGE_TEXT, "variant_id": VARIANT_ID}


def identity(user: Optional[str] = None) -> Tuple[str, int, int, str, str]:
    """(name, uid, gid, home, group name) of *user* (default: the one running this)."""
    entry = pwd.getpwnam(user) if user else pwd.getpwuid(os.getuid())
    try:
        group = grp.getgrgid(entry.pw_gid).gr_name
    except KeyError:
        group = entry.pw_name
    return entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir, group


def dockerfile(variant: str, base: str, user: Optional[str] = None) -> str:
    name, uid, gid, home, group = identity(user)
    account = (f"RUN grep -q '^[^:]*:[^:]*:{gid}:' /etc/group || echo '{group}:x:{gid}:' >> /etc/group; "
               f"echo '{name}:x:{uid}:{gid}::{home}:/bin/bash' >> /etc/passwd\n")
    steps = {"good": account, "nouid": "", "nosftp": account + f"RUN rm {SFTP_SERVER}\n"}[variant]
    return f"FROM {base}\n" + steps + f"LABEL org.condor-job-proxy.test={variant}\n"


def tags(user: Optional[str] = None) -> Dict[str, str]:
    """The tag of the base and of every variant, for *user* (default: the one running this)."""
    base = f"{REPOSITORY}/base:{_digest(base_recipe())}"
    out = {"base": base}
    for variant in VARIANTS:
        out[variant] = f"{REPOSITORY}/{variant}:{_digest([base, dockerfile(variant, base, user)])}"
    return out


def missing_tag() -> str:
    """An image no one has: a job that asks for it is held (the starter's pull fails)."""
    return f"{REPOSITORY}/missing:{uuid.uuid4().hex[:12]}"


def docker(*args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout, **kw)


def has_image(tag: str) -> bool:
    return docker("image", "inspect", "--format", "{{.Id}}", tag, timeout=30).returncode == 0


def why_unavailable() -> Optional[str]:
    """One line saying why the container tier cannot run here (no real pool, no Docker, no images), or None
    when it can."""
    import realpool

    if os.geteuid() == 0:
        return ("container tier: HTCondor runs no jobs as root; `sh scripts/test-containers.sh` runs it as an "
                "unprivileged user")
    no_pool = realpool.why_unavailable()
    if no_pool:
        return no_pool.replace("real HTCondor tier", "container tier")
    how = (f"`sudo CJP_REAL_USER={identity()[0]} sh scripts/test-containers.sh` sets it all up (Debian's "
           "docker.io, dockerd, the docker group, the images) and runs the tier")
    if not os.access(DOCKER, os.X_OK):
        return f"container tier: Debian's docker.io is not installed ({DOCKER}); {how}"
    try:
        done = docker("version", "--format", "{{.Server.Version}}", timeout=20)
    except subprocess.TimeoutExpired:
        return "container tier: the Docker daemon did not answer within 20 s"
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
        return f"container tier: Docker does not answer this user ({said}); {how}"
    missing = [tag for tag in tags().values() if not has_image(tag)]
    if missing:
        return f"container tier: the test images are not built ({', '.join(missing)}); {how}"
    return None


# ----- building (as root) ---------------------------------------------------------------------------------
def cache_dir() -> Path:
    path = Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _run(argv, **kw) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, **kw)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise SystemExit(f"realdocker: {argv[0]} failed ({done.returncode}):\n{tail}")


def _base_tarball(cache: Path) -> Path:
    """The base root file system as a tarball in the cache: debootstrap'ed once per recipe."""
    recipe = base_recipe()
    tarball = cache / f"base-{_digest(recipe)}.tar"
    if tarball.exists():
        return tarball
    mirror, suite = apt_source()
    work = Path(tempfile.mkdtemp(prefix="base-", dir=cache))
    try:
        root = work / "root"
        print(f"realdocker: debootstrap {suite} from {mirror} (once; cached in {cache})", flush=True)
        _run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", suite, str(root), mirror],
             timeout=1800)
        for part in TRIM:
            target = root / part
            if target.is_dir():
                shutil.rmtree(target)
                target.mkdir()
        page = root / PAGE.lstrip("/")
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(recipe["page"])
        with open(root / "etc" / "os-release", "a") as f:  # a symlink to usr/lib/os-release: followed
            f.write(f'VARIANT="condor-job-proxy test image"\nVARIANT_ID={VARIANT_ID}\n')
        _run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(work / "base.tar"), "."])
        os.replace(work / "base.tar", tarball)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for stale in cache.glob("base-*.tar"):
        if stale != tarball:
            stale.unlink()
    return tarball


def build(user: str) -> Dict[str, str]:
    """Every image for *user*, from the cache where it can be: the tags."""
    wanted = tags(user)
    if not has_image(wanted["base"]):
        tarball = _base_tarball(cache_dir())
        with open(tarball, "rb") as f:
            _run([DOCKER, "import", "--message", "condor-job-proxy test base", "-", wanted["base"]], stdin=f,
                 timeout=600)
    for variant in VARIANTS:
        if not has_image(wanted[variant]):
            _run([DOCKER, "build", "--quiet", "--network=none", "--tag", wanted[variant], "-"],
                 input=dockerfile(variant, wanted["base"], user), timeout=600)
    return wanted


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Build the container tier's test images (as root).")
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build what is missing, from the cache where it can")
    b.add_argument("--user", required=True, help="the user the tier runs as (their uid goes into the images)")
    sub.add_parser("tags", help="print the tags the images of the user running this have")
    args = ap.parse_args(argv)
    if args.command == "tags":
        print("\n".join(f"{k} {v}" for k, v in tags().items()))
        return 0
    if os.geteuid() != 0:
        raise SystemExit("realdocker: building the images needs root (debootstrap)")
    for variant, tag in build(args.user).items():
        print(f"realdocker: {variant:<7} {tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
