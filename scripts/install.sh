#!/bin/sh
# Install condor-job-proxy into ./.venv, with the OpenSSH client and server and rsync it drives.
# Works on a fresh Debian or Ubuntu machine, as root or as a user with sudo.
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
missing=""
for pair in ssh:openssh-client sshd:openssh-server rsync:rsync python3:python3; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then missing="$missing $pkg"; fi
done
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  missing="$missing python3-venv"
fi
if [ -n "$missing" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "installing:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "please install:$missing" >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# A regular install, as users get from pip or pipx: an editable one adds a path finder that costs
# ~10 ms on every ProxyCommand start.  For hacking on the code: .venv/bin/pip install -e '.[test]'
.venv/bin/python -m pip install -q '.[test]'
echo "installed: $(pwd)/.venv/bin/condor-job-ssh, condor-job-proxy, condor-ssh-to-job"
