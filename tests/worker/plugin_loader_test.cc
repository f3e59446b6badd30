#include "worker/plugin_loader.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/test_task.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

// DAGD_TEST_PLUGIN is the path of the dagd_test_plugin library, set by CMake.
TEST(PluginLoaderTest, LoadsTestPluginFunctions) {
  FunctionRegistry registry;
  ASSERT_TRUE(LoadPlugin(DAGD_TEST_PLUGIN, &registry).ok());
  EXPECT_THAT(registry.Names(), testing::ElementsAre("mul", "upper"));

  TestTask upper(R"({"text": "shout"})");
  auto out = (*registry.Find("upper"))(upper.context);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->data, "\"SHOUT\"");

  TestTask upper_input("null", {Json("\"from input\"")});
  EXPECT_EQ((*registry.Find("upper"))(upper_input.context)->data,
            "\"FROM INPUT\"");

  TestTask mul("null", {Json("2"), Json("3"), Json("7")});
  out = (*registry.Find("mul"))(mul.context);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->data, "42");

  TestTask bad("null", {Json("\"x\"")});
  out = (*registry.Find("mul"))(bad.context);
  EXPECT_TRUE(IsPermanent(out.status()));
}

TEST(PluginLoaderTest, LoadingTwiceReportsDuplicateFunctions) {
  FunctionRegistry registry;
  ASSERT_TRUE(LoadPlugin(DAGD_TEST_PLUGIN, &registry).ok());
  absl::Status status = LoadPlugin(DAGD_TEST_PLUGIN, &registry);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("returned 1"));
}

TEST(PluginLoaderTest, MissingFileNamesTheFile) {
  FunctionRegistry registry;
  absl::Status status = LoadPlugin("/nonexistent/libnothing.so", &registry);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("/nonexistent/libnothing.so"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("No such file"));
}

TEST(PluginLoaderTest, LibraryWithoutEntryPointIsRefused) {
  FunctionRegistry registry;
  absl::Status status = LoadPlugin("libm.so.6", &registry);
  // A bare name means a file in the current folder, so this is "not found";
  // an absolute path to a real non-plugin library lacks the entry point.
  EXPECT_FALSE(status.ok());
  status = LoadPlugin(DAGD_NON_PLUGIN, &registry);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("does not export dagd_register_functions"));
}

}  // namespace
}  // namespace dagd
