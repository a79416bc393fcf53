"""The simulated pool: a local daemon that runs jobs and serves ssh sessions the way a condor_starter does.

HTCondor daemons cannot be installed everywhere we test, so this package stands in for the schedd and the
starter: jobs are real process groups in their own sandboxes, and every session gets a fresh
`.condor_ssh_to_job_N` directory, a fresh key, and an `sshd -i` on one end of a loopback TCP connection
(see docs/design-facts.md: "How condor_ssh_to_job opens a session, step by step").  `protocol` frames the control messages, `starter` builds sessions,
`daemon` keeps the queue, `client` talks to it.
"""
