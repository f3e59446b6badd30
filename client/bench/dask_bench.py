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
its input on.
"""

import argparse
import math
import statistics
import sys
import time

import dask
from dask.distributed import Client, LocalCluster, wait

TREE_LEAVES = 1024
WIDE_TASKS = 10000
CHAIN_LENGTH = 1000
SYNC_JOBS = 200
SHAPES = ["tree", "tree100", "wide", "chain", "sync", "big"]


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


def tree(fn):
    level = [dask.delayed(const, pure=False)(i) for i in range(TREE_LEAVES)]
    while len(level) > 1:
        level = [
            dask.delayed(fn, pure=False)(level[i], level[i + 1])
            for i in range(0, len(level), 2)
        ]
    return level[0], 2 * TREE_LEAVES - 1, 523776


def build(shape):
    """The graph's output, its task count and the expected answer."""
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


def run_shape(client, shape):
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
    graph, tasks, want = build(shape)
    start = time.perf_counter()
    future = client.compute(graph)
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
    args = parser.parse_args()
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
                tasks, seconds, extra = run_shape(client, shape)
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
