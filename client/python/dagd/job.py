"""Building a dagd job from Python: ``Job.call`` adds a Python task for a
function and its arguments; a ``Task`` passed as an argument becomes an
input, its output passed in its place.

>>> job = dagd.Job("stats")
>>> data = job.call(load, "s3://bucket/data.csv").set(id="load", retries=3)
>>> mean = job.call(statistics.mean, data)
>>> job.task("add", inputs=[mean], args={"value": 1})   # a builtin
>>> job.spec()                                           # dagd.v1.JobSpec

Functions travel as cloudpickle sends them: those of an importable module by
name (the module must be importable by the workers' Python), those defined
in ``__main__``, lambdas and closures by value.
"""

from __future__ import annotations

import collections
import itertools
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

from dagd.call import Call, Input, Pack
from dagd.pickling import Pickler
from dagd.v1 import types_pb2

_OPTIONS = ("id", "after", "priority", "timeout", "retries", "retry",
            "resources", "executor", "cost", "output", "job_output",
            "exclusive_group")
_OUTPUT_FORMATS = ("pickle", "json", "bytes")


class Task:
    """One task of a ``Job``. Pass it as an argument of ``Job.call`` (or in
    ``inputs`` of ``Job.task``) to use its output; ``set`` changes its
    options before the job is submitted.
    """

    def __init__(self, job: "Job", name: str):
        self._job = job
        self._name = name
        self._id: Optional[str] = None
        self._options: Dict[str, Any] = {}
        self._spec = types_pb2.TaskSpec()
        self._inputs: List[Task] = []

    @property
    def id(self) -> str:
        """The task's id in its job: as ``set(id=...)`` named it, else
        ``NAME-N`` (the function's name and the task's position)."""
        return self._id if self._id is not None else self._name

    def set(self, **options: Any) -> "Task":
        """Sets task options and returns the task:

        - ``id``: the task's id (unique in the job)
        - ``after``: tasks that must succeed first, outputs not passed
        - ``priority``: higher runs first within the job
        - ``timeout``: seconds per attempt
        - ``retries``: attempts after the first (backoff: dagd's default);
          ``retry``: a full ``RetryPolicy`` as a dict instead
        - ``resources``: ``{"slots": 1, "amounts": {...}, "labels": {...}}``
        - ``executor``: ``"pool:NAME"``, ``"lambda"``, ...
        - ``cost``: estimated cost for critical-path ranking
        - ``output``: the result's format: ``"pickle"`` (default),
          ``"json"`` or ``"bytes"``
        - ``job_output``: ``True`` makes it one of the job's outputs though
          other tasks read it (kept by dagd, returned by ``Client.run``)
        - ``exclusive_group``: tasks sharing it never run at once
        """
        for key, value in options.items():
            if key not in _OPTIONS:
                raise TypeError("unknown task option %r (known: %s)" %
                                (key, ", ".join(_OPTIONS)))
            if key == "output" and value not in _OUTPUT_FORMATS:
                raise ValueError(
                    "task %s: output is the result's format, one of %s, not "
                    "%r (job_output=True makes a job output)" %
                    (self.id, ", ".join(map(repr, _OUTPUT_FORMATS)), value))
            if key == "after":
                # Read once, here: an iterator would be empty for the next
                # spec().
                value = list(value)
                for task in value:
                    if not isinstance(task, Task):
                        raise TypeError("task %s: after takes Tasks, got %r" %
                                        (self.id, task))
                    self._job._check(task)
            if key == "id":
                self._id = str(value)
            else:
                self._options[key] = value
        return self

    def __reduce__(self):
        # Reached only where a Task was not replaced by its output (inside
        # a container of a kind Job.call does not look into): the function
        # would get the Task, and run without waiting for it.
        raise TypeError("%r cannot be passed inside this container: a Task "
                        "is replaced by its output only in a list, tuple, "
                        "namedtuple, set, dict or OrderedDict" % self)

    def __repr__(self) -> str:
        return "<dagd.Task %s>" % self.id


class Job:
    """A job being built. ``Client.submit(job)`` sends it."""

    def __init__(self, name: str = "", *, priority: int = 0,
                 max_parallelism: int = 0, continue_on_failure: bool = False,
                 deadline: Optional[float] = None):
        self.name = name
        self.priority = priority
        self.max_parallelism = max_parallelism
        self.continue_on_failure = continue_on_failure
        self.deadline = deadline
        self._tasks: List[Task] = []
        self._counter = itertools.count()
        self._pickler = Pickler()

    @property
    def tasks(self) -> List[Task]:
        return list(self._tasks)

    def call(self, fn: Union[Callable[..., Any], str], *args: Any,
             **kwargs: Any) -> Task:
        """Adds a Python task that calls ``fn(*args, **kwargs)`` on a worker
        with ``--python``; Tasks among the arguments (also inside lists,
        tuples, sets and dicts) are replaced by their outputs.

        ``fn`` is a callable (sent pickled) or a ``"module:function"``
        string the workers import; with a string, the Tasks must come first
        among the positional arguments and the other arguments must be JSON
        values.
        """
        if isinstance(fn, str):
            return self._named_call(fn, args, kwargs)
        if not callable(fn):
            raise TypeError("Job.call needs a callable or 'module:function', "
                            "got %s" % type(fn).__name__)
        task = self._new(getattr(fn, "__name__", type(fn).__name__))
        found: Dict[int, int] = {}
        packed_args = tuple(self._pack(arg, task, found) for arg in args)
        packed_kwargs = {key: self._pack(value, task, found)
                         for key, value in kwargs.items()}
        task._spec.fn = "python"
        task._spec.code = self._pickler.dumps(
            Call(fn, packed_args, packed_kwargs))
        return task

    def task(self, fn: str, *, inputs: Iterable[Task] = (), args: Any = None,
             **options: Any) -> Task:
        """Adds a task of any fn a worker offers (a builtin such as
        ``"add"``, ``"exec"``, a plugin's), with a JSON ``args`` value and
        ``inputs`` in order; ``options`` as for ``Task.set``."""
        task = self._new(fn)
        task._spec.fn = fn
        if args is not None:
            task._spec.args.MergeFrom(_json_value(args))
        for upstream in inputs:
            self._check(upstream)
            task._inputs.append(upstream)
        return task.set(**options)

    def _named_call(self, name: str, args: Any, kwargs: Any) -> Task:
        module, _, function = name.partition(":")
        if not module or not function:
            raise ValueError("a function named by a string must be "
                             "'module:function', got %r" % name)
        task = self._new(function.rsplit(".", 1)[-1])
        leading = 0
        while leading < len(args) and isinstance(args[leading], Task):
            self._check(args[leading])
            task._inputs.append(args[leading])
            leading += 1
        rest = list(args[leading:])
        for value in itertools.chain(rest, kwargs.values()):
            if _holds_task(value):
                raise TypeError("with a 'module:function' string, tasks must "
                                "be the first positional arguments")
        spec_args: Dict[str, Any] = {"function": name}
        if rest:
            spec_args["args"] = rest
        if kwargs:
            spec_args["kwargs"] = kwargs
        task._spec.fn = "python"
        task._spec.args.MergeFrom(_json_value(spec_args))
        return task

    def _new(self, name: str) -> Task:
        task = Task(self, "%s-%d" % (name, next(self._counter)))
        self._tasks.append(task)
        return task

    def _check(self, task: Task) -> None:
        if task._job is not self:
            raise ValueError("%r belongs to another job" % task)

    def _pack(self, value: Any, task: Task, found: Dict[int, int]) -> Any:
        """``value`` with Tasks replaced by Inputs (added to ``task``)."""
        if isinstance(value, Task):
            self._check(value)
            index = found.get(id(value))
            if index is None:
                index = found[id(value)] = len(task._inputs)
                task._inputs.append(value)
            return Input(index)
        kind = type(value)
        if kind in (list, tuple, set, frozenset) or _is_namedtuple(kind):
            items = [self._pack(item, task, found) for item in value]
            if any(isinstance(item, (Input, Pack)) for item in items):
                return Pack(kind, items)
        elif kind in (dict, collections.OrderedDict):
            if any(_holds_task(k) for k in value):
                raise TypeError("a Task as a dict key is not replaced by its "
                                "output: use it as a value")
            pairs = [(k, self._pack(v, task, found)) for k, v in value.items()]
            if any(isinstance(v, (Input, Pack)) for _, v in pairs):
                return Pack(kind, pairs)
        elif _holds_task(value):
            # Passed on as it is, the function would get the Task itself,
            # and run without waiting for it.
            raise TypeError("a Task inside a %s is not replaced by its "
                            "output: pass it in a list, tuple, namedtuple, "
                            "set, dict or OrderedDict" % kind.__name__)
        return value

    def sinks(self) -> List[Task]:
        """The tasks whose output no other task takes as an input: the
        job's outputs, as dagd keeps them (one that others only wait for
        with ``after`` is one), and what ``Client.run`` returns."""
        used = set()
        for task in self._tasks:
            used.update(id(t) for t in task._inputs)
        return [task for task in self._tasks if id(task) not in used]

    def spec(self) -> types_pb2.JobSpec:
        """The job as the ``dagd.v1.JobSpec`` that is submitted."""
        spec = types_pb2.JobSpec(name=self.name, priority=self.priority,
                                 max_parallelism=self.max_parallelism,
                                 continue_on_failure=self.continue_on_failure)
        if self.deadline is not None:
            spec.deadline.FromNanoseconds(int(self.deadline * 1e9))
        for task in self._tasks:
            spec.tasks.append(_task_spec(task))
        return spec


def _task_spec(task: Task) -> types_pb2.TaskSpec:
    spec = types_pb2.TaskSpec()
    spec.CopyFrom(task._spec)
    spec.id = task.id
    spec.inputs.extend(t.id for t in task._inputs)
    options = task._options
    spec.after.extend(t.id for t in options.get("after", ()))
    spec.priority = int(options.get("priority", 0))
    if "timeout" in options:
        spec.timeout.FromNanoseconds(int(float(options["timeout"]) * 1e9))
    if "retry" in options:
        from google.protobuf import json_format

        json_format.ParseDict(options["retry"], spec.retry)
    elif options.get("retries"):
        spec.retry.max_attempts = int(options["retries"]) + 1
    if "resources" in options:
        from google.protobuf import json_format

        json_format.ParseDict(options["resources"], spec.resources)
    spec.executor = options.get("executor", "")
    spec.exclusive_group = options.get("exclusive_group", "")
    spec.output = bool(options.get("job_output", False))
    if "cost" in options:
        spec.cost = float(options["cost"])
    output = options.get("output", "pickle")
    if output != "pickle":
        if spec.fn != "python":
            raise ValueError("task %s: output applies to Python tasks only" %
                             spec.id)
        args = _struct_of(spec)
        args["output"] = output
    return spec


def _struct_of(spec: types_pb2.TaskSpec) -> Any:
    """The task's args as a mutable Struct (made an object if unset)."""
    if spec.args.WhichOneof("kind") != "struct_value":
        spec.args.struct_value.Clear()
    return spec.args.struct_value


def _json_value(value: Any) -> Any:
    from google.protobuf import json_format, struct_pb2

    message = struct_pb2.Value()
    json_format.ParseDict(value, message)
    return message


def _holds_task(value: Any) -> bool:
    if isinstance(value, Task):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_holds_task(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_task(k) or _holds_task(v) for k, v in value.items())
    return False


def _is_namedtuple(kind: type) -> bool:
    return issubclass(kind, tuple) and hasattr(kind, "_fields")
