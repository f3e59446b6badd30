"""client/bench/python_bench.py at toy sizes: the Python and Dask
workloads (a dask.delayed tree; TR, GEMM, SVD and compressed SVD with
dask.array) run on a dagd with two dagd-worker --python and on a Dask
LocalCluster, and each answer must equal numpy's to 1e-8 relative (the
script fails otherwise). A check that the benchmark still runs and that
dagd.dask.get computes dask.array's linear algebra right; the timings at
these sizes mean nothing.
"""

import os
import subprocess
import sys

from conftest import binary

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.environ.get("DAGD_SOURCE_DIR",
                                     os.path.join(HERE, "..", "..")),
                      "client", "bench", "python_bench.py")


def test_every_workload_runs_on_both_and_matches_numpy():
    bin_dir = os.path.dirname(binary("DAGD_BIN"))
    python_path = os.path.join(os.environ["DAGD_BUILD_DIR"], "python")
    run = subprocess.run(
        [sys.executable, SCRIPT, "--bin_dir=" + bin_dir,
         "--python_path=" + python_path, "--repeat=1", "--slots=1",
         "--tr_size=16384", "--tr_chunks=16", "--gemm_n=64",
         "--gemm_chunk=16", "--svd_rows=2000", "--svd_cols=10",
         "--svd_chunk=200", "--svdc_rows=400", "--svdc_cols=40",
         "--svdc_chunk=100"],
        capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    table = run.stdout.split("\n\n")[-1].splitlines()
    assert table[0].split() == ["work", "tasks", "dagd_s", "dask_s",
                                "dask/dagd"], run.stdout
    assert [row.split()[0] for row in table[1:]] == [
        "tree", "tr", "gemm", "svd", "svdc"], run.stdout
    for system in ("dagd", "dask"):
        for work in ("tree", "tr", "gemm", "svd", "svdc"):
            assert "%s %s median" % (system, work) in run.stdout, run.stdout
