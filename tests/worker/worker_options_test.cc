#include "worker/worker_options.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;

TEST(ParseLabelsTest, ParsesPairs) {
  auto labels = ParseLabels("zone=a, disk=ssd,empty=");
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_THAT(*labels,
              testing::ElementsAre(Pair("disk", "ssd"), Pair("empty", ""),
                                   Pair("zone", "a")));
  EXPECT_TRUE(ParseLabels("")->empty());
}

TEST(ParseLabelsTest, RejectsMalformedEntries) {
  EXPECT_THAT(std::string(ParseLabels("zone").status().message()),
              HasSubstr("'zone' is not key=value"));
  EXPECT_FALSE(ParseLabels("=a").ok());
  EXPECT_THAT(std::string(ParseLabels("a=1,a=2").status().message()),
              HasSubstr("twice"));
}

TEST(ParseResourcesTest, ParsesNumbers) {
  auto resources = ParseResources("memory_mb=8192,gpu=1.5");
  ASSERT_TRUE(resources.ok()) << resources.status();
  EXPECT_THAT(*resources,
              testing::ElementsAre(Pair("gpu", 1.5), Pair("memory_mb", 8192)));
}

TEST(ParseResourcesTest, RejectsNonNumbers) {
  auto resources = ParseResources("gpu=lots");
  EXPECT_EQ(resources.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(resources.status().message()), HasSubstr("'gpu'"));
  EXPECT_FALSE(ParseResources("gpu=-1").ok());
}

TEST(DefaultWorkerNameTest, IsHostColonPid) {
  EXPECT_THAT(DefaultWorkerName(),
              testing::EndsWith(absl::StrCat(":", getpid())));
}

}  // namespace
}  // namespace dagd
