"""How a Python task's code (its function and arguments) is pickled.

Workers must be able to unpickle it: a function of an importable module
travels by name, one of ``__main__``, a lambda or a closure by value, as
cloudpickle decides. cloudpickle's pickler runs in Python and asks that
question for every function it meets, about 50 µs for a small task; a
Dask graph of thousands of tasks spent most of its conversion there.

So the standard pickler (C) goes first, stopping at the first function
or class that cloudpickle would pickle by value, or object of a type that
cloudpickle pickles its own way (a bound method, a TypeVar, ...); only
then does cloudpickle pickle the task. Either way the worker unpickles the same objects, and each distinct
function or class is asked about once per ``Pickler``.
"""

from __future__ import annotations

import io
import pickle
import types
from typing import Any, Callable, Dict, FrozenSet, Optional, Tuple

PROTOCOL = 5


class _ByValue(Exception):
    """The object must be pickled by value: cloudpickle takes over."""


def _cloudpickle_rules() -> Optional[Tuple[Callable[[Any], bool],
                                             FrozenSet[type]]]:
    """cloudpickle's own test of "importable by name", and the types it
    pickles its own way (bound methods, TypeVars, properties, code, ...);
    None where this cloudpickle does not say (then every task goes
    through cloudpickle)."""
    try:
        from cloudpickle import cloudpickle as implementation
    except ImportError:
        return None
    by_name = getattr(implementation, "_should_pickle_by_reference", None)
    pickler = getattr(implementation, "Pickler", None)  # cloudpickle 3
    if pickler is None:
        try:
            from cloudpickle.cloudpickle_fast import CloudPickler as pickler
        except ImportError:
            return None
    special = getattr(pickler, "_dispatch_table", None)
    if by_name is None or special is None:
        return None
    return by_name, frozenset(special)


class _NamePickler(pickle.Pickler):
    """The standard pickler, refusing (``_ByValue``) any function or class
    that cloudpickle would pickle by value, and anything of a type that
    cloudpickle pickles its own way."""

    def __init__(self, out: io.BytesIO, by_name: Callable[[Any], bool],
                 special: FrozenSet[type],
                 verdicts: Dict[int, Tuple[Any, bool]]):
        super().__init__(out, protocol=PROTOCOL)
        self._by_name = by_name
        self._special = special
        self._verdicts = verdicts

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) in self._special:
            raise _ByValue()
        if isinstance(obj, (types.FunctionType, type)):
            verdict = self._verdicts.get(id(obj))
            if verdict is None:
                verdict = (obj, bool(self._by_name(obj)))
                self._verdicts[id(obj)] = verdict
            if not verdict[1]:
                raise _ByValue()
        return NotImplemented


class Pickler:
    """Pickles task code; remembers, for its life, which functions and
    classes may travel by name. Not thread-safe."""

    def __init__(self) -> None:
        self._rules = _cloudpickle_rules()
        # id -> (the object, kept so that its id is not reused; by name?)
        self._verdicts: Dict[int, Tuple[Any, bool]] = {}

    def dumps(self, value: Any) -> bytes:
        by_name = self.dumps_by_name(value)
        if by_name is not None:
            return by_name
        import cloudpickle

        return cloudpickle.dumps(value, protocol=PROTOCOL)

    def dumps_by_name(self, value: Any) -> Optional[bytes]:
        """``value`` pickled by the standard pickler, or None when a part of
        it must travel by value (or this cloudpickle does not say): what a
        worker's standard pickler can pickle again, such as a task's
        result."""
        if self._rules is None:
            return None
        out = io.BytesIO()
        try:
            _NamePickler(out, *self._rules, self._verdicts).dump(value)
        except Exception:  # _ByValue, or what the standard one refuses
            return None
        return out.getvalue()


def dumps(value: Any) -> bytes:
    """``value`` pickled for a worker (see the module's docstring)."""
    return Pickler().dumps(value)
