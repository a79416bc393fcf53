"""doctor's checks, one module per group of rows; each check returns proxycmd.checkresult.Check (ok, warn or
fail, a detail and, unless ok, a fix).  sshconfig/commands/doctor.py picks which run, in which order, and
prints them; the rows about where jobs are come from the backend (`Backend.checks`, proxycmd/backends/).

client.py            the OpenSSH client: its version, and the options the block relies on
block.py             the managed block and what `ssh -G` makes of it; the user ssh sends for job hosts
rundir.py            the runtime directories the block names are private (the safe chain)
agent.py             the key agent answers, on the socket ssh uses
recent_failures.py   the proxy's failures of the last week (proxycmd/failures.py records them)
profiles.py          on-demand job profiles are valid
job.py               `doctor JOB`: gathers one job's facts and the probe, ...
jobprobe.py          ... the probe a real session runs in the job, ...
jobfindings.py       ... and the rows they make (pure)
"""
