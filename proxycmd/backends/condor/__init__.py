"""The HTCondor backend: sessions through the real `condor_ssh_to_job`, jobs through the htcondor2 bindings.

    backend.py         CondorBackend: the Backend interface (proxycmd/backends/__init__.py) for this place
    tool.py            finding condor_ssh_to_job and our dialer, the tool's command line, condor_rm
    run.py             running the tool and taking the session it opens
    dialer_handoff.py  our side of the dialer hand-off (the dialer itself: proxycmd/dialer/)
    refusals.py        the tool's failures in one line (the hop's too)
    ads.py             pure: a job ad -> a decision or a listing line (the hop's too)
    queue.py           the schedd through the bindings
    facts.py           one job's facts, for `condor-job-ssh doctor JOB`
    checks.py          doctor's rows for HTCondor here

No imports here: the hop imports ads and refusals, which must not pull in the rest.
"""
