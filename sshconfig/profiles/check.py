"""The doctor's check of on-demand job profiles: each profiles/NAME.sub parses, sets nothing we own, and
(where the htcondor2 bindings are installed) HTCondor's own submit parser accepts it."""

from __future__ import annotations

from typing import List

from proxycmd import ondemand, paths, submitfile
from proxycmd.errors import ProxyError

from ..doctor import FAIL, OK, Check

NAME = "profiles"


def _htcondor_available() -> bool:
    try:
        import htcondor2  # noqa: F401
    except ImportError:
        return False
    return True


def check_profiles() -> List[Check]:
    """No check when there are no profiles; else one: ok with their names, or fail with the first problem."""
    names = ondemand.profile_names()
    if not names:
        return []
    htcondor = _htcondor_available()
    problems = []
    for name in names:
        try:
            path, text = ondemand.read_profile(name)
            submitfile.parse(text, str(path))
            if htcondor:
                submitfile.check_with_htcondor(text, str(path))
        except (ProxyError, submitfile.ProfileError) as exc:
            problems.append(str(exc))
    how = "HTCondor's submit parser" if htcondor else "condor-job-proxy's parser (no htcondor2 bindings)"
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return [Check(NAME, FAIL, problems[0] + more,
                      f"edit the profile in {paths.profiles_dir()}, or write a fresh template: "
                      f"`{paths.command_word('condor-job-ssh')} profile new NAME --force`")]
    return [Check(NAME, OK, f"{', '.join(names)}: valid ({how})")]
