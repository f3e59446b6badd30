#include "worker/function_registry.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

absl::StatusOr<Payload> Hello(TaskContext&) {
  return Payload{"\"hello\"", kJsonContentType};
}

TEST(FunctionRegistryTest, FindsRegisteredFunctions) {
  FunctionRegistry registry;
  ASSERT_TRUE(registry.Register("hello", Hello).ok());
  EXPECT_NE(registry.Find("hello"), nullptr);
  EXPECT_EQ(registry.Find("absent"), nullptr);
}

TEST(FunctionRegistryTest, RejectsDuplicateNames) {
  FunctionRegistry registry;
  ASSERT_TRUE(registry.Register("hello", Hello).ok());
  absl::Status status = registry.Register("hello", Hello);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(status.message()), testing::HasSubstr("'hello'"));
}

TEST(FunctionRegistryTest, RejectsEmptyNameAndNullFunction) {
  FunctionRegistry registry;
  EXPECT_EQ(registry.Register("", Hello).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Register("x", TaskFunction()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(registry.Names().empty());
}

TEST(FunctionRegistryTest, NamesAreSorted) {
  FunctionRegistry registry;
  for (const char* name : {"zeta", "alpha", "mid"}) {
    ASSERT_TRUE(registry.Register(name, Hello).ok());
  }
  EXPECT_THAT(registry.Names(), testing::ElementsAre("alpha", "mid", "zeta"));
}

TEST(PermanentErrorTest, MarksAndDetects) {
  EXPECT_TRUE(IsPermanent(PermanentError("bad args")));
  EXPECT_TRUE(IsPermanent(MakePermanent(absl::InternalError("x"))));
  EXPECT_FALSE(IsPermanent(absl::InternalError("x")));
  EXPECT_FALSE(IsPermanent(absl::OkStatus()));
  EXPECT_EQ(PermanentError("bad args").message(), "bad args");
}

}  // namespace
}  // namespace dagd
