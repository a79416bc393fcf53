#!/bin/sh
# The developer install: condor-job-proxy from this clone into ./.venv (users: `pipx install .`, see README).
#
#   sh scripts/install.sh          the package, and the system packages it needs on an access point
#   sh scripts/install.sh --test   also what the simulated pool, the demo and the test suite need,
#                                  and the pip test extras (what CI runs: .ci/run)
#
# Missing Debian/Ubuntu packages are installed with apt-get (as root, or through sudo); without either,
# the script names them, says why each is needed, and stops before changing anything.
set -eu
cd "$(dirname "$0")/.."

test_mode=""
for arg in "$@"; do
  case "$arg" in
    --test) test_mode=1 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $arg (use --test, or nothing)" >&2; exit 2 ;;
  esac
done

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

# package name, then why it is needed, one per line
missing=""
why=""
need() {
  case " $missing " in *" $1 "*) return ;; esac
  missing="$missing $1"
  why="$why
  $1: $2"
}
have python3 || need python3 "runs condor-job-proxy"
if have python3 && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  need python3-venv "makes the .venv this script installs into"
fi
have ssh || need openssh-client "ssh, scp and sftp, which connect to the jobs"
if [ -n "$test_mode" ]; then
  have sshd || need openssh-server "sshd -i serves each session of the simulated pool (demo and tests; real pools run the job's sshd on the execute node)"
  have rsync || need rsync "the demo and the tests copy with rsync -a"
  have tcsh || need tcsh "a test logs in with a tcsh login shell"
  have node || need nodejs "the editor tests run open-remote-ssh's own code in node (tests/sim/test_editors_e2e.py)"
  have npm || need npm "installs the editor tests' node packages into a cache beside the test homes"
  if have javac; then  # a JDK is there: the JSch recipe of docs/clients.md is tested with Debian's JSch
    [ -f /usr/share/java/jsch.jar ] || need libjsch-java "the JSch recipe's test (docs/clients.md) compiles against it"
    [ -f /usr/share/java/jsch.agentproxy.sshagent.jar ] ||
      need libjsch-agent-proxy-java "the JSch recipe reaches the key agent through it"
  fi
fi

if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    SUDO=""
  elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    SUDO="none"
  fi
  if ! command -v apt-get >/dev/null 2>&1 || [ "$SUDO" = none ]; then
    if command -v apt-get >/dev/null 2>&1; then
      how="as root: apt-get install -y$missing"
    else
      how="with your system's package manager"
    fi
    {
      echo "install.sh: these packages are missing:$why"
      echo "Install them $how (or ask your administrator), then run this script again."
      echo "Nothing was changed."
    } >&2
    exit 1
  fi
  echo "installing:$missing"
  if ! { $SUDO apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null; }
  then
    echo "install.sh: apt-get could not install:$missing; install them as root: apt-get install -y$missing" >&2
    exit 1
  fi
fi
if [ -z "$test_mode" ] && ! have sshd; then
  echo "note: \`condor-job-ssh demo\` and the simulated pool also need openssh-server (sshd -i); real pools do not."
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# A regular install, as users get from pip or pipx: an editable one adds a path finder that costs
# ~10 ms on every ProxyCommand start.  For hacking on the code: .venv/bin/pip install -e '.[test]'
if [ -n "$test_mode" ]; then
  .venv/bin/python -m pip install -q '.[test]'
else
  .venv/bin/python -m pip install -q .
fi
echo "installed: $(pwd)/.venv/bin/condor-job-ssh, condor-job-proxy, condor-ssh-to-job"
echo "(not on your PATH: run them by that path, or add $(pwd)/.venv/bin to PATH)"
