"""What a Python task built by ``dagd.Job.call`` carries as its code: the
function and its arguments, with the outputs of other tasks marked where
they go. The worker's runner calls it with the task's inputs, in order.

Only containers that hold a marked input are rebuilt at call time; every
other argument is passed as it was pickled.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Sequence, Tuple


class Input:
    """Stands for the task's input number ``index``."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index

    def __reduce__(self):
        return (Input, (self.index,))


class Pack:
    """A list, tuple, namedtuple, set, dict or OrderedDict with inputs
    somewhere inside; rebuilt with the inputs in place. ``items`` holds
    (key, value) pairs for a dict.
    """

    __slots__ = ("kind", "items")

    def __init__(self, kind: type, items: Sequence[Any]):
        self.kind = kind
        self.items = items

    def __reduce__(self):
        return (Pack, (self.kind, self.items))


def fill(value: Any, inputs: Sequence[Any]) -> Any:
    """``value`` with each Input replaced by its input."""
    if isinstance(value, Input):
        return inputs[value.index]
    if isinstance(value, Pack):
        if issubclass(value.kind, dict):  # dict or OrderedDict
            return value.kind((fill(k, inputs), fill(v, inputs))
                              for k, v in value.items)
        if issubclass(value.kind, tuple) and hasattr(value.kind, "_fields"):
            return value.kind(*(fill(item, inputs) for item in value.items))
        return value.kind(fill(item, inputs) for item in value.items)
    return value


class Call:
    """``fn(*args, **kwargs)`` with inputs filled in; callable with the
    task's inputs."""

    __slots__ = ("fn", "args", "kwargs")

    def __init__(self, fn: Callable[..., Any], args: Tuple[Any, ...],
                 kwargs: Dict[str, Any]):
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def __call__(self, *inputs: Any) -> Any:
        args = [fill(arg, inputs) for arg in self.args]
        kwargs = {key: fill(arg, inputs) for key, arg in self.kwargs.items()}
        return self.fn(*args, **kwargs)

    def __reduce__(self):
        return (Call, (self.fn, self.args, self.kwargs))


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def evaluate(arg: Any, cache: Dict[Any, Any]) -> Any:
    """A Dask computation with the values of its keys from ``cache``:
    a task ``(fn, *args)`` is called, a list evaluated item by item, a key
    replaced by its value, and anything else is a literal (Dask's rules)."""
    if isinstance(arg, list):
        return [evaluate(item, cache) for item in arg]
    if type(arg) is tuple and arg and callable(arg[0]):
        return arg[0](*[evaluate(item, cache) for item in arg[1:]])
    if not _hashable(arg):
        return arg
    return cache.get(arg, arg)


class GraphTask:
    """One task of a Dask graph as ``dagd.dask`` sends it: its computation,
    and where the keys it reads come from: ``refs`` pairs a key with the
    number of the task input that holds its value, ``constants`` holds the
    keys whose values are literals of the graph."""

    __slots__ = ("computation", "refs", "constants")

    def __init__(self, computation: Any, refs: Sequence[Tuple[Any, int]],
                 constants: Dict[Any, Any]):
        self.computation = computation
        self.refs = refs
        self.constants = constants

    def __call__(self, *inputs: Any) -> Any:
        cache = dict(self.constants)
        for key, index in self.refs:
            cache[key] = inputs[index]
        return evaluate(self.computation, cache)

    def __reduce__(self):
        return (GraphTask, (self.computation, self.refs, self.constants))
