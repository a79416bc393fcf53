"""HTCondor's "new" argument syntax for the submit command `arguments` (pure functions).

    arguments = "-c 'while true; do sleep 3; done' x"

The value is enclosed in double quotes; blanks separate words; single quotes group a word (blanks kept);
inside single quotes '' is a literal single quote; anywhere, "" is a literal double quote.  `quote` writes
a word list in that syntax; `split` reads it back (the simulated pool uses it as condor_submit would).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import List, Sequence


class ArgumentsError(ValueError):
    """Text that is not in the new argument syntax; str() is one line."""


def quote(words: Sequence[str]) -> str:
    """The words as one `arguments` value, each word single-quoted."""
    out = []
    for word in words:
        if "\n" in word or "\r" in word:
            raise ArgumentsError("an argument cannot hold a line break (submit values are one line)")
        out.append("'" + word.replace("'", "''") + "'")
    return '"' + " ".join(out).replace('"', '""') + '"'


def split(text: str) -> List[str]:
    """The words of an `arguments` value in the new syntax (enclosed in double quotes)."""
    text = text.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ArgumentsError("arguments in the new syntax are enclosed in double quotes")
    inner = text[1:-1]
    if inner.replace('""', "").count('"'):
        raise ArgumentsError('a double quote inside the arguments must be doubled ("")')
    inner = inner.replace('""', '"')
    words: List[str] = []
    word, started, i = [], False, 0
    while i < len(inner):
        c = inner[i]
        if c == "'":
            started = True
            i += 1
            while True:
                if i >= len(inner):
                    raise ArgumentsError("unbalanced single quote in the arguments")
                if inner[i] == "'":
                    if inner[i + 1:i + 2] == "'":
                        word.append("'")
                        i += 2
                        continue
                    i += 1
                    break
                word.append(inner[i])
                i += 1
        elif c in " \t":
            if started:
                words.append("".join(word))
            word, started = [], False
            i += 1
        else:
            word.append(c)
            started = True
            i += 1
    if started:
        words.append("".join(word))
    return words
