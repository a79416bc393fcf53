#!/bin/sh
# The container tier: docker- and container-universe jobs on a real HTCondor pool with Debian's Docker
# (tests/real/test_real_containers.py, marked `containers`).
#
#   sh scripts/test-containers.sh [PYTEST ARGS]
#
# As root (CI) it makes everything the tier needs, then runs it through scripts/test-real-pool.sh as the
# unprivileged user $CJP_REAL_USER (default cjp-ci):
#   1. installs Debian's docker.io and debootstrap when missing (apt-get, from the machine's Debian mirror);
#   2. creates the user when missing and puts it in the docker group (the starter runs /usr/bin/docker as
#      the job's user);
#   3. uses a Docker daemon that already answers, else starts `dockerd --iptables=false --ip6tables=false
#      --bridge=none` for the run and stops it at the end (containers then get their own network with only
#      a loopback, or the host's with docker_network_type = host: what the tier needs, and no firewall
#      rules on the machine);
#   4. builds the test images once (tests/support/realdocker.py: debootstrap from Debian's registry, `docker
#      import`, small `docker build` layers), cached under $CJP_IMAGE_CACHE (default
#      /var/cache/condor-job-proxy-tests) and in Docker's own store, keyed by a hash of their recipe;
#   5. runs `pytest -m containers` as that user, and says how long the whole tier took.
# As an ordinary user it runs the tier in place with ./.venv (Docker and the images must be ready: the
# tier skips with one line otherwise).  CJP_REQUIRE_CONTAINERS=1 (what CI sets) makes a missing piece a
# failure, not a skip.
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  exec .venv/bin/python -m pytest -q -m containers "$@"
fi

started=$(date +%s)
user=${CJP_REAL_USER:-cjp-ci}
docker=/usr/bin/docker  # Debian's client, the one HTCondor runs (its DOCKER knob's default)

sh scripts/apt-missing.sh docker.io debootstrap

id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
usermod -a -G docker "$user"

ours=""
logdir=""
stop_dockerd() {
  if [ -n "$ours" ] && kill -0 "$ours" 2>/dev/null; then
    kill "$ours"
    i=0
    while kill -0 "$ours" 2>/dev/null && [ $i -lt 30 ]; do sleep 1; i=$((i + 1)); done
  fi
  [ -z "$logdir" ] || rm -rf "$logdir"
}
if ! $docker version >/dev/null 2>&1; then
  logdir=$(mktemp -d /tmp/cjp-dockerd.XXXXXX)
  dockerd --iptables=false --ip6tables=false --bridge=none >"$logdir/dockerd.log" 2>&1 &
  ours=$!
  trap stop_dockerd EXIT
  trap 'exit 130' INT TERM
  i=0
  until $docker version >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -ge 60 ] || ! kill -0 "$ours" 2>/dev/null; then
      echo "test-containers.sh: dockerd did not come up; its last words:" >&2
      tail -n 15 "$logdir/dockerd.log" >&2
      exit 1
    fi
    sleep 1
  done
fi

/usr/bin/python3 tests/support/realdocker.py build --user "$user"
echo "test-containers.sh: $($docker info --format 'Docker {{.ServerVersion}}, storage driver {{.Driver}}, {{.NCPU}} CPUs, {{.ContainersRunning}} containers running' 2>&1 | head -n 1)"

status=0
CJP_REQUIRE_CONTAINERS="${CJP_REQUIRE_CONTAINERS:-}" sh scripts/test-real-pool.sh -m containers "$@" || status=$?
echo "container tier: $(( $(date +%s) - started )) s, image build and Docker start included"
exit $status
