"""The commented submit description `condor-job-ssh profile new NAME` writes."""

from __future__ import annotations

TEMPLATE = """\
# condor-job-ssh profile "{name}": what the job behind `ssh {name}.job.condor` asks for.
#
# `ssh {name}.job.condor` connects to your idle or running job of this profile, or submits one from this
# file, waits until it runs and connects.  The job ends itself once no ssh session has existed for the
# idle timeout below, so a laptop that sleeps or vanishes leaves nothing behind.
#
# This is an HTCondor submit description, read by HTCondor's own parser: every submit command works (see
# `man condor_submit`), except those that replace the job's program or submit more than one job
# (executable, shell, arguments, queue, +PreCmd, ...) -- condor-job-proxy runs its own small program in
# the job and submits exactly one.  `+Name = value` and `MY.Name = value` set job attributes.  Keep this
# file yours alone (not writable by others).  `condor-job-ssh doctor` checks it; `condor-job-ssh profile
# show {name}` prints what would be submitted.

# What the job asks for
request_cpus   = 1
request_memory = 2GB
# request_disk = 8GB
# request_gpus = 1
# require_gpus = GlobalMemoryMb >= 16000

# Run in a container (as your site allows).  Note: in the docker universe (universe = docker) the
# starter ends an interactive job when its first ssh session ends, so condor-job-proxy does not mark
# those jobs interactive (MY.InteractiveJob = False) to keep them reusable.
# container_image = docker://python:3.12

# Where it may run, and who pays
# requirements = (OpSysAndVer == "AlmaLinux9")
# accounting_group = group_physics.{name}
# +ProjectName = "my-project"

# Seconds without any ssh session before the job ends itself (default 600)
MY.CondorJobProxyIdleTimeout = 600

# Seconds the job may run at all, sessions or not (default 86400 = 24 h)
MY.CondorJobProxyLifetime = 86400
"""


def render(name: str) -> str:
    return TEMPLATE.format(name=name)
