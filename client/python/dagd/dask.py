"""Dask on dagd: a Dask scheduler that runs a whole graph as one dagd job.

Two lines change for a Dask user::

    import dagd.dask
    dask.config.set(scheduler=dagd.dask.get)       # or compute(scheduler=...)

``get`` reaches the dagd at ``$DAGD_SERVER`` (default 127.0.0.1:7700);
``dagd.dask.Scheduler(address).get`` one of your choice. Workers need
``--python`` and the libraries the graph calls (numpy for dask.array).

>>> import dask, dask.array as da, dagd.dask
>>> x = da.ones((1000, 1000), chunks=(250, 250))
>>> float((x @ x.T).sum().compute(scheduler=dagd.dask.get))
1000000000.0

Converting a graph: each key that computes something becomes a task
(its id is the key, ``str`` as it is, other keys as their ``repr``), the
keys it reads become its inputs, aliases (a key whose value is another
key) and literals (a value that computes nothing) are resolved into the
tasks that read them, and ``dask.order``'s order becomes task priorities.
A task's exception is raised in the caller with its original type when
that type can be rebuilt from the message (else ``dagd.TaskFailed``), the
remote traceback attached as its ``__cause__``.
"""

from __future__ import annotations

import builtins
import importlib
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Hashable, Iterable, List, Optional, Tuple

from dagd.call import GraphTask
from dagd.errors import DagdError, JobFailed, TaskFailed
from dagd.pickling import Pickler
from dagd.v1 import types_pb2

__all__ = ["Scheduler", "get", "convert"]

# How many results are read at once when a computation asks for many keys.
_RESULT_READERS = 8


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a dagd task, as text."""

    def __str__(self) -> str:
        return self.args[0]


class Graph:
    """A Dask graph converted: the job, and where each requested key's
    value comes from (a task id, or a literal)."""

    def __init__(self, spec: types_pb2.JobSpec, task_of: Dict[Hashable, str],
                 literals: Dict[Hashable, Any]):
        self.spec = spec
        self.task_of = task_of
        self.literals = literals


def _is_task(value: Any) -> bool:
    return type(value) is tuple and bool(value) and callable(value[0])


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _keys_in(value: Any, dsk: Dict[Hashable, Any],
             out: Dict[Hashable, None]) -> None:
    """Adds to ``out`` (an ordered set) the keys of ``dsk`` that ``value``
    reads, without recursion (a deep computation must not overflow the
    stack)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is tuple and item and callable(item[0]):
            stack.extend(item[1:])
        elif isinstance(item, list):
            stack.extend(item)
        elif _hashable(item) and item in dsk:
            out[item] = None


def _task_id(key: Hashable) -> str:
    return key if isinstance(key, str) else repr(key)


def convert(dsk: Any, keys: Any, *, name: str = "dask",
            priority: int = 0, retries: int = 0) -> Graph:
    """Converts a Dask graph (a dict or a HighLevelGraph) into a dagd job
    computing ``keys`` (a key or nested lists of keys)."""
    from dask.utils import ensure_dict

    dsk = _inline_views(ensure_dict(dsk), keys)
    # Aliases first: a key whose value is another key names that key's value.
    alias_of: Dict[Hashable, Hashable] = {}
    for key, value in dsk.items():
        if not _is_task(value) and _hashable(value) and value in dsk and \
                value != key:
            alias_of[key] = value

    def canonical(key: Hashable) -> Hashable:
        seen = {key}
        while key in alias_of:
            key = alias_of[key]
            if key in seen:
                raise ValueError("the Dask graph has an alias cycle through "
                                 "%r" % (key,))
            seen.add(key)
        return key

    reads: Dict[Hashable, Dict[Hashable, None]] = {}
    literals: Dict[Hashable, Any] = {}
    for key, value in dsk.items():
        if key in alias_of:
            continue
        found: Dict[Hashable, None] = {}
        if _is_task(value) or isinstance(value, list):
            _keys_in(value, dsk, found)
        if _is_task(value) or found:
            reads[key] = found
        else:
            literals[key] = value

    ids: Dict[Hashable, str] = {}
    used: set = set()
    for key in reads:
        task_id = _task_id(key)
        while task_id in used:  # a str key equal to another key's repr
            task_id += "'"
        used.add(task_id)
        ids[key] = task_id

    ranks = _order(dsk)
    # Functions of importable modules by name, others (__main__, lambdas,
    # closures) by value; one pickler, so each function is asked about once.
    pickler = Pickler()
    spec = types_pb2.JobSpec(name=name, priority=priority)
    for key, found in reads.items():
        inputs: List[str] = []
        index_of: Dict[Hashable, int] = {}
        refs: List[Tuple[Hashable, int]] = []
        constants: Dict[Hashable, Any] = {}
        for read in found:
            source = canonical(read)
            if source in literals:
                constants[read] = literals[source]
                continue
            index = index_of.get(source)
            if index is None:
                index = index_of[source] = len(inputs)
                inputs.append(ids[source])
            refs.append((read, index))
        task = spec.tasks.add(id=ids[key], fn="python", inputs=inputs,
                              priority=-ranks.get(key, 0))
        task.code = pickler.dumps(GraphTask(dsk[key], refs, constants))
        if retries:
            task.retry.max_attempts = retries + 1

    task_of: Dict[Hashable, str] = {}
    wanted_literals: Dict[Hashable, Any] = {}
    for key in _flatten(keys):
        source = canonical(key)
        if source in ids:
            task_of[key] = ids[source]
        elif source in literals:
            wanted_literals[key] = literals[source]
        else:
            raise KeyError("%r is not a key of the Dask graph" % (key,))
    return Graph(spec, task_of, wanted_literals)


def _view_functions() -> Tuple[Any, ...]:
    """Functions whose result is a view of their first argument: computing
    one costs nothing next to moving its result."""
    try:
        import numpy
    except ImportError:
        return ()
    return (numpy.transpose, numpy.swapaxes)


def _makes_a_view(fn: Any, views: Tuple[Any, ...]) -> bool:
    """Whether calling ``fn`` (a function, or a fused Dask subgraph) only
    applies view functions."""
    if any(fn is view for view in views):
        return True
    subgraph = getattr(fn, "dsk", None)
    if not isinstance(subgraph, dict) or not subgraph:
        return False
    from dask.utils import apply

    for task in subgraph.values():
        if not _is_task(task):
            return False
        head = task[1] if task[0] is apply and len(task) > 1 else task[0]
        if not any(head is view for view in views):
            return False
    return True


def _inline_views(dsk: Dict[Hashable, Any], keys: Any) -> Dict[Hashable, Any]:
    """``dsk`` with every task that only makes a view (and is not asked
    for) computed inside the tasks that read it (see the module's notes)."""
    views = _view_functions()
    if not views:
        return dsk
    fast = set()
    checked = set()
    for value in dsk.values():
        if not _is_task(value) or id(value[0]) in checked:
            continue
        checked.add(id(value[0]))
        if _makes_a_view(value[0], views) and _hashable(value[0]):
            fast.add(value[0])
    if not fast:
        return dsk
    from dask.optimization import inline_functions
    from dask.utils import apply

    # A view task's arguments may build keyword arguments or call
    # ``apply``: both cost nothing either.
    fast.update((apply, dict))
    return inline_functions(dsk, list(_flatten(keys)), fast_functions=fast)


def _order(dsk: Dict[Hashable, Any]) -> Dict[Hashable, int]:
    """Dask's own order (lower runs first), or none if it cannot say."""
    try:
        from dask.order import order
    except ImportError:
        return {}
    try:
        return order(dsk)
    except Exception:  # a graph dask.order cannot rank still runs
        return {}


def _flatten(keys: Any) -> Iterable[Hashable]:
    stack = [keys]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            yield item


def _pack(keys: Any, values: Dict[Hashable, Any]) -> Any:
    """The values of ``keys``, nested as they are, lists as tuples (as
    Dask's own schedulers answer)."""
    if isinstance(keys, list):
        return tuple(_pack(item, values) for item in keys)
    return values[keys]


def rebuild_exception(error: str) -> Optional[BaseException]:
    """The exception a dagd task's error message describes ("module.Type:
    message" then its traceback), rebuilt with its original type, or None
    when the type cannot be found or made from the message."""
    head, marker, trace = error.partition("\nTraceback (most recent call "
                                          "last):")
    type_name, _, message = head.partition(": ")
    if not marker or not type_name or " " in type_name:
        return None
    module_name, _, qualname = type_name.rpartition(".")
    try:
        target: Any = importlib.import_module(module_name) if module_name \
            else builtins
        for part in qualname.split("."):
            target = getattr(target, part)
        if not (isinstance(target, type) and
                issubclass(target, BaseException)):
            return None
        if issubclass(target, KeyError) and len(message) >= 2 and \
                message[0] == message[-1] and message[0] in "'\"":
            message = message[1:-1]  # str(KeyError('k')) is "'k'"
        exception = target(message)
    except Exception:
        return None
    exception.__cause__ = RemoteTraceback("Traceback (most recent call last):"
                                          + trace)
    return exception


class Scheduler:
    """A Dask scheduler on the dagd at ``address`` (default:
    ``$DAGD_SERVER``, else 127.0.0.1:7700).

    >>> scheduler = dagd.dask.Scheduler("dagd.example:7700")
    >>> dask.compute(x, scheduler=scheduler.get)
    """

    def __init__(self, address: Optional[str] = None, **client_options: Any):
        self.address = address
        self._client_options = client_options
        self._client = None

    @property
    def client(self):
        if self._client is None:
            from dagd.client import Client

            self._client = Client(self.address, **self._client_options)
        return self._client

    def get(self, dsk: Any, keys: Any, *, timeout: Optional[float] = None,
            job_name: str = "dask", priority: int = 0, retries: int = 0,
            **kwargs: Any) -> Any:
        """Dask's scheduler contract: computes ``keys`` (a key or nested
        lists of keys) of the graph ``dsk`` as one dagd job and returns
        their values in the same nesting (tuples for lists). Options Dask passes for other
        schedulers (``num_workers``, ...) are ignored."""
        graph = convert(dsk, keys, name=job_name, priority=priority,
                        retries=retries)
        values: Dict[Hashable, Any] = dict(graph.literals)
        if graph.spec.tasks:
            client = self.client
            job_id = client.submit(graph.spec, request_id=uuid.uuid4().hex)
            try:
                status = client.wait(job_id, timeout=timeout)
            except BaseException:
                _cancel_quietly(client, job_id)
                raise
            if status.state != types_pb2.JOB_SUCCEEDED:
                _raise_failure(client, job_id, status)
            wanted = list(graph.task_of.items())
            with ThreadPoolExecutor(_RESULT_READERS) as pool:
                results = pool.map(
                    lambda item: client.result(job_id, item[1]), wanted)
                for (key, _), value in zip(wanted, results):
                    values[key] = value
        return _pack(keys, values)


def _cancel_quietly(client: Any, job_id: str) -> None:
    try:
        client.cancel(job_id)
    except DagdError:
        pass


def _raise_failure(client: Any, job_id: str,
                   status: types_pb2.JobStatus) -> None:
    from dagd.client import describe_failure

    for note in status.failures:
        exception = rebuild_exception(note.text)
        if exception is not None:
            raise exception
        raise TaskFailed(job_id, note.task_id, note.text)
    raise JobFailed(describe_failure(status), status)


_default: Optional[Scheduler] = None


def get(dsk: Any, keys: Any, **kwargs: Any) -> Any:
    """``Scheduler().get`` on the dagd at ``$DAGD_SERVER``: pass it as
    ``scheduler=dagd.dask.get``."""
    global _default
    address = os.environ.get("DAGD_SERVER")
    if _default is None or _default.address != address:
        _default = Scheduler(address)
    return _default.get(dsk, keys, **kwargs)
