#!/usr/bin/python3
"""dask_bench: dagbench's graph shapes on Dask distributed, for comparison.

Starts a LocalCluster on 127.0.0.1 (2 worker processes, 64 threads each, no
dashboard), builds each shape as a dask.delayed graph (outside the timed
section, as dagbench builds its JobSpec before Submit), and times from just
before client.compute() to when the result is back, the way dagbench times
Submit to Wait. Results are checked. One line per run:

    dask SHAPE tasks=N seconds=S tasks_per_s=R [shape-specific fields]

and with --repeat=N > 1 a `dask SHAPE median ...` line per shape. The
functions are the equivalents of dagd's builtins: const returns its value,
add sums its inputs plus a value, sleep waits and then sums, identity passes
its input on; for bytes and shuffle, numpy arrays stand for dagd's `bytes`
results and a sum of each array for its `checksum`.

bytes: one --bytes_size array made on the first worker and summed on the
second. shuffle: 8 producers x 8 consumers; producer i makes its 8 pieces of
--shuffle_piece_size bytes as 8 tasks (producers 0-3 on the first worker,
4-7 on the second, as dagbench puts them in pools a and b), and consumer j
sums piece j of every producer, placed by Dask. Both are checked: sizes and
sums.
"""

import argparse
import math
import statistics
import sys
import time

import dask
import numpy as np
from dask.distributed import Client, LocalCluster, wait

TREE_LEAVES = 1024
WIDE_TASKS = 10000
CHAIN_LENGTH = 1000
SYNC_JOBS = 200
SHAPES = ["tree", "tree100", "wide", "chain", "sync", "big", "bytes",
          "shuffle"]
SHUFFLE_SIDE = 8  # producers, consumers, pieces each


# The builtins' equivalents. Module-level so workers can unpickle them.
def const(value):
    return value


def add(*inputs, value=0):
    return sum(inputs) + value


def add_list(inputs):
    return sum(inputs)


def sleep_add(*inputs, ms=0):
    time.sleep(ms / 1000.0)
    return sum(inputs)


def sleep100_add(*inputs):
    return sleep_add(*inputs, ms=100)


def make_piece(seed, size):
    """size bytes of float64s all equal to seed (size a multiple of 8)."""
    return np.full(size // 8, float(seed))


def checksum(*pieces):
    """(bytes, sum) of each piece."""
    return [(piece.nbytes, float(piece.sum())) for piece in pieces]


def tree(fn):
    level = [dask.delayed(const, pure=False)(i) for i in range(TREE_LEAVES)]
    while len(level) > 1:
        level = [
            dask.delayed(fn, pure=False)(level[i], level[i + 1])
            for i in range(0, len(level), 2)
        ]
    return level[0], 2 * TREE_LEAVES - 1, 523776


def build_bytes(workers, size):
    with dask.annotate(workers=[workers[0]], allow_other_workers=False):
        made = dask.delayed(make_piece, pure=False)(1, size)
    with dask.annotate(workers=[workers[1]], allow_other_workers=False):
        took = dask.delayed(checksum, pure=False)(made)
    return took, 2, [(size, float(size // 8))]


def build_shuffle(workers, size):
    pieces = {}
    for i in range(SHUFFLE_SIDE):
        worker = workers[0] if i < SHUFFLE_SIDE // 2 else workers[1]
        with dask.annotate(workers=[worker], allow_other_workers=False):
            for j in range(SHUFFLE_SIDE):
                pieces[i, j] = dask.delayed(make_piece, pure=False)(
                    i * SHUFFLE_SIDE + j, size)
    consumers = [
        dask.delayed(checksum, pure=False)(
            *[pieces[i, j] for i in range(SHUFFLE_SIDE)])
        for j in range(SHUFFLE_SIDE)]
    want = [[(size, float(size // 8 * (i * SHUFFLE_SIDE + j)))
             for i in range(SHUFFLE_SIDE)] for j in range(SHUFFLE_SIDE)]
    return (dask.delayed(list, pure=False)(consumers),
            SHUFFLE_SIDE * SHUFFLE_SIDE + SHUFFLE_SIDE + 1, want)


def build(shape, workers=None, args=None):
    """The graph's output, its task count and the expected answer."""
    if shape == "bytes":
        return build_bytes(workers, args.bytes_size)
    if shape == "shuffle":
        return build_shuffle(workers, args.shuffle_piece_size)
    if shape == "tree":
        return tree(add)
    if shape == "tree100":
        return tree(sleep100_add)
    if shape == "wide":
        consts = [dask.delayed(const, pure=False)(1) for _ in range(WIDE_TASKS)]
        return dask.delayed(add_list, pure=False)(consts), WIDE_TASKS + 1, WIDE_TASKS
    if shape == "chain":
        node = dask.delayed(add, pure=False)(value=1)
        for _ in range(CHAIN_LENGTH - 1):
            node = dask.delayed(add, pure=False)(node, value=1)
        return node, CHAIN_LENGTH, CHAIN_LENGTH
    raise ValueError(shape)


def percentile(values, p):
    values = sorted(values)
    rank = min(max(math.ceil(p / 100.0 * len(values)), 1), len(values))
    return values[rank - 1]


def run_shape(client, shape, args):
    """Returns (tasks, seconds, extra fields) of one run."""
    if shape == "sync":
        job_ms = []
        for _ in range(SYNC_JOBS):
            start = time.perf_counter()
            result = client.submit(const, 1, pure=False).result()
            job_ms.append((time.perf_counter() - start) * 1e3)
            if result != 1:
                sys.exit(f"dask_bench: WRONG RESULT: sync got {result!r}")
        return SYNC_JOBS, sum(job_ms) / 1e3, {"job_ms": job_ms}
    workers = sorted(client.scheduler_info()["workers"])
    graph, tasks, want = build(shape, workers, args)
    start = time.perf_counter()
    # Not optimized: fusing tasks would drop the workers they are pinned to.
    future = client.compute(graph, optimize_graph=False)
    result = future.result()
    seconds = time.perf_counter() - start
    if result != want:
        sys.exit(f"dask_bench: WRONG RESULT: {shape} got {result!r}, "
                 f"expected {want!r}")
    del future
    return tasks, seconds, {}


def fields(shape, tasks, seconds, extra):
    out = f"tasks={tasks} seconds={seconds:.4f} tasks_per_s={tasks / seconds:.1f}"
    if shape == "chain":
        out += f" us_per_hop={seconds * 1e6 / tasks:.1f}"
    elif shape == "sync" and "job_ms" in extra:
        out += (f" p50_ms={percentile(extra['job_ms'], 50):.3f}"
                f" p99_ms={percentile(extra['job_ms'], 99):.3f}")
    elif shape == "sync":
        out += f" p50_ms={extra['p50']:.3f} p99_ms={extra['p99']:.3f}"
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="tree,tree100,wide,chain,sync",
                        help="comma-separated: " + ", ".join(SHAPES))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--bytes_size", type=int, default=1 << 30,
                        help="bytes: the array's size in bytes")
    parser.add_argument("--shuffle_piece_size", type=int, default=8 << 20,
                        help="shuffle: each piece's size in bytes")
    args = parser.parse_args()
    if args.bytes_size < 8 or args.bytes_size % 8 or \
            args.shuffle_piece_size < 8 or args.shuffle_piece_size % 8:
        parser.error("--bytes_size and --shuffle_piece_size must be "
                     "multiples of 8 (float64 arrays)")
    shapes = [s for s in args.shape.split(",") if s]
    for s in shapes:
        if s not in SHAPES:
            parser.error(f"unknown shape {s!r}; known: {', '.join(SHAPES)}")

    cluster = LocalCluster(n_workers=args.workers,
                           threads_per_worker=args.threads, processes=True,
                           host="127.0.0.1", dashboard_address=None,
                           protocol="tcp://")
    client = Client(cluster)
    try:
        client.wait_for_workers(args.workers)
        # One unmeasured task per worker first, as dagbench runs one job:
        # no shape pays for connection set-up or unpickling the functions.
        client.gather([client.submit(const, i, pure=False,
                                     workers=[w])
                       for i, w in enumerate(client.scheduler_info()["workers"])])
        for shape in shapes:
            if shape == "big":
                print("dask big skipped: a 1,000,000-task graph is not run "
                      "on Dask by this bench", flush=True)
                continue
            runs = []
            for _ in range(args.repeat):
                tasks, seconds, extra = run_shape(client, shape, args)
                runs.append((seconds, extra))
                print(f"dask {shape} {fields(shape, tasks, seconds, extra)}",
                      flush=True)
            if args.repeat > 1:
                med = statistics.median(s for s, _ in runs)
                extra = {}
                if shape == "sync":
                    extra = {
                        "p50": statistics.median(
                            percentile(e["job_ms"], 50) for _, e in runs),
                        "p99": statistics.median(
                            percentile(e["job_ms"], 99) for _, e in runs),
                    }
                print(f"dask {shape} median {fields(shape, tasks, med, extra)}",
                      flush=True)
    finally:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
