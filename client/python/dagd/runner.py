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
                       "drop": [K, ...]                  (or absent),
                       "keep_result": {"id": K, "min_size": N} (or absent),
                       "inputs": [{"content_type": C, "size": S,
                                   "use": K | "keep": K (or neither)},
                                  ...]}
                      then the code frame (when "code" is there), then one
                      frame per input without "use"
    runner -> worker  {"kind": "print", "stream": "stdout"|"stderr",
                       "text": "..."}                 (any number, in order)
    runner -> worker  {"kind": "result", "content_type": C,
                       "sizes": [S0, S1, ...], "kept": [K, ...] (or absent)}
                      then those frames, whose concatenation is the task's
                      output; or
                      {"kind": "error", "type": "module.Type",
                       "message": "...", "traceback": "...",
                       "permanent": true|false, "kept": [K, ...] (or absent)}

The runner keeps objects the worker names by integer ids (K): an input
with "keep" is kept, decoded, once the task has run; one with "use" is
not sent, the object kept under that id is passed instead; "drop" forgets
ids before anything else. With "keep_result" a result pickled into
min_size to max_size bytes is kept (not a view of a much larger array).
The reply's "kept" lists the ids the runner did keep: inputs are kept
only once decoded, so a task that fails before that keeps none. The
worker decides what fits (worker/python_kept.h); the runner only obeys.

One task at a time. The worker kills the process (its whole process
group) to cancel a task or end it at its timeout, and starts another.
The runner exits when the worker closes its end.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import json
import mmap
import os
import socket
import struct
import sys
import threading
from typing import Any, Dict, List, Optional, Sequence

from dagd import codec
from dagd.execute import Decoded, TaskCaller, valid_text

_LENGTH = struct.Struct("<Q")
# sendmsg takes at most IOV_MAX (1024 on Linux) buffers at once.
_MAX_PARTS = 512
# A print longer than this without a newline is sent as it is.
_MAX_LINE = 64 << 10
# Frames from this size up are read into memory of their own, mapped for
# them (see Channel.buffer).
_MAPPED_FRAME = 1 << 20
_HUGE_PAGE = 2 << 20
# What each interpreter keeps mapped for large frames to come (FramePool).
_POOL_BYTES = 128 << 20
# What a result is encoded as for the runner to keep it: a Python object.
_KEPT_TYPES = (codec.PICKLE, codec.PLAIN_PICKLE)


def _address(buffer: Any) -> int:
    """Where a writable buffer's memory starts."""
    return ctypes.addressof(ctypes.c_char.from_buffer(buffer))


def _pins_more(value: Any) -> bool:
    """Whether keeping ``value`` would keep much more memory than its
    pickle counts: a view of a larger array (numpy's ``base``). True too
    when the object cannot say (its attributes raise): not kept, it is
    only read back from its pickle."""
    try:
        base = getattr(value, "base", None)
        size = getattr(value, "nbytes", None)
        return (base is not None and isinstance(size, int) and
                getattr(base, "nbytes", 0) > 2 * size)
    except Exception:  # the task's own code; its result still stands
        return True


def _map_frame(pages: int) -> mmap.mmap:
    """A private anonymous mapping of ``pages`` + 1 huge pages, advised as
    transparent huge pages: one fault per 2 MiB, not 512, and an array
    under one TLB entry per 2 MiB. The spare page, never touched, lets the
    buffer start on a 2 MiB boundary inside (only newer kernels place
    mappings there themselves)."""
    data = mmap.mmap(-1, (pages + 1) * _HUGE_PAGE, flags=mmap.MAP_PRIVATE)
    try:
        data.madvise(mmap.MADV_HUGEPAGE)
    except (AttributeError, OSError):  # no huge pages here: just slower
        pass
    return data


class FramePool:
    """Memory for large frames, each in whole huge pages (_map_frame), kept
    for the next frame of as many pages once nothing views it any more: on
    a virtual machine, memory fresh from the kernel costs more to touch
    than the copy into it (faulting in 1 GiB of huge pages took 0.1 to 2.5
    s here, against 0.06 s to write memory already touched). A mapping is
    free when the pool's own references are its only ones (an array read
    from the frame, or an object the runner keeps, holds a view of it).
    Keeps at most ``max_bytes`` of mappings; a frame beyond that gets a
    mapping of its own, unmapped when its last view goes.
    """

    def __init__(self, max_bytes: int = _POOL_BYTES):
        self._max_bytes = max_bytes
        self._maps: List[mmap.mmap] = [mmap.mmap(-1, mmap.PAGESIZE)]
        # What _refs says of a mapping nothing else references, measured
        # the way it is asked (CPython's reference counts).
        self._unused = self._refs(0)
        self._maps.clear()

    def _refs(self, index: int) -> int:
        return sys.getrefcount(self._maps[index])

    def get(self, size: int) -> memoryview:
        pages = -(-size // _HUGE_PAGE)
        length = (pages + 1) * _HUGE_PAGE
        for index in range(len(self._maps)):
            if (len(self._maps[index]) == length and
                    self._refs(index) == self._unused):
                data = self._maps[index]
                break
        else:
            data = _map_frame(pages)
            self._add(data)
        start = -_address(data) % _HUGE_PAGE
        return memoryview(data)[start:start + size]

    def bytes(self) -> int:
        return sum(len(data) for data in self._maps)

    def _add(self, data: mmap.mmap) -> None:
        held = self.bytes()
        index = 0
        while held + len(data) > self._max_bytes and index < len(self._maps):
            if self._refs(index) == self._unused:
                held -= len(self._maps.pop(index))
            else:
                index += 1
        if held + len(data) <= self._max_bytes:
            self._maps.append(data)


class Channel:
    """The framed socket to the worker. Sends are serialized by a lock, as
    a task's threads may print while the runner sends its result.
    """

    def __init__(self, sock: Optional[socket.socket]):
        self._sock = sock
        self._send_lock = threading.Lock()
        self._frames = FramePool()

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
        # By index: popping each part sent off the list's front made a
        # result of many buffers (numpy arrays, each a frame) quadratic.
        at = 0
        while at < len(parts):
            sent = self._sock.sendmsg(parts[at:at + _MAX_PARTS])
            while sent:
                if sent >= parts[at].nbytes:
                    sent -= parts[at].nbytes
                    at += 1
                else:
                    parts[at] = parts[at][sent:]
                    sent = 0

    def buffer(self, size: int) -> Any:
        """A writable buffer of ``size`` bytes for a frame to be read into.
        A bytearray is zeroed first and a large one comes fresh from the
        kernel one 4 KiB page fault at a time: for a 2 MB numpy input that
        was a fifth of the interpreter's time on a virtual machine. A
        large frame gets memory of its own from a FramePool instead."""
        if size < _MAPPED_FRAME:
            return bytearray(size)
        return self._frames.get(size)

    def _read_exact(self, size: int) -> Any:
        data = self.buffer(size)
        view = memoryview(data).cast("B")
        got = 0
        while got < size:
            n = self._sock.recv_into(view[got:], size - got)
            if n == 0:
                raise EOFError("the worker closed the runner's socket")
            got += n
        return data

    def read_frame(self) -> Any:
        (size,) = _LENGTH.unpack(self._read_exact(_LENGTH.size))
        return self._read_exact(size)

    def read_header(self) -> Dict[str, Any]:
        frame = self.read_frame()
        # A task's args can make its header large: then the frame is a
        # view of a mapping, which json does not take.
        return json.loads(frame if isinstance(frame, bytearray)
                          else bytes(frame))


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
            self._emit_upto(cut)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self._emit_upto(len(self._pending))

    def _emit_upto(self, cut: int) -> None:
        # At most _MAX_LINE a message: one print of 70 MB made a header
        # over the worker's limit, and the worker killed the interpreter.
        for start in range(0, cut, _MAX_LINE):
            self._emit(self._pending[start:min(cut, start + _MAX_LINE)])
        self._pending = self._pending[cut:]

    def _emit(self, text: str) -> None:
        if self.in_task:
            self._channel.send({"kind": "print", "stream": self._stream,
                                "text": valid_text(text)})
        else:
            self._fallback.write(text)
            self._fallback.flush()


class Runner:
    """Runs the tasks the worker sends, one at a time, until it hangs up."""

    def __init__(self, channel: Channel):
        self._channel = channel
        self._caller = TaskCaller()
        # Objects the worker told it to keep, by the worker's ids.
        self._kept: Dict[int, Any] = {}
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
        for key in header.get("drop", ()):
            self._kept.pop(key, None)
        code = None
        if "code" in header:
            code = self._channel.read_frame()
        described = header.get("inputs", [])
        inputs: List[Any] = []
        for entry in described:
            if "use" in entry:
                if entry["use"] not in self._kept:
                    raise RuntimeError("dagd runner: told to use object %r, "
                                       "which it does not keep" %
                                       entry["use"])
                inputs.append(Decoded(self._kept[entry["use"]]))
            else:
                inputs.append((self._channel.read_frame(),
                               entry.get("content_type", "")))
        self._stdout.in_task = self._stderr.in_task = True
        try:
            done = self._caller.run(header.get("args"), code, inputs)
        finally:
            self._stdout.flush()
            self._stderr.flush()
            self._stdout.in_task = self._stderr.in_task = False
        kept = []
        for entry, value in zip(described, done.inputs):
            if "keep" in entry:
                self._kept[entry["keep"]] = value
                kept.append(entry["keep"])
        keep = header.get("keep_result")
        if (keep and done.reply["kind"] == "result" and
                done.reply["content_type"] in _KEPT_TYPES and
                keep["min_size"] <= sum(done.reply["sizes"]) <=
                keep["max_size"] and not _pins_more(done.result)):
            self._kept[keep["id"]] = done.result
            kept.append(keep["id"])
        if kept:
            done.reply["kept"] = kept
        self._channel.send(done.reply, done.frames)


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
