// dagd refusing to start: the failure is an exit code and a message that
// says what to fix, and DagdProcess hands that message to the test.
#include <memory>
#include <string>

#include "tests/integration/integration_env.h"

namespace dagd::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(StartupTest, UnknownFlagIsReported) {
  DagdOptions options;
  options.binaries = BuiltBinaries();
  options.flags = {"--no_such_dagd_flag=1"};
  absl::StatusOr<std::unique_ptr<DagdProcess>> dagd =
      DagdProcess::Start(std::move(options));
  ASSERT_FALSE(dagd.ok());
  EXPECT_THAT(dagd.status().message(),
              AllOf(HasSubstr("dagd did not start (exit 1)"),
                    HasSubstr("no_such_dagd_flag")));
}

TEST(StartupTest, SecondDagdOnTheSameDataDirIsRefused) {
  std::unique_ptr<DagdProcess> first = StartDagd({"--metrics_listen="});
  ASSERT_NE(first, nullptr);
  DagdOptions options;
  options.binaries = BuiltBinaries();
  options.data_dir = first->data_dir();
  absl::StatusOr<std::unique_ptr<DagdProcess>> second =
      DagdProcess::Start(std::move(options));
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(),
              AllOf(HasSubstr("dagd did not start (exit 1)"),
                    HasSubstr("--data_dir"), HasSubstr(first->data_dir())));
  // The first one is unharmed.
  absl::StatusOr<v1::ListJobsResponse> jobs = first->client().ListJobs();
  EXPECT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(first->Stop(), absl::OkStatus());
}

}  // namespace
}  // namespace dagd::testing
