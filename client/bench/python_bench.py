#!/usr/bin/python3
"""python_bench: Python and Dask workloads on dagd and on Dask distributed,
side by side in one run.

Starts a dagd (BIN_DIR/dagd, no local workers) with 2 dagd-worker --python
processes of --slots slots each (serving held results on 127.0.0.1 data
ports), and a Dask LocalCluster of 2 processes of --slots threads each (no
dashboard), all on 127.0.0.1. Each workload is one Dask collection, built
once and computed on both: on dagd with dagd.dask.Scheduler(...).get, on
Dask with the distributed client. Both systems stay up for the whole run.
A first run of each on each system warms the interpreters (imports) and is
not counted; then --repeat timed runs on each, from the compute call to the
result in hand, the two systems taking turns (dagd, Dask, then Dask, dagd,
...), and the median.

Workloads (Wukong's, at sizes for a small machine; flags change them):
  tree   1,024 tiny Python tasks summed pairwise by 1,023 more (2,047),
         dask.delayed
  tr     the sum of a chunked random array by tree reduction
         (--tr_size floats in --tr_chunks chunks, split_every=2)
  gemm   dask.array matmul of two --gemm_n square matrices in
         --gemm_chunk chunks
  svd    da.linalg.svd of a tall-skinny --svd_rows x --svd_cols matrix
         (chunks of --svd_chunk rows)
  svdc   da.linalg.svd_compressed, rank 5, of a --svdc_rows x --svdc_cols
         matrix of rank 5 (chunks of --svdc_chunk rows) (a product of random factors, so that the rank-5
         answer is exact)

Every answer is checked against numpy's on the same data (the collection
computed locally with the synchronous scheduler, outside the timing):
relative error at most 1e-8 (sums; matrix entries by the largest; singular
values by the largest), else the script fails. One line per run and a
median line per workload:

    dagd|dask WORKLOAD [median] tasks=N seconds=S rel_error=E

then a table with the ratio dask/dagd.

    /usr/bin/python3 client/bench/python_bench.py --bin_dir=build/bin \\
        --python_path=build/python [--repeat=3] [--workloads=tree,tr]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

MAX_REL_ERROR = 1e-8


def add(a, b):
    return a + b


def leaf(i):
    return i + 1


def build_tree(_args):
    import dask

    level = [dask.delayed(leaf, pure=True)(i) for i in range(1024)]
    while len(level) > 1:
        level = [dask.delayed(add, pure=True)(level[i], level[i + 1])
                 for i in range(0, len(level), 2)]
    return level[0], lambda: float(sum(i + 1 for i in range(1024)))


def build_tr(args):
    import dask.array as da

    x = da.random.RandomState(1).random_sample(
        args.tr_size, chunks=args.tr_size // args.tr_chunks)
    return x.sum(split_every=2), lambda: _local(x).sum()


def build_gemm(args):
    import dask.array as da

    shape, chunks = (args.gemm_n, args.gemm_n), args.gemm_chunk
    rs = da.random.RandomState(2)
    a = rs.random_sample(shape, chunks=chunks)
    b = rs.random_sample(shape, chunks=chunks)
    return a @ b, lambda: _local(a) @ _local(b)


def build_svd(args):
    import dask.array as da
    import numpy

    x = da.random.RandomState(3).random_sample(
        (args.svd_rows, args.svd_cols), chunks=(args.svd_chunk, args.svd_cols))
    _, s, _ = da.linalg.svd(x)
    return s, lambda: numpy.linalg.svd(_local(x), compute_uv=False)


def build_svdc(args):
    import dask.array as da
    import numpy

    rs = da.random.RandomState(4)
    left = rs.random_sample((args.svdc_rows, 5), chunks=(args.svdc_chunk, 5))
    right = rs.random_sample((5, args.svdc_cols), chunks=(5, args.svdc_cols))
    _, s, _ = da.linalg.svd_compressed(left @ right, k=5, n_power_iter=2,
                                       seed=5)

    def reference():
        # left @ right = Q1 (R1 R2^T) Q2^T with orthonormal Q1, Q2: the
        # singular values are those of the 5 x 5 R1 R2^T (numpy's full SVD
        # of the product would take minutes here).
        r1 = numpy.linalg.qr(_local(left), mode="r")
        r2 = numpy.linalg.qr(_local(right).T, mode="r")
        return numpy.linalg.svd(r1 @ r2.T, compute_uv=False)

    return s, reference


WORKLOADS = {"tree": build_tree, "tr": build_tr, "gemm": build_gemm,
             "svd": build_svd, "svdc": build_svdc}


def _local(collection):
    return collection.compute(scheduler="synchronous")


def rel_error(got, want):
    import numpy

    got, want = numpy.asarray(got, dtype=float), numpy.asarray(want,
                                                                 dtype=float)
    if got.shape != want.shape:
        return float("inf")
    scale = float(numpy.max(numpy.abs(want))) or 1.0
    return float(numpy.max(numpy.abs(got - want))) / scale


def task_count(collection):
    return len(collection.__dask_graph__())


class Dagd:
    """dagd and its two --python workers, stopped by stop()."""

    def __init__(self, bin_dir, python_path, slots, tmp, worker_flags=(),
                 dagd_flags=()):
        self.procs = []
        env = dict(os.environ, PYTHONPATH=python_path)
        port_file = os.path.join(tmp, "dagd.port")
        self._start([os.path.join(bin_dir, "dagd"), "--listen=127.0.0.1:0",
                     "--port_file=" + port_file, "--local_workers=0",
                     "--data_dir=" + os.path.join(tmp, "data"),
                     "--metrics_listen=", *dagd_flags], env, tmp, "dagd")
        deadline = time.monotonic() + 30
        while not (os.path.exists(port_file) and open(port_file).read()):
            if time.monotonic() > deadline or self.procs[0].poll() is not None:
                raise SystemExit("python_bench: dagd did not start; see " +
                                 os.path.join(tmp, "dagd.log"))
            time.sleep(0.05)
        self.address = "127.0.0.1:" + open(port_file).read().strip()
        for n in (1, 2):
            self._start([os.path.join(bin_dir, "dagd-worker"),
                         "--coordinator=" + self.address,
                         "--name=py-%d" % n, "--python",
                         "--slots=%d" % slots, "--data_listen=127.0.0.1:0",
                         "--drain_timeout=0s", *worker_flags], env, tmp,
                        "worker-%d" % n)
        import dagd
        from dagd.v1 import job_service_pb2

        with dagd.Client(self.address) as client:
            while True:
                workers = client._stub.ListWorkers(
                    job_service_pb2.ListWorkersRequest(), timeout=10).workers
                if sum("python" in w.runtimes for w in workers) == 2:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("python_bench: the workers did not "
                                     "register; see " + tmp)
                time.sleep(0.05)
        import dagd.dask

        self.get = dagd.dask.Scheduler(self.address).get

    def _start(self, argv, env, tmp, name):
        with open(os.path.join(tmp, name + ".log"), "wb") as log:
            self.procs.append(subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL))

    def compute(self, collection):
        import dask

        return dask.compute(collection, scheduler=self.get)[0]

    def stop(self):
        for proc in reversed(self.procs):
            proc.terminate()
            proc.wait()


class Dask:
    def __init__(self, slots):
        from distributed import Client, LocalCluster

        self.cluster = LocalCluster(
            n_workers=2, threads_per_worker=slots, processes=True,
            host="127.0.0.1", dashboard_address=None)
        self.client = Client(self.cluster)

    def compute(self, collection):
        future = self.client.compute(collection)
        value = future.result()
        del future
        return value

    def forget(self):
        """Waits until the cluster has dropped every key: a result still
        held from the run before would make the next one free."""
        def tasks(dask_scheduler):
            return len(dask_scheduler.tasks)

        while self.client.run_on_scheduler(tasks):
            time.sleep(0.01)

    def stop(self):
        self.client.close()
        self.cluster.close()


def run_once(system, name, collection, want, times, errors):
    getattr(system, "forget", lambda: None)()
    start = time.perf_counter()
    got = system.compute(collection)
    seconds = time.perf_counter() - start
    kind = type(system).__name__.lower()
    times[kind].append(seconds)
    errors[kind] = max(errors.get(kind, 0.0), rel_error(got, want))
    print("%s %s tasks=%d seconds=%.4f rel_error=%.2e" % (
        kind, name, task_count(collection), seconds, errors[kind]),
        flush=True)


def measure(systems, name, collection, want, repeat):
    """Times `collection` on every system, their runs interleaved (a, b,
    then b, a, ...): this machine's speed drifts by tens of percent over
    minutes, and a block of runs on one system, then one on the other,
    put that drift into the ratio. Returns the median seconds by system."""
    for system in systems:
        system.compute(collection)  # warm-up: imports, first connections
    times = {type(system).__name__.lower(): [] for system in systems}
    errors = {}
    for i in range(repeat):
        for system in (systems if i % 2 == 0 else systems[::-1]):
            run_once(system, name, collection, want, times, errors)
    medians = {}
    for kind, seconds in times.items():
        if errors[kind] > MAX_REL_ERROR:
            raise SystemExit("python_bench: %s %s is off by %.2e relative "
                             "(more than %g)" % (kind, name, errors[kind],
                                                 MAX_REL_ERROR))
        medians[kind] = statistics.median(seconds)
        print("%s %s median tasks=%d seconds=%.4f rel_error=%.2e" % (
            kind, name, task_count(collection), medians[kind],
            errors[kind]), flush=True)
    return medians


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin_dir", default="build/bin")
    parser.add_argument("--python_path", default="build/python",
                        help="where the dagd package is, for the workers")
    parser.add_argument("--workloads", default="tree,tr,gemm,svd,svdc")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--slots", type=int, default=2,
                        help="slots per dagd worker, threads per Dask worker")
    parser.add_argument("--dagd_flags", default="",
                        help="more dagd flags, space-separated "
                        "(e.g. '--grant_queued=0')")
    parser.add_argument("--worker_flags", default="",
                        help="more dagd-worker flags, space-separated "
                        "(e.g. '--python_keep_bytes=0')")
    parser.add_argument("--tr_size", type=int, default=1 << 24)
    parser.add_argument("--tr_chunks", type=int, default=1024)
    parser.add_argument("--gemm_n", type=int, default=2000)
    parser.add_argument("--gemm_chunk", type=int, default=500)
    parser.add_argument("--svd_rows", type=int, default=200_000)
    parser.add_argument("--svd_cols", type=int, default=100)
    parser.add_argument("--svd_chunk", type=int, default=10_000)
    parser.add_argument("--svdc_rows", type=int, default=20_000)
    parser.add_argument("--svdc_cols", type=int, default=2_000)
    parser.add_argument("--svdc_chunk", type=int, default=2_000)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    names = [w for w in args.workloads.split(",") if w]
    for name in names:
        if name not in WORKLOADS:
            parser.error("unknown workload %r; known: %s" % (
                name, ", ".join(WORKLOADS)))
    sys.path.insert(0, os.path.abspath(args.python_path))
    # The workers unpickle this module's functions by name.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [os.path.abspath(args.python_path),
         os.path.dirname(os.path.abspath(__file__))])
    import python_bench  # noqa: F401  (pickles name python_bench.add)

    built = {}
    for name in names:
        collection, reference = python_bench.WORKLOADS[name](args)
        built[name] = (collection, reference())
    results = {}
    with tempfile.TemporaryDirectory(prefix="python-bench.") as tmp:
        systems = []
        try:
            systems.append(Dagd(os.path.abspath(args.bin_dir),
                                os.environ["PYTHONPATH"], args.slots, tmp,
                                args.worker_flags.split(),
                                args.dagd_flags.split()))
            systems.append(Dask(args.slots))
            for name in names:
                for kind, median in measure(systems, name, *built[name],
                                            args.repeat).items():
                    results[(kind, name)] = median
        finally:
            for system in reversed(systems):
                system.stop()
    print()
    print("%-6s %7s %10s %10s %10s" % ("work", "tasks", "dagd_s", "dask_s",
                                        "dask/dagd"))
    for name in names:
        d, k = results[("dagd", name)], results[("dask", name)]
        print("%-6s %7d %10.4f %10.4f %10.2f" % (
            name, task_count(built[name][0]), d, k, k / d))


if __name__ == "__main__":
    main()
