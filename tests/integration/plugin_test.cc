// A dagd-worker started by hand with --plugin runs the plugin's functions
// (tests/worker/test_plugin.cc: upper, mul) next to the builtins, and says
// so: its runtimes are builtin, plugin and exec.
#include <memory>
#include <string>

#include "client/job_builder.h"
#include "tests/integration/integration_env.h"

namespace dagd::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(PluginTest, WorkerRunsPluginFunctions) {
  std::unique_ptr<DagdProcess> dagd = StartDagd({});
  ASSERT_NE(dagd, nullptr);
  absl::StatusOr<Subprocess*> worker =
      dagd->StartWorker({std::string("--plugin=") + TEST_PLUGIN, "--slots=2",
                         "--name=plugged", "--allow_exec"});
  ASSERT_TRUE(worker.ok()) << worker.status();
  ASSERT_EQ(dagd->WaitForWorkers(1), absl::OkStatus());

  Client& client = dagd->client();
  absl::StatusOr<v1::ListWorkersResponse> workers = client.ListWorkers();
  ASSERT_TRUE(workers.ok()) << workers.status();
  ASSERT_EQ(workers->workers_size(), 1);
  EXPECT_EQ(workers->workers(0).name(), "plugged");
  EXPECT_THAT(workers->workers(0).functions(), Contains("mul"));
  EXPECT_THAT(workers->workers(0).functions(), Contains("upper"));
  EXPECT_THAT(workers->workers(0).functions(), Contains("const"));
  // Register.runtimes, kept by dagd and shown by ListWorkers and dagctl.
  EXPECT_THAT(workers->workers(0).runtimes(),
              ElementsAre("builtin", "plugin", "exec"));
  CommandResult table = dagd->RunDagctl({"workers"});
  ASSERT_EQ(table.exit_code, 0) << table.ToString();
  EXPECT_THAT(table.out, HasSubstr("RUNTIMES"));
  EXPECT_THAT(table.out, HasSubstr("builtin,plugin,exec"));

  JobBuilder builder("plugin");
  builder.Task("six", "const").Arg("value", 6);
  builder.Task("seven", "const").Arg("value", 7);
  builder.Task("product", "mul").Inputs({"six", "seven"});
  builder.Task("word", "const").Arg("value", "dagd");
  builder.Task("loud", "upper").Inputs({"word"});
  absl::StatusOr<v1::JobSpec> job = builder.Build();
  ASSERT_TRUE(job.ok()) << job.status();
  absl::StatusOr<std::string> job_id = client.Submit(*job);
  ASSERT_TRUE(job_id.ok()) << job_id.status();
  absl::StatusOr<v1::JobStatus> final_status = client.Wait(*job_id);
  ASSERT_TRUE(final_status.ok()) << final_status.status();
  EXPECT_EQ(final_status->state(), v1::JOB_SUCCEEDED)
      << final_status->DebugString();

  absl::StatusOr<v1::GetResultResponse> product =
      client.Result(*job_id, "product");
  ASSERT_TRUE(product.ok()) << product.status();
  EXPECT_EQ(product->data(), "42");
  CommandResult loud = dagd->RunDagctl({"result", *job_id, "loud"});
  ASSERT_EQ(loud.exit_code, 0) << loud.ToString();
  EXPECT_EQ(loud.out, "\"DAGD\"");

  ASSERT_EQ(dagd->Stop(), absl::OkStatus());
}

}  // namespace
}  // namespace dagd::testing
