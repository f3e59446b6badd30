"""``dagd.Client``: submit jobs to a dagd coordinator, wait for them, watch
them, cancel them, and read their results as Python objects.

>>> client = dagd.Client("127.0.0.1:7700")
>>> job_id = client.submit({"tasks": [{"id": "a", "fn": "const",
...                                    "args": {"value": 41}}]})
>>> client.wait(job_id).state == dagd.v1.types_pb2.JOB_SUCCEEDED
True
>>> client.result(job_id, "a")
41

Like the C++ client, ``wait`` and ``watch`` ride through a restart of the
coordinator: when it cannot be reached they try again, pausing 0.1 s
doubling to 2 s, for up to ``reconnect_timeout`` seconds per outage, and go
on from the job's current state (dagd keeps every acknowledged job).
"""

from __future__ import annotations

import collections
import os
import time
import uuid
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import grpc
from google.protobuf import json_format

from dagd import codec
from dagd.errors import DagdError, JobFailed, TaskFailed
from dagd.job import Job, Task
from dagd.v1 import job_service_pb2 as pb
from dagd.v1 import job_service_pb2_grpc
from dagd.v1 import types_pb2

DEFAULT_ADDRESS = "127.0.0.1:7700"
INITIAL_RETRY_PAUSE = 0.1
MAX_RETRY_PAUSE = 2.0

JobLike = Union[Job, types_pb2.JobSpec, Dict[str, Any]]


class RpcError(DagdError):
    """A call dagd refused or that failed: ``code`` is the gRPC status code
    (``grpc.StatusCode``), ``details`` dagd's message (an INVALID_ARGUMENT
    names the task and the problem)."""

    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__("%s: %s" % (code.name, details))
        self.code = code
        self.details = details


def _rpc_error(error: grpc.RpcError) -> RpcError:
    return RpcError(error.code(), error.details() or "")


def to_spec(job: JobLike) -> types_pb2.JobSpec:
    """A job as a ``dagd.v1.JobSpec``: a ``Job``, a JobSpec, or a dict in
    the JSON form of a job file (README "The job file")."""
    if isinstance(job, Job):
        return job.spec()
    if isinstance(job, types_pb2.JobSpec):
        return job
    if isinstance(job, dict):
        return json_format.ParseDict(job, types_pb2.JobSpec())
    raise TypeError("a job is a dagd.Job, a dagd.v1.JobSpec or a dict, not %s"
                    % type(job).__name__)


def _sinks(spec: types_pb2.JobSpec) -> List[str]:
    """The job's outputs as dagd keeps them: the tasks no task takes as an
    input (``after`` passes no output), and those marked ``output``."""
    used = set()
    for task in spec.tasks:
        used.update(task.inputs)
    return [task.id for task in spec.tasks
            if task.id not in used or task.output]


def describe_failure(status: types_pb2.JobStatus) -> str:
    state = types_pb2.JobState.Name(status.state).replace("JOB_", "")
    text = "job %s %s" % (status.job_id, state)
    if status.error:
        text += ": " + status.error
    for note in status.failures:
        text += "\n  task %s: %s" % (note.task_id, note.text)
    return text


def _read_pem(path: str, flag: str) -> bytes:
    try:
        with open(path, "rb") as f:
            pem = f.read()
    except OSError as error:
        raise DagdError("%s: cannot read %s: %s" % (flag, path,
                                                    error.strerror)) from None
    if b"-----BEGIN " not in pem:
        raise DagdError("%s: %s holds no PEM block" % (flag, path))
    return pem


def _channel_credentials(tls_ca: Optional[str], tls_cert: Optional[str],
                         tls_key: Optional[str]
                         ) -> Optional[grpc.ChannelCredentials]:
    """TLS credentials from PEM files, or None (no TLS) without tls_ca."""
    if (tls_cert is None) != (tls_key is None):
        raise ValueError("tls_cert and tls_key go together: a client "
                         "certificate needs its private key")
    if tls_ca is None:
        if tls_cert is not None:
            raise ValueError("tls_cert needs tls_ca: a client certificate "
                             "is presented over TLS")
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=_read_pem(tls_ca, "tls_ca"),
        private_key=None if tls_key is None else _read_pem(tls_key, "tls_key"),
        certificate_chain=None if tls_cert is None else _read_pem(
            tls_cert, "tls_cert"))


class _CallDetails(collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials",
                         "wait_for_ready", "compression")),
                   grpc.ClientCallDetails):
    pass


class _Token(grpc.UnaryUnaryClientInterceptor,
             grpc.UnaryStreamClientInterceptor):
    """Adds ``authorization: Bearer TOKEN`` to every call."""

    def __init__(self, token: str):
        self._metadata = ("authorization", "Bearer " + token)

    def _with_token(self, details: grpc.ClientCallDetails) -> Any:
        return _CallDetails(details.method, details.timeout,
                            list(details.metadata or ()) + [self._metadata],
                            details.credentials, details.wait_for_ready,
                            details.compression)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._with_token(details), request)


class _Outage:
    """One call's loss of the coordinator: paces retries and says when the
    call has tried long enough."""

    def __init__(self, budget: float):
        self._budget = budget
        self._since: Optional[float] = None
        self._pause = INITIAL_RETRY_PAUSE
        # The last loss of the outage under way, if any.
        self.cause: Optional[grpc.RpcError] = None
        # Every loss of the outage was RESOURCE_EXHAUSTED: dagd refused.
        self._only_refused = False

    def reached(self) -> None:
        """Ends an outage; the pauses start over."""
        self._since = None
        self._pause = INITIAL_RETRY_PAUSE
        self.cause = None

    def lost(self, cause: grpc.RpcError) -> None:
        """Records a loss; raises once the outage has lasted its budget."""
        now = time.monotonic()
        if self._since is None:
            self._since = now
        refused = cause.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        self._only_refused = refused and (self.cause is None
                                          or self._only_refused)
        self.cause = cause
        if now - self._since >= self._budget:
            said = cause.details() or cause.code().name
            if self._only_refused:
                # dagd answered, and refused each time: nothing was lost.
                raise DagdError(
                    "dagd refused again and again for %.1f s "
                    "(reconnect_timeout): %s" % (now - self._since, said))
            raise DagdError(
                "dagd could not be reached for %.1f s (reconnect_timeout): %s"
                % (now - self._since, said))
        time.sleep(min(self._pause, self._since + self._budget - now))
        self._pause = min(self._pause * 2, MAX_RETRY_PAUSE)


class Client:
    """A connection to one dagd coordinator. Thread-safe.

    ``address`` is ``host:port`` (default: ``$DAGD_SERVER``, else
    127.0.0.1:7700). ``call_timeout`` bounds each unary call, waiting for a
    coordinator that cannot be reached yet; ``reconnect_timeout`` is how
    long ``wait`` and ``watch`` keep trying to reach a lost coordinator.

    A dagd with ``--tokens_file`` wants a ``token`` (default:
    ``$DAGD_TOKEN``, unless ``tls_cert`` is given), sent with every call as
    ``authorization: Bearer``.
    ``tls_ca`` (a PEM file of CA certificates) speaks TLS to a dagd with
    ``--tls_cert``, trusting those CAs; ``tls_cert`` and ``tls_key`` (PEM
    files) then present a client certificate, an identity of its own where
    dagd's tokens file names it (``cert:COMMON-NAME``). As dagctl's
    ``--token``, ``--tls_ca``, ``--tls_cert`` and ``--tls_key``.
    """

    def __init__(self, address: Optional[str] = None, *,
                 call_timeout: Optional[float] = 30.0,
                 reconnect_timeout: float = 60.0,
                 token: Optional[str] = None,
                 tls_ca: Optional[str] = None,
                 tls_cert: Optional[str] = None,
                 tls_key: Optional[str] = None):
        self.address = address or os.environ.get("DAGD_SERVER",
                                                 DEFAULT_ADDRESS)
        self.call_timeout = call_timeout
        self.reconnect_timeout = reconnect_timeout
        if token is None:
            # A client certificate is an identity of its own: a token, sent
            # with it, would be what counts.
            token = "" if tls_cert is not None else os.environ.get(
                "DAGD_TOKEN", "")
        for position, char in enumerate(token):
            if not " " <= char <= "~":
                raise ValueError(
                    "token: %r at position %d cannot be sent in a header "
                    "(printable ASCII only; %s)" % (
                        char, position,
                        "a line break read with the token?"
                        if char in "\r\n" else "not a token dagd made?"))
        options = [("grpc.max_receive_message_length", -1),
                   ("grpc.max_send_message_length", -1),
                   # A dagd whose host vanished without closing the
                   # connection is noticed in about 40 s, not TCP's 15
                   # minutes (storage/flow_control.h).
                   ("grpc.keepalive_time_ms", 30000),
                   ("grpc.keepalive_timeout_ms", 10000),
                   ("grpc.http2.max_pings_without_data", 0)]
        credentials = _channel_credentials(tls_ca, tls_cert, tls_key)
        if credentials is None:
            self._channel = grpc.insecure_channel(self.address,
                                                  options=options)
        else:
            self._channel = grpc.secure_channel(self.address, credentials,
                                                options=options)
        calls = self._channel
        if token:
            # Per call, over TLS or not, as dagctl sends it: gRPC's own
            # call credentials refuse a channel without TLS.
            calls = grpc.intercept_channel(self._channel, _Token(token))
        self._stub = job_service_pb2_grpc.JobServiceStub(calls)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _unary(self, method: Any, request: Any) -> Any:
        try:
            return method(request, timeout=self.call_timeout,
                          wait_for_ready=True)
        except grpc.RpcError as error:
            raise _rpc_error(error) from None

    def submit(self, job: JobLike, *, request_id: Optional[str] = None) -> str:
        """Submits ``job`` and returns its id. With ``request_id``, a second
        submission with the same id returns the first one's job, and a
        submission that loses the coordinator, or waits ``call_timeout``
        for one it cannot reach, is sent again until one is answered, for
        up to ``reconnect_timeout`` after the first was lost. Giving up
        raises ``DagdError``: the job may exist, and submitting again with
        the same ``request_id`` finds it."""
        request = pb.SubmitJobRequest(job=to_spec(job),
                                      request_id=request_id or "")
        if not request_id:
            return self._unary(self._stub.SubmitJob, request).job_id
        # With an id, a submission whose answer was lost is sent again, as
        # the C++ client does: dagd returns the job the first one created.
        outage = _Outage(self.reconnect_timeout)
        while True:
            try:
                return self._stub.SubmitJob(request, timeout=self.call_timeout,
                                            wait_for_ready=True).job_id
            except grpc.RpcError as error:
                # A try that waited for an unreachable dagd ends at its
                # deadline, a loss all the same; one that reached a slow
                # dagd is its answer.
                if not (error.code() == grpc.StatusCode.UNAVAILABLE or
                        (error.code() == grpc.StatusCode.DEADLINE_EXCEEDED and
                         not self._connected())):
                    raise _rpc_error(error) from None
                try:
                    outage.lost(error)
                except DagdError as lost:
                    raise DagdError(
                        "%s; the job may exist: submit again with "
                        "request_id=%r to find it" % (lost, request_id)
                    ) from None

    def _connected(self) -> bool:
        """Whether the channel is connected now, without waiting."""
        ready = grpc.channel_ready_future(self._channel)
        try:
            ready.result(timeout=0)
            return True
        except grpc.FutureTimeoutError:
            return False
        finally:
            ready.cancel()

    def status(self, job_id: str) -> types_pb2.JobStatus:
        """The job's current ``dagd.v1.JobStatus``."""
        return self._unary(self._stub.GetJob, pb.GetJobRequest(job_id=job_id))

    def tasks(self, job_id: str) -> List[types_pb2.TaskStatus]:
        """Every task's ``dagd.v1.TaskStatus``, in submission order, read
        10,000 a call (of a running job, later pages are read later)."""
        tasks: List[types_pb2.TaskStatus] = []
        token = ""
        while True:
            page = self._unary(self._stub.ListTasks, pb.ListTasksRequest(
                job_id=job_id, page_size=10000, page_token=token))
            tasks.extend(page.tasks)
            token = page.next_page_token
            if not token:
                return tasks

    def task(self, job_id: str, task_id: str) -> types_pb2.TaskStatus:
        return self._unary(self._stub.GetTask,
                           pb.GetTaskRequest(job_id=job_id, task_id=task_id))

    def cancel(self, job_id: str) -> bool:
        """Cancels the job; False when it had already finished."""
        return self._unary(self._stub.CancelJob,
                           pb.CancelJobRequest(job_id=job_id)).cancelled

    def watch(self, job_id: str, *, end_only: bool = False,
              timeout: Optional[float] = None) -> Iterator[pb.JobEvent]:
        """The job's events (``dagd.v1.JobEvent``): a ``snapshot`` first,
        then ``task`` events, and ``finished`` last. After a reconnection,
        or when dagd closed a stream read more than 8 MiB behind it, the
        stream starts again with a fresh snapshot. ``timeout`` bounds the
        whole watch (DEADLINE_EXCEEDED)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        outage = _Outage(self.reconnect_timeout)
        request = pb.WatchJobRequest(job_id=job_id, end_only=end_only)
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise RpcError(grpc.StatusCode.DEADLINE_EXCEEDED,
                               "watching job %s: timeout" % job_id)
            opened = time.monotonic()
            delivered = False
            cause: grpc.RpcError = _EndedError()
            try:
                for event in self._stub.WatchJob(request, timeout=left):
                    delivered = True
                    # A snapshot alone does not show the link holds: a
                    # proxy that passes calls but breaks streams lets it
                    # through too.
                    if not event.HasField("snapshot"):
                        outage.reached()
                    yield event
                    if event.HasField("finished"):
                        return
                # Ended without the job's end: dagd went away between events.
            except grpc.RpcError as error:
                # RESOURCE_EXHAUSTED: dagd closed a stream read too slowly,
                # or had too many reads waiting; a new watch starts afresh.
                if error.code() not in (grpc.StatusCode.UNAVAILABLE,
                                        grpc.StatusCode.RESOURCE_EXHAUSTED):
                    raise _rpc_error(error) from None
                cause = error
            # A stream that held MAX_RETRY_PAUSE ended the outage, whatever
            # it brought (a wait's streams bring the snapshot alone).
            if delivered and time.monotonic() - opened >= MAX_RETRY_PAUSE:
                outage.reached()
            outage.lost(cause)

    def wait(self, job_id: str, *,
             timeout: Optional[float] = None) -> types_pb2.JobStatus:
        """Blocks until the job ends; returns its final ``JobStatus``
        (whatever the state: check ``.state``, or use ``run``)."""
        for event in self.watch(job_id, end_only=True, timeout=timeout):
            if event.HasField("finished"):
                return event.finished
        raise DagdError("the watch of job %s ended without its end" % job_id)

    def result_payload(self, job_id: str, task_id: Union[str, Task], *,
                       timeout: Optional[float] = None
                       ) -> Tuple[bytearray, str]:
        """A finished task's output as bytes and content type, streamed (a
        result of any size dagd holds). ``call_timeout`` bounds the wait
        for a coordinator not reached yet; the stream itself takes as long
        as the result takes to move (``timeout`` bounds it, if given)."""
        task_id = task_id.id if isinstance(task_id, Task) else task_id
        request = pb.GetResultRequest(job_id=job_id, task_id=task_id)
        data = bytearray()
        view: Optional[memoryview] = None  # over data, when sized at once
        offset = 0
        content_type = ""
        # A unary call first: it waits up to call_timeout for a dagd not
        # reached yet, which the stream could bound only with the whole
        # read, and tells a failed task at once. (Waiting on the channel's
        # readiness instead left gRPC's polling thread behind, which raised
        # "Channel closed" when the client was closed just after.)
        self._raise_if_failed(job_id, task_id, self.task(job_id, task_id))
        try:
            for i, chunk in enumerate(self._stub.ReadResult(
                    request, timeout=timeout, wait_for_ready=True)):
                if i == 0:
                    content_type = chunk.content_type
                    if chunk.size_bytes:
                        data = bytearray(chunk.size_bytes)
                        view = memoryview(data)
                if view is None:
                    data += chunk.data
                    continue
                end = offset + len(chunk.data)
                if end > len(data):
                    raise DagdError("the result of %s/%s is larger than dagd "
                                    "announced" % (job_id, task_id))
                view[offset:end] = chunk.data
                offset = end
        except grpc.RpcError as error:
            if error.code() in (grpc.StatusCode.NOT_FOUND,
                                grpc.StatusCode.FAILED_PRECONDITION):
                self._raise_if_failed(job_id, task_id)
            raise _rpc_error(error) from None
        if view is not None and offset != len(data):
            raise DagdError("the result of %s/%s ended after %d of %d bytes"
                            % (job_id, task_id, offset, len(data)))
        return data, content_type

    def _raise_if_failed(self, job_id: str, task_id: str,
                         status: Optional[types_pb2.TaskStatus] = None
                         ) -> None:
        """TaskFailed if the task (its ``status``, else asked for) failed."""
        if status is None:
            try:
                status = self.task(job_id, task_id)
            except RpcError:
                return
        if status.state in (types_pb2.TASK_FAILED,
                            types_pb2.TASK_UPSTREAM_FAILED,
                            types_pb2.TASK_CANCELLED):
            raise TaskFailed(job_id, task_id,
                             status.error or types_pb2.TaskState.Name(
                                 status.state),
                             types_pb2.TaskState.Name(status.state))

    def result(self, job_id: str, task_id: Union[str, Task]) -> Any:
        """A finished task's output as a Python object: unpickled, parsed
        JSON, or bytes (``dagd.codec.decode``). Raises ``TaskFailed`` for a
        task that failed. Unpickling runs code chosen by the job's author:
        read results of jobs you trust."""
        data, content_type = self.result_payload(job_id, task_id)
        return codec.decode(data, content_type)

    def run(self, job: JobLike, *, outputs: Optional[Iterable[Union[str, Task]]] = None,
            timeout: Optional[float] = None,
            request_id: Optional[str] = None) -> Dict[str, Any]:
        """Submits ``job``, waits for it, and returns the results of
        ``outputs`` (default: the job's outputs, the tasks no other task
        takes as an input) by task id.
        Raises ``JobFailed`` when the job does not succeed. With
        ``request_id`` (default: a new one), running again after a lost
        submission follows the job the first one made, not a second."""
        spec = to_spec(job)
        job_id = self.submit(spec, request_id=request_id or uuid.uuid4().hex)
        status = self.wait(job_id, timeout=timeout)
        if status.state != types_pb2.JOB_SUCCEEDED:
            raise JobFailed(describe_failure(status), status)
        wanted = _sinks(spec) if outputs is None else [
            t.id if isinstance(t, Task) else t for t in outputs]
        return {task_id: self.result(job_id, task_id) for task_id in wanted}


class _EndedError(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "the watch stream ended before the job did"
