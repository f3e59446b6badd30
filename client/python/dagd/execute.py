"""Calling a Python task: finding its function (``module:function`` or
pickled code), decoding its inputs, calling it, and encoding its result or
describing its exception. Shared by the worker's interpreters
(``dagd.runner``) and the AWS Lambda handler (``dagd.aws_lambda``).
Standard library only, like everything they import.
"""

from __future__ import annotations

import importlib
import pickle
import sys
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple

from dagd import codec
from dagd.errors import PermanentError

ARG_KEYS = ("function", "args", "kwargs", "output")


class _Failure(Exception):
    """A task failure the runner itself detects (bad args, unusable code)."""

    def __init__(self, message: str, permanent: bool = True):
        super().__init__(message)
        self.permanent = permanent


def type_name(error: BaseException) -> str:
    """The exception's type as a traceback names it (module.Type)."""
    kind = type(error)
    if kind.__module__ in ("builtins", "__main__"):
        return kind.__qualname__
    return "%s.%s" % (kind.__module__, kind.__qualname__)


# The most of an error's message, and of its traceback, sent to the worker:
# the whole of a 70 MB message made a header over the worker's limit, and
# the worker killed the interpreter, reporting that instead of the error.
_MAX_ERROR_TEXT = 1 << 20


def valid_text(text: str) -> str:
    """`text` as the worker can read it: lone surrogates (a str decoded with
    surrogateescape) escaped, which JSON would carry but the worker refuses."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _bounded(text: str) -> str:
    if len(text) <= _MAX_ERROR_TEXT:
        return valid_text(text)
    return valid_text(text[:_MAX_ERROR_TEXT]) + \
        "... (%d more characters)" % (len(text) - _MAX_ERROR_TEXT)


def _describe(error: BaseException) -> str:
    try:
        return str(error)
    except Exception as broken:  # its __str__ raised
        return "<%s whose str() raised %s>" % (type_name(error),
                                               type_name(broken))


def error_header(error: BaseException, permanent: bool,
                 skip_frames: int = 0) -> Dict[str, Any]:
    """The runner protocol's error reply for `error`, with its traceback
    less its first `skip_frames` frames (the caller's own)."""
    tb = error.__traceback__
    for _ in range(skip_frames):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    try:
        text = "".join(traceback.format_exception(type(error), error, tb))
    except Exception:  # an exception whose __str__ raises
        text = "".join(traceback.format_tb(tb)) + _describe(error)
    return {"kind": "error", "type": type_name(error),
            "message": _bounded(_describe(error)), "traceback": _bounded(text),
            "permanent": permanent}


class Decoded:
    """An input already decoded: an object the interpreter kept."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


class Call:
    """What one call came to: the runner protocol's reply header (kind
    "result" or "error"), the frames of the result, and, for the runner to
    keep, the decoded inputs (empty when they did not decode) and the
    result (None unless the reply is a result)."""

    __slots__ = ("reply", "frames", "inputs", "result")

    def __init__(self, reply: Dict[str, Any], frames: List[Any] = (),
                 inputs: List[Any] = (), result: Any = None):
        self.reply = reply
        self.frames = list(frames)
        self.inputs = list(inputs)
        self.result = result


class TaskCaller:
    """Calls tasks; remembers the ``module:function`` names it resolved."""

    def __init__(self) -> None:
        self._functions: Dict[str, Callable[..., Any]] = {}

    def call(self, args: Any, code: Optional[bytearray],
             inputs: List[Tuple[Any, str]]
             ) -> Tuple[Dict[str, Any], List[Any]]:
        """Runs one task: its function on the decoded inputs. Returns the
        runner protocol's reply header (kind "result" or "error") and the
        frames of the result. Never raises for the task's own failures.
        """
        done = self.run(args, code, inputs)
        return done.reply, done.frames

    def run(self, args: Any, code: Optional[bytearray],
            inputs: List[Any]) -> Call:
        """Like ``call``, each input a ``(data, content_type)`` pair or a
        ``Decoded`` value; says what the call came to."""
        try:
            fn, positional, kwargs, output = self._prepare(args, code)
            values = [given.value if isinstance(given, Decoded)
                      else codec.decode(*given) for given in inputs]
        except _Failure as failure:
            return Call({"kind": "error", "type": "dagd.TaskSetupError",
                         "message": str(failure), "traceback": "",
                         "permanent": failure.permanent})
        except Exception as error:  # an input that does not decode
            return Call(error_header(error, permanent=True))
        try:
            value = fn(*values, *positional, **kwargs)
        except BaseException as error:  # the task's own failure
            return Call(error_header(error, isinstance(error, PermanentError),
                                     skip_frames=1), inputs=values)
        try:
            frames, content_type = codec.encode(value, output)
        except Exception as error:
            failure = error_header(error, permanent=True)
            failure["message"] = "cannot encode the result as %s: %s" % (
                output, failure["message"])
            return Call(failure, inputs=values)
        sizes = [memoryview(frame).nbytes for frame in frames]
        return Call({"kind": "result", "content_type": content_type,
                     "sizes": sizes}, frames, values, value)

    def _prepare(self, args: Any, code: Optional[bytearray]) -> Any:
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise _Failure("the args of a python task must be an object, "
                           "got %s" % type(args).__name__)
        for key in args:
            if key not in ARG_KEYS:
                raise _Failure("unknown key %r in the args of a python task "
                               "(known: %s)" % (key, ", ".join(ARG_KEYS)))
        positional = args.get("args", [])
        kwargs = args.get("kwargs", {})
        output = args.get("output", "pickle")
        if not isinstance(positional, list):
            raise _Failure("args.args must be an array")
        if not isinstance(kwargs, dict):
            raise _Failure("args.kwargs must be an object")
        if output not in ("pickle", "json", "bytes"):
            raise _Failure("args.output must be \"pickle\", \"json\" or "
                           "\"bytes\", got %r" % (output,))
        if code is not None:
            if "function" in args:
                raise _Failure("a python task carries code or names "
                               "args.function, not both")
            return self._unpickle(code), positional, kwargs, output
        if "function" not in args:
            raise _Failure("a python task needs args.function "
                           "(\"module:function\") or code")
        return self._resolve(args["function"]), positional, kwargs, output

    def _unpickle(self, code: bytearray) -> Callable[..., Any]:
        try:
            fn = pickle.loads(code)
        except Exception as error:
            raise _Failure("cannot unpickle the task's code with %s: %s: %s" %
                           (sys.executable, type_name(error), error))
        if not callable(fn):
            raise _Failure("the task's code unpickles to a %s, not a "
                           "callable" % type(fn).__name__)
        return fn

    def _resolve(self, name: Any) -> Callable[..., Any]:
        if not isinstance(name, str):
            raise _Failure("args.function must be a string")
        fn = self._functions.get(name)
        if fn is not None:
            return fn
        module_name, _, qualname = name.partition(":")
        if not module_name or not qualname:
            raise _Failure("args.function must be \"module:function\", got "
                           "%r" % name)
        try:
            target: Any = importlib.import_module(module_name)
        except Exception as error:
            raise _Failure("cannot import %r with %s: %s: %s" %
                           (module_name, sys.executable, type_name(error),
                            error))
        for part in qualname.split("."):
            try:
                target = getattr(target, part)
            except AttributeError:
                raise _Failure("%r has no attribute %r (args.function %r)" %
                               (getattr(target, "__name__", target), part,
                                name))
        if not callable(target):
            raise _Failure("args.function %r is a %s, not a callable" %
                           (name, type(target).__name__))
        self._functions[name] = target
        return target
