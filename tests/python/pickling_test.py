"""dagd.pickling: a task's code goes by the standard pickler when every
function in it is importable by name, and by cloudpickle (by value) when
one is not: ``__main__``'s functions, lambdas, closures. What it makes
must unpickle in another interpreter that has none of this test's names."""

import operator
import os
import pickle
import subprocess
import sys
import types
import typing

import __main__
import pytest

from dagd import pickling
from dagd.call import Call

pytest.importorskip("cloudpickle")


def run_elsewhere(data, expression):
    """Unpickles `data` as `f` in a fresh /usr/bin/python3 that sees only
    the dagd package, and returns what `print(expression)` prints there."""
    code = ("import pickle, sys; f = pickle.loads(sys.stdin.buffer.read()); "
            "print(%s)" % expression)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(
        os.path.dirname(os.path.abspath(pickling.__file__))))
    done = subprocess.run([sys.executable, "-c", code], input=data, env=env,
                          capture_output=True, check=True, cwd="/")
    return done.stdout.decode().strip()


def call_elsewhere(data, arg):
    return run_elsewhere(data, "f(%r)" % (arg,))


def test_importable_functions_go_by_the_standard_pickler():
    value = Call(operator.add, (1, 2), {})
    data = pickling.dumps(value)
    # Byte for byte what the standard pickler makes: cloudpickle was not
    # needed (it would have spent ~50 µs a task deciding the same).
    assert data == pickle.dumps(value, protocol=pickling.PROTOCOL)
    assert pickle.loads(data)() == 3


def test_lambdas_and_closures_go_by_value():
    offset = 40

    def closure(x):
        return x + offset

    for fn, want in [(lambda x: x * 3, "21"), (closure, "47")]:
        data = pickling.dumps(fn)
        with pytest.raises(Exception):
            pickle.dumps(fn, protocol=pickling.PROTOCOL)
        assert call_elsewhere(data, 7) == want


def test_a_function_of_main_goes_by_value_though_its_name_resolves_here():
    def double(x):
        return 2 * x

    double.__module__ = "__main__"
    double.__qualname__ = "dagd_pickling_test_double"
    setattr(__main__, double.__qualname__, double)
    try:
        # The standard pickler would name it, and the worker's __main__
        # has no such name.
        named = pickle.dumps(double, protocol=pickling.PROTOCOL)
        assert b"dagd_pickling_test_double" in named
        data = pickling.dumps(double)
        assert data != named
        assert call_elsewhere(data, 21) == "42"
    finally:
        delattr(__main__, double.__qualname__)


def test_bound_methods_and_type_variables_of_main_go_by_value():
    def triple(self, x):
        return 3 * x

    triple.__module__ = "__main__"
    triple.__qualname__ = "dagd_pickling_test_triple"
    variable = typing.TypeVar("dagd_pickling_test_T")
    variable.__module__ = "__main__"
    setattr(__main__, triple.__qualname__, triple)
    setattr(__main__, "dagd_pickling_test_T", variable)
    try:
        # The standard pickler would send the method as getattr(5, name)
        # and the variable as __main__'s name, neither there on a worker.
        bound = types.MethodType(triple, 5)
        assert call_elsewhere(pickling.dumps(bound), 7) == "21"
        assert run_elsewhere(pickling.dumps([variable]),
                             "repr(f)") == "[~dagd_pickling_test_T]"
    finally:
        delattr(__main__, triple.__qualname__)
        delattr(__main__, "dagd_pickling_test_T")


def test_one_pickler_keeps_each_verdict_apart():
    pickler = pickling.Pickler()
    by_name = Call(operator.mul, (6, 7), {})
    by_value = Call(lambda a, b: a - b, (50, 8), {})
    for _ in range(2):  # the second round answers from what it remembers
        assert pickle.loads(pickler.dumps(by_name))() == 42
        assert pickler.dumps(by_name) == pickle.dumps(
            by_name, protocol=pickling.PROTOCOL)
        assert pickle.loads(pickler.dumps(by_value))() == 42
