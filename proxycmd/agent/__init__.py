"""The per-user key agent: serves each ssh process only the single-use key registered for it.

``server`` is the agent process (``python -m proxycmd.agent``); ``client`` is what the ProxyCommand calls to
register a session's key and to start the agent on demand.  Nothing heavy is imported here.
"""
