#!/bin/sh
# The real-pool test tier: the tests marked `real` against a real HTCondor personal pool.
#
#   sh scripts/test-real-pool.sh [PYTEST ARGS]
#
# HTCondor is found through $CJP_HTCONDOR (a directory holding personal-pool.sh), else ../shared/htcondor
# beside this clone. HTCondor runs no jobs as root, so as root this script runs the tier as an
# unprivileged user ($CJP_REAL_USER, default cjp-ci; created with useradd when missing): it copies this
# working tree (and the HTCondor release, and open-remote-ssh's checkout from $CJP_OPEN_REMOTE_SSH or
# ../shared/clients/open-remote-ssh when there is one) into that user's home, makes a venv there with /usr/bin/python3,
# installs the package with its test extras, and runs pytest as that user (test homes under ~/t: unix
# socket paths must stay short, and ssh's ControlPath is the longest). As an ordinary user it runs
# pytest in place with ./.venv. CJP_REQUIRE_REAL_POOL=1 (what CI sets) makes a missing pool a failure,
# not a skip; CJP_REQUIRE_CONTAINERS=1 does the same for Docker (scripts/test-containers.sh runs the
# container tier through this script, with `-m containers`: the last -m wins).
set -eu
cd "$(dirname "$0")/.."
repo=$(pwd)
marker="-m real"

if [ "$(id -u)" != 0 ]; then
  exec .venv/bin/python -m pytest -q $marker "$@"
fi

user=${CJP_REAL_USER:-cjp-ci}
htcondor=${CJP_HTCONDOR:-$repo/../shared/htcondor}
[ -x "$htcondor/personal-pool.sh" ] || {
  echo "test-real-pool.sh: no HTCondor: $htcondor/personal-pool.sh is missing; set CJP_HTCONDOR" >&2; exit 2; }

# HTCondor's own libraries (personal-pool.sh's header) and a Python that an ordinary user can run
sh scripts/apt-missing.sh libgomp1 libpcre2-8-0 libsqlite3-0 libssl3 libuuid1 python3-venv

id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
home=$(getent passwd "$user" | cut -d: -f6)
work="$home/cjp"
# NODE_EXTRA_CA_CERTS passes through: where the network's TLS needs an extra CA, npm needs it too (the
# editor tests install their node packages as that user)
as_user() { runuser -u "$user" -- env -i HOME="$home" USER="$user" LOGNAME="$user" \
  PATH=/usr/local/bin:/usr/bin:/bin LC_ALL=C.UTF-8 ${CI:+CI=$CI} \
  ${NODE_EXTRA_CA_CERTS:+NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS} "$@"; }

# A fresh copy of this tree (what git tracks plus new files, never .venv or .git) and of the release
rm -rf "$work.new"
mkdir -p "$work.new"
tar -C "$repo" --exclude=./.venv --exclude=./.git --exclude='*.pyc' --exclude=__pycache__ -cf - . | tar -C "$work.new" -xf -
mkdir -p "$home/shared/htcondor"
cp "$htcondor/personal-pool.sh" "$htcondor"/htcondor-*.tar.xz "$home/shared/htcondor/"
# open-remote-ssh's checkout, when there is one, where tests/sim/test_editors_e2e.py looks beside the copy
ors=${CJP_OPEN_REMOTE_SSH:-$repo/../shared/clients/open-remote-ssh}
rm -rf "$home/shared/clients"
if [ -f "$ors/src/authResolver.ts" ]; then
  mkdir -p "$home/shared/clients" && cp -R "$ors" "$home/shared/clients/open-remote-ssh"
fi
if [ -d "$work/.venv" ]; then mv "$work/.venv" "$work.new/.venv"; fi
rm -rf "$work" && mv "$work.new" "$work"
chown -R "$user:" "$work" "$home/shared"

as_user sh -c "cd '$work' && { [ -x .venv/bin/python ] || /usr/bin/python3 -m venv .venv; } &&
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1; .venv/bin/python -m pip install -q '.[test]'"
cd "$work"
as_user CJP_REQUIRE_REAL_POOL="${CJP_REQUIRE_REAL_POOL:-}" CJP_REQUIRE_CONTAINERS="${CJP_REQUIRE_CONTAINERS:-}" \
  CJP_HTCONDOR="$home/shared/htcondor" CJP_TEST_TMP="$home/t" \
  sh -c 'cd "$0" && exec .venv/bin/python -m pytest -q -m real "$@"' "$work" "$@"
