"""dagd from Python: submit jobs, watch them, read their results as Python
objects, and write tasks as Python functions.

>>> import dagd
>>> job = dagd.Job("squares")
>>> squares = [job.call(pow, i, 2) for i in range(4)]
>>> total = job.call(sum, squares)          # a list of tasks is one input each
>>> client = dagd.Client("127.0.0.1:7700")
>>> client.run(job)[total.id]
14

Python tasks run on workers started with ``dagd-worker --python``. The
package holds the client (``dagd.Client``, ``dagd.Job``), the payload codec
(``dagd.codec``) and the runner those workers' interpreters run
(``dagd.runner``). Importing ``dagd`` is cheap: the client and its gRPC
stubs load on first use.
"""

from dagd.errors import DagdError, JobFailed, PermanentError, TaskFailed

__all__ = ["Client", "DagdError", "Job", "JobFailed", "PermanentError",
           "Task", "TaskFailed"]

# The client pulls in gRPC, which the runner's interpreters never need.
_LAZY = {"Client": "dagd.client", "Job": "dagd.job", "Task": "dagd.job"}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError("module 'dagd' has no attribute %r" % name)
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
