// What needs no interpreter running: the frame sizes a result announces,
// the environment interpreters get, and a start that cannot run the runner.
#include "worker/python_process.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "worker/python_runtime.h"

namespace dagd {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// The sizes of a result's frames come from the interpreter: one that is
// no size is refused before anything is read (cast as it was, sizes that
// wrap their sum made a buffer smaller than the reads into it).
TEST(FrameSizesTest, OnlyWholeSizesWithinTheLimitAreTaken) {
  auto header = [](const std::string& sizes) {
    google::protobuf::Struct parsed;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(
                    absl::StrCat(R"({"sizes": )", sizes, "}"), &parsed)
                    .ok());
    return parsed;
  };
  absl::StatusOr<std::vector<size_t>> good = FrameSizes(header("[0, 5, 4096]"));
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(*good, (std::vector<size_t>{0, 5, 4096}));
  for (const char* bad : {"[-1]", "[1.5]", "[\"7\"]", "[{}]"}) {
    EXPECT_EQ(FrameSizes(header(bad)).status().code(),
              absl::StatusCode::kDataLoss)
        << bad;
  }
  // Too large, alone or together (sizes that would wrap their sum too): the
  // task's output is over the limit, for good.
  const std::string half = absl::StrCat(kMaxPythonOutputBytes / 2 + 1);
  for (const std::string& over :
       {absl::StrCat("[", half, ", ", half, "]"), std::string("[1e300]"),
        std::string("[2048, 18446744073709549568, 4096]")}) {
    EXPECT_EQ(FrameSizes(header(over)).status().code(),
              absl::StatusCode::kResourceExhausted)
        << over;
  }
  // Past dagd's --max_result_bytes, when the worker has heard it.
  EXPECT_TRUE(FrameSizes(header("[10, 15]"), 25).ok());
  EXPECT_EQ(FrameSizes(header("[10, 16]"), 25).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(InterpreterEnvironmentTest, AddsOneBlasThreadAndHugePagesUnlessSet) {
  const char* env[] = {"PATH=/usr/bin", "OPENBLAS_NUM_THREADS=8",
                       "OMP_NUM_THREADS_X=2", nullptr};
  EXPECT_THAT(
      InterpreterEnvironment(env),
      ::testing::UnorderedElementsAre("PATH=/usr/bin", "OPENBLAS_NUM_THREADS=8",
                                      "OMP_NUM_THREADS_X=2",
                                      "OMP_NUM_THREADS=1", "MKL_NUM_THREADS=1",
                                      "GLIBC_TUNABLES=glibc.malloc.hugetlb=1"));
}

TEST(InterpreterEnvironmentTest, KeepsTheWorkersGlibcTunables) {
  const char* env[] = {"GLIBC_TUNABLES=glibc.malloc.arena_max=2", nullptr};
  std::vector<std::string> got = InterpreterEnvironment(env);
  EXPECT_THAT(got,
              ::testing::Contains("GLIBC_TUNABLES=glibc.malloc.arena_max=2"));
  EXPECT_THAT(got, ::testing::Not(::testing::Contains(
                       "GLIBC_TUNABLES=glibc.malloc.hugetlb=1")));
}

TEST(PythonStartTest, InterpreterThatCannotRunTheRunnerStopsTheStart) {
  PythonRuntimeOptions options;
  options.process.interpreter = "/bin/false";
  auto runtime = PythonRuntime::Start(options, [](const LogEntry&) {});
  ASSERT_FALSE(runtime.ok());
  EXPECT_TRUE(absl::IsUnavailable(runtime.status())) << runtime.status();
  EXPECT_THAT(std::string(runtime.status().message()),
              AllOf(HasSubstr("/bin/false -m dagd.runner did not start"),
                    HasSubstr("exit status 1"), HasSubstr("PYTHONPATH")));

  options.process.interpreter = "/no/such/python3";
  runtime = PythonRuntime::Start(options, [](const LogEntry&) {});
  EXPECT_TRUE(absl::IsNotFound(runtime.status())) << runtime.status();
}

}  // namespace
}  // namespace dagd
