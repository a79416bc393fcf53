"""condor-job-ssh: manage ssh_config for HTCondor jobs, and the classic condor_ssh_to_job shim."""
