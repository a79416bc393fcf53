"""condor-job-ssh's verbs, one module each; sshconfig/cli.py only parses and dispatches to them.

setup, sync, remove   the managed block in the user's ssh config (the pipeline is sshconfig/block/)
doctor                which checks run, in order, and their table (the checks: sshconfig/checks/)
demo                  ssh, scp, rsync and sftp on a throwaway simulated pool
sim                   start, stop and feed a simulated pool
profile               on-demand profiles (a job submitted when its host is first reached)
agent                 agent stop
params                the parameters commands share, and those generated from sshconfig/block/options.py

A verb imports no other verb: what two share lives outside this package (sshconfig/places.py, setupwarn.py,
block/, checks/, ui.py).
"""
