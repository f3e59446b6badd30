"""dagd.Client and the Dask scheduler against a guarded dagd: TLS
(--tls_cert), bearer tokens (--tokens_file) and workers with certificates
(--worker_ca), made by deploy/tls's documented scripts. A token (given, or
$DAGD_TOKEN) reaches every call, unary and streamed; a client certificate
the tokens file names is an identity of its own; bad TLS options are
refused by name before anything is sent.
"""

import os
import shutil
import subprocess
import tempfile

import pytest

import dagd
import dagd.client
from dagd.v1 import job_service_pb2, types_pb2
from conftest import Cluster, wait_for

CONST = {"name": "guarded", "tasks": [
    {"id": "a", "fn": "const", "args": {"value": 41}}]}


class Guarded:
    def __init__(self, cluster, certs, tokens):
        self.cluster = cluster
        self.address = cluster.address
        self.ca = os.path.join(certs, "ca.crt")
        self.certs = certs
        self.tokens = tokens  # role -> token


def _make_token(tokens_file, tenant, role, name):
    script = os.path.join(os.environ["DAGD_SOURCE_DIR"], "deploy", "tls",
                          "make-token.sh")
    return subprocess.run(["bash", script, tokens_file, tenant, role, name],
                          check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture(scope="module")
def guarded():
    if "DAGD_SOURCE_DIR" not in os.environ:
        pytest.skip("DAGD_SOURCE_DIR is not set (run through ctest)")
    tmp = tempfile.mkdtemp(prefix="dagd-python-auth-test-")
    running = Cluster(tmp)
    try:
        certs = os.path.join(tmp, "certs")
        subprocess.run(
            ["bash", os.path.join(os.environ["DAGD_SOURCE_DIR"], "deploy",
                                  "tls", "make-certs.sh"),
             "--worker", "w1", "--worker", "alice", certs],
            check=True, capture_output=True)
        tokens_file = os.path.join(tmp, "tokens")
        tokens = {role: _make_token(tokens_file, "alpha", role, "py-" + role)
                  for role in ("submit", "read")}
        with open(tokens_file, "a") as f:
            f.write("cert:alice alpha submit alice\n")
        running.start_dagd("--tls_cert=" + os.path.join(certs, "dagd.crt"),
                           "--tls_key=" + os.path.join(certs, "dagd.key"),
                           "--worker_ca=" + os.path.join(certs, "ca.crt"),
                           "--tokens_file=" + tokens_file)
        worker = os.path.join(certs, "workers", "w1")
        running.start_worker("w1", "--python", "--slots=2",
                             "--tls_ca=" + os.path.join(certs, "ca.crt"),
                             "--tls_cert=" + worker + ".crt",
                             "--tls_key=" + worker + ".key")
        ready = Guarded(running, certs, tokens)
        with dagd.Client(running.address, token=tokens["read"],
                         tls_ca=ready.ca) as client:
            def registered():
                running.check_alive()
                answer = client._stub.ListWorkers(
                    job_service_pb2.ListWorkersRequest(), timeout=10)
                return any("python" in w.runtimes for w in answer.workers)

            wait_for(registered, 60, "worker w1")
        yield ready
    except BaseException:
        running.print_logs()
        raise
    finally:
        running.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_a_token_over_tls_runs_a_job_and_streams_its_result(guarded):
    # run(): SubmitJob (unary), WatchJob and ReadResult (streams).
    with dagd.Client(guarded.address, token=guarded.tokens["submit"],
                     tls_ca=guarded.ca) as client:
        assert client.run(CONST) == {"a": 41}


def test_the_token_defaults_to_dagd_token(guarded, monkeypatch):
    monkeypatch.setenv("DAGD_TOKEN", guarded.tokens["submit"])
    with dagd.Client(guarded.address, tls_ca=guarded.ca) as client:
        job_id = client.submit(CONST)
        assert client.wait(job_id, timeout=60).state == \
            types_pb2.JOB_SUCCEEDED


def test_without_a_token_calls_are_unauthenticated(guarded, monkeypatch):
    monkeypatch.delenv("DAGD_TOKEN", raising=False)
    with dagd.Client(guarded.address, tls_ca=guarded.ca) as client:
        with pytest.raises(dagd.client.RpcError) as refused:
            client.status("j1")
    assert refused.value.code.name == "UNAUTHENTICATED"
    assert "token" in refused.value.details


def test_a_read_token_may_not_submit(guarded):
    with dagd.Client(guarded.address, token=guarded.tokens["read"],
                     tls_ca=guarded.ca) as client:
        with pytest.raises(dagd.client.RpcError) as refused:
            client.submit(CONST)
    assert refused.value.code.name == "PERMISSION_DENIED"


def test_a_client_certificate_the_tokens_file_names_is_an_identity(
        guarded, monkeypatch):
    # $DAGD_TOKEN is not sent with a certificate: sent, it would count.
    monkeypatch.setenv("DAGD_TOKEN", "not-a-token")
    alice = os.path.join(guarded.certs, "workers", "alice")
    with dagd.Client(guarded.address, tls_ca=guarded.ca,
                     tls_cert=alice + ".crt",
                     tls_key=alice + ".key") as client:
        assert client.run(CONST) == {"a": 41}


def test_the_dask_scheduler_passes_token_and_tls_on(guarded):
    pytest.importorskip("dask")
    import dagd.dask

    scheduler = dagd.dask.Scheduler(guarded.address,
                                    token=guarded.tokens["submit"],
                                    tls_ca=guarded.ca)
    try:
        assert scheduler.get({"x": 1, "y": (max, "x", 10)}, "y") == 10
    finally:
        scheduler.client.close()


def test_bad_tls_options_are_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="tls_cert and tls_key"):
        dagd.Client("127.0.0.1:1", tls_ca="ca.crt", tls_cert="c.crt")
    with pytest.raises(ValueError, match="tls_cert needs tls_ca"):
        dagd.Client("127.0.0.1:1", tls_cert="c.crt", tls_key="c.key")
    missing = str(tmp_path / "nowhere.crt")
    with pytest.raises(dagd.DagdError) as unreadable:
        dagd.Client("127.0.0.1:1", tls_ca=missing)
    assert "tls_ca" in str(unreadable.value)
    assert missing in str(unreadable.value)
    empty = tmp_path / "empty.crt"
    empty.write_text("")
    with pytest.raises(dagd.DagdError, match="tls_ca: .* holds no PEM"):
        dagd.Client("127.0.0.1:1", tls_ca=str(empty))
    with pytest.raises(ValueError, match="token: '\\\\n' at position 6"):
        dagd.Client("127.0.0.1:1", token="secret\n")
    with pytest.raises(ValueError, match="printable ASCII only"):
        dagd.Client("127.0.0.1:1", token="s\u00e9cret")
