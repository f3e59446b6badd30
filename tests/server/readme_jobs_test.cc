// Every job in the README's ```json blocks is one dagd accepts, so the
// examples users copy stay true as the job format changes.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "server/job_compiler.h"

namespace dagd {
namespace {

std::vector<std::string> JsonBlocks(const std::string& markdown) {
  std::vector<std::string> blocks;
  const std::string open = "```json\n";
  size_t at = 0;
  while ((at = markdown.find(open, at)) != std::string::npos) {
    at += open.size();
    const size_t end = markdown.find("```", at);
    if (end == std::string::npos) break;
    blocks.push_back(markdown.substr(at, end - at));
    at = end + 3;
  }
  return blocks;
}

TEST(ReadmeJobsTest, EveryJsonExampleIsAnAcceptedJob) {
  std::ifstream in(README_PATH);
  ASSERT_TRUE(in) << "cannot read " << README_PATH;
  std::stringstream text;
  text << in.rdbuf();
  const std::vector<std::string> blocks = JsonBlocks(text.str());
  // The job format section and one example per scheduling rule.
  ASSERT_GE(blocks.size(), 8u);
  for (const std::string& block : blocks) {
    v1::JobSpec spec;
    auto parsed = google::protobuf::util::JsonStringToMessage(block, &spec);
    ASSERT_TRUE(parsed.ok()) << parsed << "\n" << block;
    absl::StatusOr<CompiledJob> job = CompileJob(spec, {});
    EXPECT_TRUE(job.ok()) << job.status() << "\n" << block;
  }
}

}  // namespace
}  // namespace dagd
