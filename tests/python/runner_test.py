"""dagd.runner's channel to the worker: frames read back byte for byte,
and a large one (a numpy input) lands in memory mapped for it in whole
transparent huge pages, not in a zero-filled bytearray, reused for the
next frame once nothing views it."""

import ctypes
import socket
import threading

import pytest

from dagd import codec
from dagd.runner import Channel, FramePool, _pins_more

MIB = 1 << 20


def vm_flags(address):
    """The VmFlags of the mapping of this process that holds `address`."""
    with open("/proc/self/smaps") as f:
        lines = f.read().splitlines()
    inside = False
    for line in lines:
        head = line.split()[0]
        if "-" in head and ":" not in head:
            start, end = (int(x, 16) for x in head.split("-"))
            inside = start <= address < end
        elif inside and line.startswith("VmFlags:"):
            return line.split()[1:]
    raise AssertionError("no mapping holds %#x" % address)


def address_of(buffer):
    return ctypes.addressof(ctypes.c_char.from_buffer(buffer))


def send_frames(sock, frames):
    channel = Channel(sock)
    sender = threading.Thread(target=channel.send,
                              args=({"kind": "test"}, frames))
    sender.start()
    return sender


def test_small_and_large_frames_read_back_exactly():
    left, right = socket.socketpair()
    small = bytes(range(256)) * 4
    large = bytes(range(251)) * (3 * MIB // 251 + 7)  # not a multiple of 2 MiB
    sender = send_frames(left, [small, b"", large])
    channel = Channel(right)
    assert channel.read_header() == {"kind": "test"}
    got_small, got_empty, got_large = (channel.read_frame() for _ in range(3))
    sender.join()
    assert bytes(got_small) == small
    assert bytes(got_empty) == b""
    assert len(got_large) == len(large)
    assert bytes(got_large) == large
    left.close()
    right.close()


def test_a_header_larger_than_a_mapped_frame_reads_back():
    left, right = socket.socketpair()
    args = {"args": ["x" * (2 * MIB)], "function": "m:f"}
    channel = Channel(left)
    sender = threading.Thread(target=channel.send,
                              args=({"kind": "task", "args": args},))
    sender.start()
    header = Channel(right).read_header()
    sender.join()
    assert header == {"kind": "task", "args": args}
    left.close()
    right.close()


def test_a_large_frame_is_mapped_in_whole_huge_pages_and_writable():
    size = 2 * MIB + 123
    buffer = Channel(None).buffer(size)
    assert len(buffer) == size
    assert not buffer.readonly
    # The view is of a private mapping advised as huge pages ("hg"),
    # starting on a 2 MiB boundary, never a bytearray.
    mapping = buffer.obj
    assert not isinstance(mapping, bytearray)
    assert address_of(buffer) % (2 * MIB) == 0  # on a huge page's start
    assert len(mapping) == 6 * MIB  # 2 pages, and one to align within
    flags = vm_flags(address_of(buffer))
    assert "hg" in flags, flags
    assert "sh" not in flags, flags  # private: huge pages need it
    small = Channel(None).buffer(MIB - 1)
    assert isinstance(small, bytearray) and len(small) == MIB - 1


def test_a_numpy_input_read_from_a_frame_is_a_writable_view_of_it():
    np = pytest.importorskip("numpy")
    array = np.arange(500 * 500, dtype=np.float64).reshape(500, 500)
    left, right = socket.socketpair()
    sender = send_frames(left, [codec.dumps(array)])  # one 2 MB input
    channel = Channel(right)
    channel.read_header()
    frame = channel.read_frame()
    sender.join()
    value = codec.loads(frame)
    assert np.array_equal(value, array)
    assert value.flags.writeable
    value[0, 0] = -1.0  # writes the frame's own memory: it was not copied
    assert codec.loads(frame)[0, 0] == -1.0
    left.close()
    right.close()


def test_a_frame_mapping_is_reused_once_nothing_views_it():
    np = pytest.importorskip("numpy")
    pool = FramePool()
    first = pool.get(3 * MIB)
    where = address_of(first)
    del first
    again = pool.get(3 * MIB)
    assert address_of(again) == where  # nothing viewed it: reused
    other = pool.get(3 * MIB)
    assert address_of(other) != where  # `again` still views it
    array = np.frombuffer(again, dtype=np.uint8)
    del again
    assert address_of(pool.get(3 * MIB)) not in (where, address_of(other))
    del array  # the last view of the first mapping
    assert address_of(pool.get(3 * MIB)) == where
    assert address_of(pool.get(5 * MIB)) != where  # other sizes: others


def test_a_frame_pool_keeps_no_more_than_its_bound():
    pool = FramePool(max_bytes=14 * MIB)
    views = [pool.get(3 * MIB) for _ in range(3)]  # 6 MiB mappings, in use
    assert pool.bytes() == 12 * MIB  # the third is not kept
    del views
    pool.get(9 * MIB)  # 10 MiB: the free 6 MiB ones make room
    assert pool.bytes() <= 14 * MIB
    assert len(pool.get(3 * MIB)) == 3 * MIB


def test_a_view_of_a_much_larger_array_is_not_kept():
    np = pytest.importorskip("numpy")
    big = np.zeros(1 << 20)
    assert _pins_more(big[:1000])  # would keep 8 MiB for 8 KB
    assert not _pins_more(big)
    assert not _pins_more(big[: (1 << 20) - 10])  # nearly all of it
    assert not _pins_more(b"x" * 100)


class _Touchy:
    """A result whose attributes raise what the task's code may raise."""

    def __getattr__(self, name):
        raise KeyError(name)


def test_a_result_whose_attributes_raise_is_not_kept_and_does_not_raise():
    # The check ran after the task succeeded, outside any handler: its
    # KeyError killed the interpreter, and the task failed every retry.
    assert _pins_more(_Touchy())
