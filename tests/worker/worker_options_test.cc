#include "worker/worker_options.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/byte_size.h"

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

TEST(ParseByteSizeTest, TakesBytesAndBinaryUnits) {
  EXPECT_EQ(ParseByteSize("123").value_or(0), 123u);
  EXPECT_EQ(ParseByteSize("64K").value_or(0), 64u << 10);
  EXPECT_EQ(ParseByteSize("512M").value_or(0), 512u << 20);
  EXPECT_EQ(ParseByteSize("512MiB").value_or(0), 512u << 20);
  EXPECT_EQ(ParseByteSize("4g").value_or(0), uint64_t{4} << 30);
  EXPECT_EQ(ParseByteSize(" 2T ").value_or(0), uint64_t{2} << 40);
  EXPECT_EQ(ParseByteSize("0").value_or(1), 0u);
}

TEST(ParseByteSizeTest, RejectsWhatIsNotASize) {
  EXPECT_THAT(std::string(ParseByteSize("").status().message()),
              HasSubstr("not a size"));
  EXPECT_THAT(std::string(ParseByteSize("-1").status().message()),
              HasSubstr("not a size"));
  EXPECT_THAT(std::string(ParseByteSize("4GB").status().message()),
              HasSubstr("unknown unit"));
  EXPECT_THAT(std::string(ParseByteSize("4X").status().message()),
              HasSubstr("unknown unit"));
  EXPECT_THAT(std::string(ParseByteSize("99999999999T").status().message()),
              HasSubstr("too large"));
}

TEST(DefaultObjectMemoryTest, IsAShareOfThisMachinesMemory) {
  const uint64_t memory =
      static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  EXPECT_GT(DefaultObjectMemory(), 0u);
  EXPECT_LE(DefaultObjectMemory(), memory / 4);
}

}  // namespace
}  // namespace dagd
