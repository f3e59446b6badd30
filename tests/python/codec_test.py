"""dagd.codec: what Python tasks and the client make of payloads, and the
framing of numpy arrays out of band (no copy into the pickle stream)."""

import json
import pickle

import pytest

from dagd import codec


def test_plain_values_round_trip():
    for value in [None, 1, "text", b"bytes", {"a": [1, 2.5, None]}, (1, 2)]:
        data = codec.dumps(value)
        assert data.startswith(codec.MAGIC)
        assert codec.loads(data) == value


def test_arrays_travel_out_of_band_aligned_and_come_back_writable():
    np = pytest.importorskip("numpy")
    array = np.arange(1000, dtype=np.float64)
    frames = codec.pickle_frames({"x": array, "y": array[::2].copy()})
    # Header, pickle stream, then the buffers: each array's own memory.
    assert any(isinstance(f, memoryview) and f.obj is array for f in frames)
    data = bytearray(b"".join(frames))
    stream_size = len(frames[1])
    assert stream_size < 1000  # the arrays are not in the pickle stream
    value = codec.loads(data)
    assert np.array_equal(value["x"], array)
    assert np.array_equal(value["y"], array[::2])
    assert value["x"].flags.writeable
    base = np.frombuffer(data, dtype=np.uint8).ctypes.data
    assert (value["x"].ctypes.data - base) % codec.ALIGN == 0
    # The array is a view of the payload, not a copy of it.
    value["x"][0] = 42.0
    assert codec.loads(data)["x"][0] == 42.0


def test_buffers_start_at_multiples_of_64():
    np = pytest.importorskip("numpy")
    data = codec.dumps([np.ones(3, dtype=np.int8), np.ones(5)])
    count = int.from_bytes(data[4:8], "little")
    assert count == 2
    for i in range(count):
        start = 24 + 16 * i
        offset = int.from_bytes(data[start:start + 8], "little")
        assert offset % 64 == 0


def test_decode_by_content_type():
    assert codec.decode(b'{"a": 1}', "application/json") == {"a": 1}
    assert codec.decode(b"", "application/json") is None
    assert codec.decode(pickle.dumps([1]), codec.PLAIN_PICKLE) == [1]
    assert codec.decode(codec.dumps({1}), codec.PICKLE) == {1}
    assert codec.decode(b"\x00raw", "application/octet-stream") == b"\x00raw"


def test_encode_json_and_bytes():
    assert codec.encode_bytes({"a": 1}, "json") == (b'{"a":1}',
                                                    "application/json")
    assert codec.encode_bytes(b"\x01\x02", "bytes") == (
        b"\x01\x02", "application/octet-stream")
    with pytest.raises(TypeError):
        codec.encode({1, 2}, "json")
    with pytest.raises(TypeError):
        codec.encode("text", "bytes")
    with pytest.raises(ValueError):
        codec.encode(1, "yaml")
    assert json.loads(codec.encode_bytes([1.5], "json")[0]) == [1.5]


def test_damaged_payloads_are_refused():
    with pytest.raises(ValueError, match="bad magic"):
        codec.loads(b"XXXX" + bytes(20))
    with pytest.raises(ValueError, match="shorter"):
        codec.loads(b"DPK5")
    data = bytearray(codec.dumps(1))
    data[16:24] = (1 << 40).to_bytes(8, "little")  # pickle size
    with pytest.raises(ValueError, match="past the payload"):
        codec.loads(data)
