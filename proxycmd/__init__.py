"""condor-job-proxy: turn a job host name into an authenticated connection to the job's sshd."""

__version__ = "0.1.0"
