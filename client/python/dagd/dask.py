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
tasks that read them (but a literal over 64 KiB that several tasks read,
and that needs nothing pickled by value, is a task of its own, in the
job once), and ``dask.order``'s order becomes task priorities.
A task that only makes a view of another's result (``numpy.transpose`` or
``numpy.swapaxes``, as dask.array's ``.T`` does, alone or in a subgraph
Dask fused) is computed inside each task that reads it, unless it is
asked for: in one process a view is free, but a dagd task's result leaves
its interpreter as a copy, so a transpose of a 32 MB block would cost 32
MB written to the worker and copied into whichever interpreter reads it.
A task's exception is raised in the caller with its original type when
that type can be rebuilt from the message (else ``dagd.TaskFailed``), the
remote traceback attached as its ``__cause__``.
"""

from __future__ import annotations

import builtins
import importlib
import os
import re
import sys
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


def _holds_task(value: Any) -> bool:
    """Whether a list holds a task, however deep (Dask computes a list's
    tasks whether or not they read keys), without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if _is_task(item):
            return True
        if isinstance(item, list):
            stack.extend(item)
    return False


def _task_id(key: Hashable) -> str:
    return key if isinstance(key, str) else repr(key)


def convert(dsk: Any, keys: Any, *, name: str = "dask",
            priority: int = 0, retries: int = 0) -> Graph:
    """Converts a Dask graph (a dict or a HighLevelGraph) into a dagd job
    computing ``keys`` (a key or nested lists of keys)."""
    from dask.utils import ensure_dict

    dsk = ensure_dict(dsk)
    for key, value in dsk.items():
        # Dask 2024.12 and later: graphs of Task objects, which this reads
        # as literals (every key's value would be the graph's own object).
        if type(value).__module__.startswith("dask._task_spec"):
            raise TypeError(
                "key %r is a %s of dask._task_spec: dagd.dask reads the "
                "graphs of Dask up to 2024.11 (tuples as tasks), not this "
                "Dask's" % (key, type(value).__name__))
    dsk = _inline_views(dsk, keys)
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
        # A list of tasks that read no key is still a computation, not a
        # literal: Dask's own scheduler calls them.
        if _is_task(value) or found or \
                (isinstance(value, list) and _holds_task(value)):
            reads[key] = found
        else:
            literals[key] = value

    # Functions of importable modules by name, others (__main__, lambdas,
    # closures) by value; one pickler, so each function is asked about once.
    pickler = Pickler()
    shared = _shared_literals(reads, literals, canonical, pickler)

    ids: Dict[Hashable, str] = {}
    used: set = set()
    for key in [*reads, *shared]:
        task_id = _task_id(key)
        while task_id in used:  # a str key equal to another key's repr
            task_id += "'"
        used.add(task_id)
        ids[key] = task_id

    ranks = _order(dsk)
    spec = types_pb2.JobSpec(name=name, priority=priority)
    for key, code in shared.items():
        task = spec.tasks.add(id=ids[key], fn="python",
                              priority=-ranks.get(key, 0), code=code)
        if retries:
            task.retry.max_attempts = retries + 1
    for key, found in reads.items():
        inputs: List[str] = []
        index_of: Dict[Hashable, int] = {}
        refs: List[Tuple[Hashable, int]] = []
        constants: Dict[Hashable, Any] = {}
        for read in found:
            source = canonical(read)
            if source in literals and source not in shared:
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
        if source in literals:  # the caller has it: nothing to fetch
            wanted_literals[key] = literals[source]
        elif source in ids:
            task_of[key] = ids[source]
        else:
            raise KeyError("%r is not a key of the Dask graph" % (key,))
    # Kept for the client as outputs, though other tasks may read them:
    # dagd frees a consumed result once its consumers are done.
    wanted_ids = set(task_of.values())
    for task in spec.tasks:
        if task.id in wanted_ids:
            task.output = True
    return Graph(spec, task_of, wanted_literals)


# A literal read by more than one task and larger than this pickled
# (dagd's default --inline_max_bytes) becomes a task of its own.
_SHARED_LITERAL_BYTES = 64 * 1024


def _shared_literals(reads: Dict[Hashable, Dict[Hashable, None]],
                     literals: Dict[Hashable, Any], canonical: Any,
                     pickler: Pickler) -> Dict[Hashable, bytes]:
    """The literals to make tasks that return them, each with its task's
    code. Pickled into every task that reads it, a literal costs its size
    once per reader in the job: an 8 MB array that 50 tasks slice
    (``dask.array.from_array``) made a 400 MB job, over dagd's limit. As a
    task it is in the job once, and its result reaches the tasks that read
    it as any result does: over dagd's inline limit, from the worker that
    holds it, not through dagd."""
    readers: Dict[Hashable, int] = {}
    for found in reads.values():
        for source in {canonical(read) for read in found}:
            if source in literals:
                readers[source] = readers.get(source, 0) + 1
    shared: Dict[Hashable, bytes] = {}
    for source, value in literals.items():  # in the graph's order
        if readers.get(source, 0) < 2:
            continue
        # Its task's result is pickled again by the worker, whose standard
        # pickler cannot pickle what travels by value (an object of a class
        # of __main__, a lambda): such a literal stays in its readers.
        code = pickler.dumps_by_name(GraphTask(value, [], {}))
        if code is not None and len(code) > _SHARED_LITERAL_BYTES:
            shared[source] = code
    return shared


def _view_functions() -> Tuple[Any, ...]:
    """Functions whose result is a view of their first argument: computing
    one costs nothing next to moving its result. A graph that calls numpy's
    has imported numpy; one that has not is not made to (0.2 s)."""
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return ()
    return (numpy.transpose, numpy.swapaxes)


# Calls that build an argument (axes, keyword arguments) out of literals.
_BUILDERS = (tuple, list, dict)


def _plain(value: Any) -> bool:
    """Whether ``value`` computes nothing but containers of literals."""
    stack = [value]
    while stack:
        item = stack.pop()
        if _is_task(item):
            if not any(item[0] is b for b in _BUILDERS):
                return False
            stack.extend(item[1:])
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _is_view(value: Any, views: Tuple[Any, ...]) -> bool:
    """Whether ``value`` is a view function applied to a key (or to another
    view), directly or through ``dask.utils.apply``, with only literal
    arguments besides: nothing in it computes anything."""
    from dask.utils import apply

    if not _is_task(value):
        return False
    fn, args, kwargs = value[0], list(value[1:]), None
    if fn is apply and len(args) >= 2 and isinstance(args[1], list):
        fn, kwargs, args = args[0], args[2:], args[1]
    if not any(fn is view for view in views) or not args:
        return False
    data = args[0]
    if _is_task(data) and not _is_view(data, views):
        return False
    return not isinstance(data, list) and _plain(args[1:]) and \
        _plain(kwargs or [])


def _makes_a_view(value: Any, views: Tuple[Any, ...]) -> bool:
    """Whether the task ``value`` only makes a view of the keys it reads:
    a view function applied to keys, or a subgraph Dask fused whose every
    step is one, called with keys alone."""
    from dask.optimization import SubgraphCallable

    if _is_view(value, views):
        return True
    fn = value[0]
    if not isinstance(fn, SubgraphCallable) or not fn.dsk:
        return False
    return all(not _is_task(arg) and not isinstance(arg, list)
               for arg in value[1:]) and \
        all(_is_view(step, views) for step in fn.dsk.values())


def _inline_views(dsk: Dict[Hashable, Any], keys: Any) -> Dict[Hashable, Any]:
    """``dsk`` with every task that only makes a view, and is not asked
    for, computed inside the tasks that read it (see the module's notes)."""
    views = _view_functions()
    if not views:
        return dsk
    from dask.optimization import SubgraphCallable
    from dask.utils import apply

    wanted = set(_flatten(keys))
    # Most tasks call something else: only these heads are looked into.
    view_ids = {id(view) for view in views} | {id(apply)}
    inline = [key for key, value in dsk.items()
              if _is_task(value) and
              (id(value[0]) in view_ids or
               isinstance(value[0], SubgraphCallable)) and
              key not in wanted and _makes_a_view(value, views)]
    if not inline:
        return dsk
    from dask.core import get_dependencies
    from dask.optimization import inline as inline_keys

    dependencies = {key: get_dependencies(dsk, key) for key in dsk}
    read = {dep for deps in dependencies.values() for dep in deps}
    inline = [key for key in inline if key in read]
    if not inline:
        return dsk
    dsk = inline_keys(dsk, inline, inline_constants=False,
                      dependencies=dependencies)
    for key in inline:
        del dsk[key]
    return dsk


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


# What the worker puts where it cut a long error (worker/python_runtime.cc).
_CUT = re.compile(r"\n\.\.\. \(\d+ bytes cut\) \.\.\.\n")


def rebuild_exception(error: str) -> Optional[BaseException]:
    """The exception a dagd task's error message describes ("module.Type:
    message" then its traceback), rebuilt with its original type, or None
    when the type cannot be found or made from the message."""
    head, marker, trace = error.partition("\nTraceback (most recent call "
                                          "last):")
    if not marker:
        # A long message: the worker kept the error's start and end, and
        # the traceback's first line went with the middle.
        cut = _CUT.search(error)
        if cut is None:
            return None
        head, marker = error[:cut.start()] + " ...", cut.group(0)
        trace = "\n" + error[cut.end():]
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
