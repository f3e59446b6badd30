// A shared library without dagd_register_functions, for the loader's test.
extern "C" int dagd_not_a_plugin() { return 42; }
