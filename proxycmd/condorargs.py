"""HTCondor's "new" argument syntax for the submit command `arguments`, and condor_ssh_to_job's arguments
(`ssh_to_job_words`, for the tool here and on an access point): pure functions.

    arguments = "-c 'while true; do sleep 3; done' x"

The value is enclosed in double quotes; blanks separate words; single quotes group a word (blanks kept);
inside single quotes '' is a literal single quote; anywhere, "" is a literal double quote.  `quote` writes
a word list in that syntax; `split` reads it back (the simulated pool uses it as condor_submit would).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import List, Optional, Sequence


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


SEPARATORS = " \t\n\r"  # the only blanks HTCondor's ArgList splits on (condor_arglist.cpp)


def quote_word(word: str) -> str:
    """One word in the new syntax, quoted only when it needs it (blanks or a single quote in it, or empty)."""
    if word and not any(c in SEPARATORS or c == "'" for c in word):
        return word
    return "'" + word.replace("'", "''") + "'"


def split_words(text: str) -> List[str]:
    """The words of *text* as HTCondor's ArgList reads the new syntax (blanks separate, single quotes group,
    '' inside them is one quote); ArgumentsError (a ValueError) for an unbalanced quote."""
    words: List[str] = []
    word: List[str] = []
    started, i, end = False, 0, len(text)
    while i < end:
        c = text[i]
        if c == "'":
            begin, i, started = i, i + 1, True
            while True:
                if i >= end:
                    raise ArgumentsError(f"unbalanced quote starting here: {text[begin:]}")
                if text[i] != "'":
                    word.append(text[i])
                    i += 1
                elif text[i + 1:i + 2] == "'":  # '' inside quotes: one literal quote
                    word.append("'")
                    i += 2
                else:
                    i += 1
                    break
        elif c in SEPARATORS:
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


def split(text: str) -> List[str]:
    """The words of an `arguments` value in the new syntax (enclosed in double quotes)."""
    text = text.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ArgumentsError("arguments in the new syntax are enclosed in double quotes")
    inner = text[1:-1]
    if inner.replace('""', "").count('"'):
        raise ArgumentsError('a double quote inside the arguments must be doubled ("")')
    try:
        return split_words(inner.replace('""', '"'))
    except ArgumentsError:
        raise ArgumentsError("unbalanced single quote in the arguments") from None


def ssh_to_job_words(program: str, job_id: str, *, schedd: Optional[str] = None, pool: Optional[str] = None,
                     keygen_options: Sequence[str] = (), shells: Sequence[str] = ()) -> List[str]:
    """condor_ssh_to_job's arguments (without the tool's own name) that run *program* as its ssh program, as
    this machine's tool (backends/condor/tool.py) and the access point's (backends/hop/remote.py) take them;
    the keygen options one word in the new syntax."""
    words = ["-ssh", program]
    if schedd:
        words += ["-name", schedd]
    if pool:
        words += ["-pool", pool]
    if keygen_options:
        words += ["-keygen-options", " ".join(quote_word(w) for w in keygen_options)]
    if shells:
        words += ["-shells", ",".join(shells)]
    return words + ["--", job_id]
