"""The Python task runner: the loop that each of dagd-worker's long-lived
interpreters runs (``dagd-worker --python``). Not for direct use.

The worker starts ``python3 -m dagd.runner --fd N`` with one end of a Unix
stream socket as descriptor N and speaks a small framed protocol over it.
A frame is an 8-byte little-endian length and that many bytes; a message
is one header frame (a UTF-8 JSON object with a ``kind``) followed by the
data frames its header announces.

    runner -> worker  {"kind": "ready", "pid": P, "python": "3.11.2"}
    worker -> runner  {"kind": "task", "job": J, "task": T, "attempt": A,
                       "args": <the task's args or null>,
                       "code": <size of the code frame, or absent>,
                       "inputs": [{"content_type": C, "size": S}, ...]}
                      then the code frame (when "code" is there), then one
                      frame per input
    runner -> worker  {"kind": "print", "stream": "stdout"|"stderr",
                       "text": "..."}                 (any number, in order)
    runner -> worker  {"kind": "result", "content_type": C,
                       "sizes": [S0, S1, ...]} then those frames, whose
                      concatenation is the task's output; or
                      {"kind": "error", "type": "module.Type",
                       "message": "...", "traceback": "...",
                       "permanent": true|false}

One task at a time. The worker kills the process (its whole process
group) to cancel a task or end it at its timeout, and starts another.
The runner exits when the worker closes its end.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import pickle
import socket
import struct
import sys
import threading
import traceback
from typing import Any, Callable, Dict, List, Optional, Sequence

from dagd import codec
from dagd.errors import PermanentError

_LENGTH = struct.Struct("<Q")
# sendmsg takes at most IOV_MAX (1024 on Linux) buffers at once.
_MAX_PARTS = 512
# A print longer than this without a newline is sent as it is.
_MAX_LINE = 64 << 10
_ARG_KEYS = ("function", "args", "kwargs", "output")


class _Failure(Exception):
    """A task failure the runner itself detects (bad args, unusable code)."""

    def __init__(self, message: str, permanent: bool = True):
        super().__init__(message)
        self.permanent = permanent


class Channel:
    """The framed socket to the worker. Sends are serialized by a lock, as
    a task's threads may print while the runner sends its result.
    """

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._send_lock = threading.Lock()

    def send(self, header: Dict[str, Any], frames: Sequence[Any] = ()) -> None:
        parts: List[memoryview] = []
        for frame in [json.dumps(header).encode()] + list(frames):
            view = memoryview(frame).cast("B")
            parts.append(memoryview(_LENGTH.pack(view.nbytes)))
            if view.nbytes:
                parts.append(view)
        with self._send_lock:
            self._send_all(parts)

    def _send_all(self, parts: List[memoryview]) -> None:
        while parts:
            sent = self._sock.sendmsg(parts[:_MAX_PARTS])
            while sent:
                if sent >= parts[0].nbytes:
                    sent -= parts[0].nbytes
                    parts.pop(0)
                else:
                    parts[0] = parts[0][sent:]
                    sent = 0

    def _read_exact(self, size: int) -> bytearray:
        data = bytearray(size)
        view = memoryview(data)
        got = 0
        while got < size:
            n = self._sock.recv_into(view[got:], size - got)
            if n == 0:
                raise EOFError("the worker closed the runner's socket")
            got += n
        return data

    def read_frame(self) -> bytearray:
        (size,) = _LENGTH.unpack(self._read_exact(_LENGTH.size))
        return self._read_exact(size)

    def read_header(self) -> Dict[str, Any]:
        return json.loads(self.read_frame())


class TaskOutput(io.TextIOBase):
    """sys.stdout or sys.stderr while the runner serves: complete lines
    printed during a task go to the worker, which logs them with the job
    and task ids; between tasks they go to the interpreter's own stderr.
    """

    def __init__(self, channel: Channel, stream: str, fallback: Any):
        super().__init__()
        self._channel = channel
        self._stream = stream
        self._fallback = fallback
        self._lock = threading.Lock()
        self._pending = ""
        self.in_task = False

    @property
    def encoding(self) -> str:
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not %s" %
                            type(text).__name__)
        with self._lock:
            self._pending += text
            cut = self._pending.rfind("\n") + 1
            if cut == 0 and len(self._pending) >= _MAX_LINE:
                cut = len(self._pending)
            if cut:
                self._emit(self._pending[:cut])
                self._pending = self._pending[cut:]
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._emit(self._pending)
                self._pending = ""

    def _emit(self, text: str) -> None:
        if self.in_task:
            self._channel.send({"kind": "print", "stream": self._stream,
                                "text": text})
        else:
            self._fallback.write(text)
            self._fallback.flush()


def _type_name(error: BaseException) -> str:
    kind = type(error)
    if kind.__module__ in ("builtins", "__main__"):
        return kind.__qualname__
    return "%s.%s" % (kind.__module__, kind.__qualname__)


def _error_header(error: BaseException, permanent: bool,
                  skip_frames: int = 0) -> Dict[str, Any]:
    tb = error.__traceback__
    for _ in range(skip_frames):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    text = "".join(traceback.format_exception(type(error), error, tb))
    return {"kind": "error", "type": _type_name(error),
            "message": str(error), "traceback": text, "permanent": permanent}


class Runner:
    """Runs the tasks the worker sends, one at a time, until it hangs up."""

    def __init__(self, channel: Channel):
        self._channel = channel
        self._functions: Dict[str, Callable[..., Any]] = {}
        self._stdout = TaskOutput(channel, "stdout", sys.__stderr__)
        self._stderr = TaskOutput(channel, "stderr", sys.__stderr__)

    def serve(self) -> None:
        sys.stdout, sys.stderr = self._stdout, self._stderr
        self._channel.send({"kind": "ready", "pid": os.getpid(),
                            "python": sys.version.split()[0]})
        while True:
            try:
                header = self._channel.read_header()
            except EOFError:
                return
            if header.get("kind") != "task":
                raise RuntimeError("dagd runner: unexpected message %r" %
                                   header.get("kind"))
            self._run(header)

    def _run(self, header: Dict[str, Any]) -> None:
        code = None
        if "code" in header:
            code = self._channel.read_frame()
        inputs = []
        for described in header.get("inputs", []):
            inputs.append((self._channel.read_frame(),
                           described.get("content_type", "")))
        self._stdout.in_task = self._stderr.in_task = True
        try:
            reply, frames = self._call(header.get("args"), code, inputs)
        finally:
            self._stdout.flush()
            self._stderr.flush()
            self._stdout.in_task = self._stderr.in_task = False
        self._channel.send(reply, frames)

    def _call(self, args: Any, code: Optional[bytearray],
              inputs: List[Any]) -> Any:
        try:
            fn, positional, kwargs, output = self._prepare(args, code)
            values = [codec.decode(data, content_type)
                      for data, content_type in inputs]
        except _Failure as failure:
            return {"kind": "error", "type": "dagd.TaskSetupError",
                    "message": str(failure), "traceback": "",
                    "permanent": failure.permanent}, []
        except Exception as error:  # an input that does not decode
            return _error_header(error, permanent=True), []
        try:
            value = fn(*values, *positional, **kwargs)
        except BaseException as error:  # the task's own failure
            return _error_header(error, isinstance(error, PermanentError),
                                 skip_frames=1), []
        try:
            frames, content_type = codec.encode(value, output)
        except Exception as error:
            failure = _error_header(error, permanent=True)
            failure["message"] = "cannot encode the result as %s: %s" % (
                output, failure["message"])
            return failure, []
        sizes = [memoryview(frame).nbytes for frame in frames]
        return {"kind": "result", "content_type": content_type,
                "sizes": sizes}, frames

    def _prepare(self, args: Any, code: Optional[bytearray]) -> Any:
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise _Failure("the args of a python task must be an object, "
                           "got %s" % type(args).__name__)
        for key in args:
            if key not in _ARG_KEYS:
                raise _Failure("unknown key %r in the args of a python task "
                               "(known: %s)" % (key, ", ".join(_ARG_KEYS)))
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
                           (sys.executable, _type_name(error), error))
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
                           (module_name, sys.executable, _type_name(error),
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


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python3 -m dagd.runner",
        description="dagd's Python task runner, started by dagd-worker "
        "--python; speaks to the worker over descriptor --fd.")
    parser.add_argument("--fd", type=int, required=True)
    options = parser.parse_args(argv)
    os.set_inheritable(options.fd, False)
    sock = socket.socket(fileno=options.fd)
    Runner(Channel(sock)).serve()


if __name__ == "__main__":
    main()
