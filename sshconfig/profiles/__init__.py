"""On-demand job profiles on the `condor-job-ssh` side: the template `profile new` writes (`template`),
the `profile new|list|show|stop` commands (`commands`), and the doctor's check (`check`).  Reading and
submitting a profile is proxycmd's job (proxycmd/submitfile.py, proxycmd/ondemand.py)."""
