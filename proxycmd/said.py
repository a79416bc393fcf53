"""Another program's words, passed on whole (issue 28, item 3).

HTCondor wraps one sentence over several lines (without CONDOR_CONFIG: "Neither the environment variable
CONDOR_CONFIG,\\n/etc/condor/, ... source.\\nEither set CONDOR_CONFIG to point to a valid config
source,\\nor put ..."): joined with "; " and cut at 240 characters it read as broken phrases.  Here the
lines are kept, each made printable and bounded (errors.one_line), with at most MAX_LINES of them: a flood
stays bounded, a normal message is never cut.  A message holding them separates them with BREAK, which no
line can hold (one_line escapes every control character); `flat` makes the one line an SSH disconnect
carries (the lines joined by a space, as the sentence reads), `lines` the lines stderr shows.
"""

from __future__ import annotations

from .errors import MAX_LINE, one_line

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import List, Sequence

BREAK = "\x1e"  # between a message's lines; never inside one (one_line escapes control characters)
MAX_LINES = 20  # of another program's lines kept (HTCondor's longest messages have about 6)


def words(lines: Sequence[str]) -> str:
    """*lines* (another program's, blank ones dropped) as a message part: each printable and at most
    MAX_LINE characters, at most MAX_LINES of them (then "..."), separated by BREAK."""
    kept: List[str] = []
    for line in lines:
        if len(kept) == MAX_LINES:
            kept.append("...")
            break
        text = one_line(line, MAX_LINE)
        if text:
            kept.append(text)
    return BREAK.join(kept)


def lines(message: str) -> List[str]:
    """The lines of *message*, each one printable line (a message without BREAK is one line)."""
    return [one_line(part) for part in str(message).split(BREAK)[:MAX_LINES + 2]]


def flat(message: str) -> str:
    """*message* as one line: its lines joined by a space, as the sentence reads."""
    return one_line(" ".join(lines(message)))
