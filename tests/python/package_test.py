"""The dagd Python package as the build makes it and `cmake --install`
installs it: importable from build/python with its generated stubs, and
installed where Debian's python3 looks."""

import os
import subprocess
import sys

import pytest


def test_the_build_tree_package_imports_with_its_stubs():
    build = os.environ.get("DAGD_BUILD_DIR")
    if not build:
        pytest.skip("DAGD_BUILD_DIR is not set (run through ctest)")
    code = ("import dagd, dagd.runner, dagd.codec; "
            "from dagd.v1 import job_service_pb2_grpc, types_pb2; "
            "print(dagd.Client.__name__, types_pb2.TaskSpec(code=b'x').code)")
    out = subprocess.run(
        ["/usr/bin/python3", "-c", code], capture_output=True, text=True,
        env={"PYTHONPATH": os.path.join(build, "python"), "PATH": "/usr/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Client b'x'"


def test_importing_dagd_does_not_load_grpc():
    # The runner's interpreters import dagd; gRPC would slow each start.
    out = subprocess.run(
        [sys.executable, "-c",
         "import sys, dagd, dagd.runner; print('grpc' in sys.modules)"],
        capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_cmake_install_puts_it_where_debian_python_looks(tmp_path):
    build = os.environ.get("DAGD_BUILD_DIR")
    if not build:
        pytest.skip("DAGD_BUILD_DIR is not set (run through ctest)")
    out = subprocess.run(
        ["cmake", "--install", build, "--component", "python"],
        capture_output=True, text=True,
        env=dict(os.environ, DESTDIR=str(tmp_path)))
    assert out.returncode == 0, out.stderr
    found = [root for root, _, files in os.walk(tmp_path)
             if "__init__.py" in files and root.endswith("/dagd")]
    assert len(found) == 1, found
    site = os.path.dirname(found[0])[len(str(tmp_path)):]
    paths = subprocess.run(
        ["/usr/bin/python3", "-c", "import sys; print('\\n'.join(sys.path))"],
        capture_output=True, text=True, env={"PATH": "/usr/bin"}).stdout
    assert site in paths.splitlines(), (site, paths)
    for name in ("client.py", "runner.py", "codec.py",
                 "v1/job_service_pb2_grpc.py"):
        assert os.path.exists(os.path.join(found[0], name)), name
