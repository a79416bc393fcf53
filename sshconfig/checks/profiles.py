"""The doctor's check of on-demand job profiles: each profiles/NAME.sub is the user's own file, HTCondor's
submit parser accepts it, and it sets nothing we own (proxycmd/submitfile.py)."""

from __future__ import annotations

from typing import List

from proxycmd import ondemand, ourcommands, paths
from proxycmd.errors import ProxyError
from proxycmd.checkresult import FAIL, OK, Check

NAME = "profiles"


def check_profiles() -> List[Check]:
    """No check when there are no profiles; else one: ok with their names, or fail with the first problem."""
    names = ondemand.profile_names()
    if not names:
        return []
    problems = []
    for name in names:
        try:
            ondemand.load_profile(name)
        except ProxyError as exc:
            problems.append(str(exc))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return [Check(NAME, FAIL, problems[0] + more,
                      f"edit the profile in {paths.profiles_dir()}, or write a fresh template: "
                      f"`{ourcommands.command_word('condor-job-ssh')} profile new NAME --force`")]
    return [Check(NAME, OK, f"{', '.join(names)}: valid (HTCondor's submit parser)")]
