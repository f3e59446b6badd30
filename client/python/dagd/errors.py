"""The exceptions of the dagd package."""

from __future__ import annotations

from typing import Any, Optional


class DagdError(Exception):
    """Base of the errors the dagd client raises."""


class PermanentError(Exception):
    """Raise it in a Python task to fail the task for good: dagd does not
    retry it whatever the task's retry policy says (bad input that another
    attempt cannot fix).

    >>> def parse(text):
    ...     if not text:
    ...         raise dagd.PermanentError("empty input")
    """


class JobFailed(DagdError):
    """A job ended FAILED or CANCELLED. ``status`` is its final
    ``dagd.v1.JobStatus``; the message names the failed tasks and errors.
    """

    def __init__(self, message: str, status: Any = None):
        super().__init__(message)
        self.status = status


class TaskFailed(DagdError):
    """A task failed for good (or never ran because an input failed).
    ``error`` is dagd's message for it: for a Python task, the exception's
    type, message and traceback.
    """

    def __init__(self, job_id: str, task_id: str, error: str,
                 state: Optional[str] = None):
        super().__init__("job %s task %s: %s" % (job_id, task_id, error))
        self.job_id = job_id
        self.task_id = task_id
        self.error = error
        self.state = state
