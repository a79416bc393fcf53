#!/bin/sh
# Install those of the named Debian packages that are missing, with apt-get (as root): for the test-tier
# scripts (test-real-pool.sh, test-containers.sh).  The developer install, with sudo and its explanations
# when it cannot, is scripts/install.sh.
#
#   sh scripts/apt-missing.sh PACKAGE...
set -eu
need=""
for pkg in "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
[ -n "$need" ] || exit 0
echo "installing:$need"
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
