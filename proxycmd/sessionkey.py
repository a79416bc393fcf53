"""The session key we ask the starter for: ECDSA P-256 unless the user says otherwise.

The starter makes a fresh key pair for every ssh-to-job session with ssh-keygen, running its
SSH_TO_JOB_SSH_KEYGEN_ARGS (default ``-N '' -C '' -q -f %f -t rsa``) followed by the client's
-keygen-options, so a later ``-t`` (and ``-b``) wins (docs/design-facts.md: "HTCondor's ssh-to-job sessions").  An RSA-3072 key costs 0.3 s on an
idle execute node and up to 3 s on a loaded one: most of a cold connection.  ECDSA P-256 costs about 7 ms,
is FIPS-approved (Ed25519 is refused by FIPS-mode OpenSSH), and every OpenSSH since 5.7 takes it as host
key and user key.  ``-b 256`` is spelled out so that a site's keygen arguments with an RSA ``-b 4096``
cannot leave ssh-keygen an ECDSA size it refuses.

An empty value (``--keygen-options ''``) adds nothing: the starter's own default applies.
"""

DEFAULT_KEYGEN_OPTIONS = "-t ecdsa -b 256"
