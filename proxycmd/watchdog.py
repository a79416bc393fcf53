"""The program of an on-demand job: a small POSIX sh watchdog (docs/design-facts.md: "Interactive jobs and session directories").

HTCondor's own interactive jobs (`condor_submit -interactive`, src/condor_examples/interactive.sub) run
`sleep 180 && while test -d $_CONDOR_SCRATCH_DIR/.condor_ssh_to_job_1; do sleep 3; done`.  Ours is the same
idea made reusable: the starter makes one `.condor_ssh_to_job_N` directory per ssh session and removes it
when that session's sshd exits, so the job stays while any such directory exists and exits (the job
completes and leaves the queue) once none has existed for the idle timeout.  A session seen at one poll
may have lasted until the next, so the clock counts from one poll interval after the last sighting: the
job never ends sooner than the timeout after the last session, and at most about two polls later.  It needs no client: a laptop
that sleeps or vanishes leaves nothing behind.

Read from the job ad (`$_CONDOR_JOB_AD`, a file of `Name = value` lines the starter writes):
  CondorJobProxyIdleTimeout  seconds without a session before the job ends (default 600)
  CondorJobProxyLifetime     seconds the job may run at all, sessions or not (default 86400); the submit
                             description also asks HTCondor to remove the job then (periodic_remove)
Before the first session the job waits at least GRACE seconds, so that the ssh that submitted it has time
to connect even with a very short idle timeout.

Signals (docs/design-facts.md: "What a starter does in every session", measured on a 25.14 starter).  The job is an interactive one (`InteractiveJob =
true`, which site policies key on), so every ssh session that starts while no other session lives runs
`kill "$_CONDOR_JOB_PIDS"` (SIGTERM) at the program: the first one, and every reconnect after the last
session ended.  The watchdog survives SIGTERM and takes it as what it is: a session has just started
(so even a session shorter than one poll resets the idle clock).  Removal, hold and vacate must still end it at once, so the
job asks for a different soft-kill signal (`kill_sig = SIGUSR1`, KILL_SIGNAL below): the starter sends that
on condor_rm, condor_hold and a vacate (measured: 40 ms after condor_rm), and the watchdog exits on it.
A session's kill and a removal are thus told apart by the signal number, with no race; telling them apart
by whether a `.condor_ssh_to_job_N` directory exists is not reliable (a short `ssh host true` session can
be gone before the handler runs: seen on 25.14).  `job_max_vacate_time` (VACATE_TIME) bounds how long the
starter waits before SIGKILL should the signal not reach us (a container runtime that drops it).

The script is one line with no `$(`, so it passes through a submit description unchanged (condor_submit
expands `$(...)` macros); `quote`d with proxycmd.condorargs it becomes the job's `arguments`.
"""

from __future__ import annotations

DEFAULT_IDLE_TIMEOUT = 600
DEFAULT_LIFETIME = 86400
GRACE = 60
NAME = "condor-job-proxy-watchdog"  # $0 of the script, so `ps` shows what it is
KILL_SIGNAL = "SIGUSR1"  # the job's kill_sig: what condor_rm, condor_hold and a vacate send it
VACATE_TIME = 10  # the job's job_max_vacate_time: SIGKILL this long after that signal at the latest

SCRIPT = " ".join(line.strip() for line in f"""
seen=0; trap 'seen=1' TERM;
trap 'kill $! 2>/dev/null; exit 0' USR1;
t={DEFAULT_IDLE_TIMEOUT}; life={DEFAULT_LIFETIME}; grace={GRACE};
if test -r "$_CONDOR_JOB_AD"; then
  while read -r k e v; do
    case "$k=$v" in
      CondorJobProxyIdleTimeout=*[!0-9]*|CondorJobProxyLifetime=*[!0-9]*) ;;
      CondorJobProxyIdleTimeout=?*) t=$v ;;
      CondorJobProxyLifetime=?*) life=$v ;;
    esac;
  done < "$_CONDOR_JOB_AD";
fi;
s=${{_CONDOR_SCRATCH_DIR:-.}};
p=3; if test "$t" -lt 30; then p=1; fi;
limit=$t; if test "$grace" -gt "$t"; then limit=$grace; fi;
start=`date +%s`; last=$start;
while :; do
  now=`date +%s`;
  if test $seen = 1; then seen=0; last=$now; limit=$t; fi;
  for d in "$s"/.condor_ssh_to_job_*; do
    if test -d "$d"; then last=$now; limit=$t; break; fi;
  done;
  if test `expr $now - $last - $p` -ge "$limit"; then exit 0; fi;
  if test `expr $now - $start` -ge "$life"; then exit 0; fi;
  sleep $p & wait $!;
done
""".strip().splitlines())


def argv() -> list:
    """The job's command line: /bin/sh runs the script, with $0 naming it."""
    return ["/bin/sh", "-c", SCRIPT, NAME]
