"""Immutable records: tuples with named fields, for the modules on every connection's path.

`collections.namedtuple` would do, but importing collections and building each class with it (namedtuple
compiles source code for every class) cost 2 to 3 ms of CPU on every connection, for the four records a
connection makes (JobAddress, Session, JobInfo, DialerArgs).  `record` builds the same kind of class
without compiling anything, with only what our records use: fields by name and by position, defaults,
`_fields`, `_replace`, a repr, and equality and hashing as tuples.  Records off that path keep namedtuple.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds per connection
if TYPE_CHECKING:
    from typing import Any, Tuple

_MISSING = object()


def record(name: str, fields: str, defaults: Tuple[Any, ...] = (), module: str = __name__) -> type:
    """A tuple subclass *name* with the blank-separated *fields*; the last len(*defaults*) are optional."""
    names = tuple(fields.split())
    required = len(names) - len(defaults)
    if required < 0 or len(set(names)) != len(names) or not all(n.isidentifier() for n in names):
        raise ValueError(f"bad fields for record {name}: {fields!r}")

    def __new__(cls, *args, **kwargs):
        if len(args) > len(names):
            raise TypeError(f"{name}() takes {len(names)} arguments, not {len(args)}")
        values = list(args) + [_MISSING] * (len(names) - len(args))
        for key, value in kwargs.items():
            if key not in names:
                raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
            i = names.index(key)
            if values[i] is not _MISSING:
                raise TypeError(f"{name}() got multiple values for argument {key!r}")
            values[i] = value
        for i, value in enumerate(values):
            if value is _MISSING:
                if i < required:
                    raise TypeError(f"{name}() is missing the argument {names[i]!r}")
                values[i] = defaults[i - required]
        return tuple.__new__(cls, values)

    def _replace(self, **changes):
        return type(self)(**dict(zip(names, self), **changes))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{n}={v!r}" for n, v in zip(names, self)) + ")"

    def __getnewargs__(self):  # copy and pickle make the record again from its values
        return tuple(self)

    namespace = {"__slots__": (), "__module__": module, "__doc__": f"{name}({', '.join(names)})",
                 "_fields": names, "__new__": __new__, "_replace": _replace, "__repr__": __repr__,
                 "__getnewargs__": __getnewargs__}
    for i, field in enumerate(names):
        namespace[field] = property(lambda self, i=i: tuple.__getitem__(self, i), doc=f"field {i}: {field}")
    return type(name, (tuple,), namespace)
