"""condor-job-ssh's commands, one module per verb (cli.py registers them in this order)."""
