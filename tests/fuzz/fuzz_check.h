// FUZZ_CHECK: the invariants a harness checks. A failed check prints what
// failed and aborts, which libFuzzer (and the replay main) report as a
// crash with the input that caused it.
#ifndef DAGD_TESTS_FUZZ_FUZZ_CHECK_H_
#define DAGD_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#define FUZZ_CHECK(condition, message)                                     \
  do {                                                                     \
    if (!(condition)) {                                                    \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: %s\n", __FILE__, \
                   __LINE__, #condition, std::string(message).c_str());    \
      std::abort();                                                        \
    }                                                                      \
  } while (false)

#endif  // DAGD_TESTS_FUZZ_FUZZ_CHECK_H_
