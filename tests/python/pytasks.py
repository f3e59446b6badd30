"""Task functions the Python tests name as "pytasks:NAME": the workers of
the tests import this module (its folder is on their PYTHONPATH)."""

import collections
import os
import sys
import time

# A namedtuple the tests pass tasks in (the workers import it from here).
Point = collections.namedtuple("Point", "x y")


def add(a, b):
    return a + b


def fail(message):
    raise ValueError(message)


def crash_once(marker):
    """Kills its interpreter (writing its pid to `marker`) on the first
    call; returns the interpreter's pid on the next."""
    if not os.path.exists(marker):
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
        os._exit(3)
    return os.getpid()


def record_pid_and_sleep(path, seconds):
    with open(path + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(path + ".tmp", path)
    time.sleep(seconds)
    return "slept"


def wait_for_file(path, value):
    """Returns `value` once `path` exists (a gate the test opens)."""
    deadline = time.monotonic() + 120
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError("no file %s" % path)
        time.sleep(0.02)
    return value


def pid():
    return os.getpid()


def ones(megabytes):
    import numpy

    return numpy.ones(megabytes * (1 << 20) // 8)


def array_summary(array):
    """Sum, size and whether the array arrived writable."""
    array[0] += 0  # raises on a read-only view
    return {"sum": float(array.sum()), "bytes": array.nbytes,
            "writable": bool(array.flags.writeable)}


def chatty(n):
    print("hello from a task", n)
    print("and a warning", file=sys.stderr)
    return n
