"""On-demand job profiles on the `condor-job-ssh` side: the template `profile new` writes (`template`).  The
`profile new|list|show|stop` commands are sshconfig/commands/profile.py, doctor's row sshconfig/checks/profiles.py;
reading and submitting a profile is proxycmd's job (proxycmd/submitfile.py, proxycmd/ondemand.py)."""
