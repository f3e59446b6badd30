"""How Python values become dagd payloads (bytes and a content type) and back.

dagd stores a task's output as bytes with a content type. Python tasks and
the Python client agree on these:

``application/x-dagd-pickle`` (what Python tasks return by default)
    A pickle of protocol 5 whose out-of-band buffers (numpy arrays and
    anything else exposing ``PickleBuffer``) follow it in the same payload,
    each at an offset that is a multiple of 64, so that an array travels as its
    own bytes, is never copied into the pickle stream, and is rebuilt as a
    view of the payload. Layout, integers little-endian::

        b"DPK5" | u32 count | u64 pickle_offset | u64 pickle_size
                | count * (u64 offset | u64 size) | ... pickle | buffers

``application/x-python-pickle``
    A plain pickle (any protocol), for producers that are not dagd.

``application/json``
    JSON text; what dagd's builtins speak, and what a Python task returns
    when its args say ``"output": "json"``.

Anything else decodes to ``bytes``.

Unpickling runs code chosen by whoever made the pickle: decode only
payloads of jobs you trust (see README "Python and Dask").
"""

from __future__ import annotations

import io
import json
import pickle
import struct
from typing import Any, List, Sequence, Tuple, Union

PICKLE = "application/x-dagd-pickle"
PLAIN_PICKLE = "application/x-python-pickle"
JSON = "application/json"
OCTET_STREAM = "application/octet-stream"

MAGIC = b"DPK5"
ALIGN = 64
_HEAD = struct.Struct("<4sIQQ")
_SPAN = struct.Struct("<QQ")

Buffer = Union[bytes, bytearray, memoryview]


def _pad(offset: int) -> int:
    return -offset % ALIGN


def pickle_frames(value: Any) -> List[Buffer]:
    """Pickles ``value`` as the parts of an ``application/x-dagd-pickle``
    payload, in order: their concatenation is the payload. The out-of-band
    buffers are views of ``value``'s own memory, not copies, so a caller
    that writes the parts out one by one (``socket.sendmsg``) never copies
    an array in user space.
    """
    buffers: List[pickle.PickleBuffer] = []
    stream = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    views = []
    for buffer in buffers:
        try:
            views.append(buffer.raw())
        except BufferError:  # not contiguous: pickle copies it
            views.append(memoryview(bytes(buffer)))
    pickle_offset = _HEAD.size + _SPAN.size * len(views)
    offset = pickle_offset
    spans = []
    offset += len(stream)
    for view in views:
        offset += _pad(offset)
        spans.append((offset, view.nbytes))
        offset += view.nbytes
    head = bytearray(_HEAD.pack(MAGIC, len(views), pickle_offset, len(stream)))
    for span in spans:
        head += _SPAN.pack(*span)
    frames: List[Buffer] = [bytes(head), stream]
    end = pickle_offset + len(stream)
    for (start, size), view in zip(spans, views):
        if start > end:
            frames.append(bytes(start - end))
        frames.append(view)
        end = start + size
    return frames


def dumps(value: Any) -> bytes:
    """``value`` as one ``application/x-dagd-pickle`` payload."""
    return b"".join(pickle_frames(value))


def loads(data: Buffer) -> Any:
    """The value of an ``application/x-dagd-pickle`` payload. Arrays come
    back as views of ``data``: pass a ``bytearray`` for writable ones.
    """
    view = memoryview(data)
    if view.nbytes < _HEAD.size:
        raise ValueError("not a dagd pickle: shorter than its header")
    magic, count, pickle_offset, pickle_size = _HEAD.unpack_from(view, 0)
    if magic != MAGIC:
        raise ValueError("not a dagd pickle: bad magic %r" % bytes(magic))
    buffers = []
    for i in range(count):
        start, size = _SPAN.unpack_from(view, _HEAD.size + i * _SPAN.size)
        if start + size > view.nbytes:
            raise ValueError("dagd pickle: buffer %d ends past the payload" % i)
        buffers.append(view[start:start + size])
    if pickle_offset + pickle_size > view.nbytes:
        raise ValueError("dagd pickle: the pickle ends past the payload")
    stream = view[pickle_offset:pickle_offset + pickle_size]
    return pickle.loads(stream, buffers=buffers)


def decode(data: Buffer, content_type: str) -> Any:
    """A payload as the Python value a task or the client sees: unpickled,
    parsed JSON, or ``bytes`` for any other content type.
    """
    if content_type == PICKLE:
        return loads(data)
    if content_type == PLAIN_PICKLE:
        return pickle.loads(data)
    if content_type == JSON:
        return json.loads(bytes(data)) if len(data) else None
    return bytes(data)


def encode(value: Any, output: str = "pickle") -> Tuple[Sequence[Buffer], str]:
    """``value`` as payload parts (to concatenate) and a content type.
    ``output`` is ``"pickle"`` (any value), ``"json"`` (JSON-serializable
    values) or ``"bytes"`` (a bytes-like value, sent as it is).
    """
    if output == "pickle":
        return pickle_frames(value), PICKLE
    if output == "json":
        text = json.dumps(value, separators=(",", ":"), allow_nan=False)
        return [text.encode()], JSON
    if output == "bytes":
        if isinstance(value, str):
            raise TypeError("output 'bytes' needs a bytes-like result, got str")
        return [memoryview(value).cast("B")], OCTET_STREAM
    raise ValueError("output must be 'pickle', 'json' or 'bytes', got %r" %
                     (output,))


def encode_bytes(value: Any, output: str = "pickle") -> Tuple[bytes, str]:
    """Like ``encode``, joined into one ``bytes``."""
    parts, content_type = encode(value, output)
    joined = io.BytesIO()
    for part in parts:
        joined.write(part)
    return joined.getvalue(), content_type
