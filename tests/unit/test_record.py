"""proxycmd/record.py against collections.namedtuple: the same behaviour for what our records use."""

from __future__ import annotations

import copy
import pickle
from collections import namedtuple

import pytest
from hypothesis import given, strategies as st

from proxycmd.hostname import JobAddress
from proxycmd.record import record

field_names = st.lists(st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True).filter(lambda n: n not in
                       {"and", "as", "def", "del", "for", "if", "in", "is", "not", "or", "try", "with"}),
                       min_size=1, max_size=6, unique=True)


@st.composite
def shapes(draw):
    names = draw(field_names)
    defaults = tuple(draw(st.lists(st.integers(), max_size=len(names))))
    values = draw(st.lists(st.integers() | st.none() | st.text(max_size=3), min_size=len(names), max_size=len(names)))
    return names, defaults, values


def both(names, defaults):
    return (record("R", " ".join(names), defaults), namedtuple("R", names, defaults=defaults))


def attempt(make):
    try:
        return "ok", make()
    except TypeError:
        return "TypeError", None


@given(shapes(), st.integers(0, 6), st.data())
def test_a_record_is_built_read_and_compared_as_a_namedtuple(shape, given_count, data):
    names, defaults, values = shape
    ours, theirs = both(names, defaults)
    n = min(given_count, len(names))
    as_keywords = data.draw(st.booleans())
    args = dict(zip(names[:n], values[:n])) if as_keywords else values[:n]
    got = attempt(lambda: ours(**args) if as_keywords else ours(*args))
    want = attempt(lambda: theirs(**args) if as_keywords else theirs(*args))
    assert got[0] == want[0]
    if got[0] != "ok":
        return
    a, b = got[1], want[1]
    assert tuple(a) == tuple(b) and a == b and hash(a) == hash(b)
    assert [getattr(a, name) for name in names] == [getattr(b, name) for name in names]
    assert a._fields == b._fields == tuple(names)
    assert repr(a) == repr(b)
    change = {names[0]: "changed"}
    assert tuple(a._replace(**change)) == tuple(b._replace(**change))
    assert type(a._replace(**change)) is type(a)


def test_a_record_refuses_what_a_namedtuple_refuses():
    R = record("R", "a b", (2,))
    for bad in (lambda: R(), lambda: R(1, 2, 3), lambda: R(1, a=1), lambda: R(1, c=3)):
        with pytest.raises(TypeError):
            bad()
    with pytest.raises(TypeError):
        R(1)._replace(c=3)
    with pytest.raises(AttributeError):
        R(1).a = 5  # immutable, no instance dict
    with pytest.raises(ValueError):
        record("R", "a a")


def test_our_records_copy_and_pickle():
    addr = JobAddress(cluster=32, proc=1, schedd="ap1")
    assert copy.deepcopy(addr) == addr and type(copy.copy(addr)) is JobAddress
    assert pickle.loads(pickle.dumps(addr)) == addr and addr.classic_id == "32.1"
