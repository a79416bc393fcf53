"""The managed block's pipeline, each step a module:

    options.py   what the block can say: each setup option declared once (its flag, type, check, help and
                 what it writes into the block)
    settings.py  the saved settings (config.toml): load, validate, settle, save
    quoting.py   values written into ssh_config safely (shell words, path option values)
    render.py    pure: settings (and jobs) -> the block's text (golden files: tests/unit/golden/)
    splice.py    pure: find, splice in, take out the block in a file's text; the diff
    write.py     the file on disk: checks, one writer of ours at a time, no edit of the user's lost
    resolved.py  what `ssh -G` makes of the block (doctor, agent stop)

Nothing here prints or asks (sshconfig/ui.py does) and no command module is imported here.
"""
