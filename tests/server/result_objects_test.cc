// Results kept in the object store, read and deleted off the coordinator's
// loop: what is read is checked against what was recorded.

#include "server/result_objects.h"

#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/crc32c.h"
#include "tests/server/read_now.h"
#include "tests/testutil/fake_object_store.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

v1::ObjectRef Ref(const std::string& key, const std::string& data) {
  v1::ObjectRef ref;
  ref.set_bucket("bucket");
  ref.set_key(key);
  ref.set_size(data.size());
  ref.set_crc32c(crc32c::Value(data));
  ref.set_content_type("application/json");
  return ref;
}

TEST(ResultObjectsTest, ReadsWhatWasRecorded) {
  FakeObjectStore store;
  ASSERT_TRUE(store.Put("k", "[1,2]", "text/plain").ok());
  ResultObjects objects(&store, /*held=*/nullptr);
  absl::StatusOr<StoredObject> object = ReadNow(objects, Ref("k", "[1,2]"));
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_EQ(object->data, "[1,2]");
  // The content type recorded with the result wins.
  EXPECT_EQ(object->content_type, "application/json");
}

TEST(ResultObjectsTest, ChangedObjectIsDataLoss) {
  FakeObjectStore store;
  ASSERT_TRUE(store.Put("k", "[1,3]", "").ok());
  ResultObjects objects(&store, /*held=*/nullptr);
  absl::StatusOr<StoredObject> object = ReadNow(objects, Ref("k", "[1,2]"));
  EXPECT_TRUE(absl::IsDataLoss(object.status())) << object.status();
  EXPECT_THAT(object.status().message(), HasSubstr("CRC-32C"));
  ASSERT_TRUE(store.Put("k", "[1,2,3]", "").ok());
  object = ReadNow(objects, Ref("k", "[1,2]"));
  EXPECT_THAT(object.status().message(), HasSubstr("7 bytes; dagd recorded 5"));
}

TEST(ResultObjectsTest, MissingObjectIsNotFoundNamingItsKey) {
  FakeObjectStore store;
  ResultObjects objects(&store, /*held=*/nullptr);
  absl::StatusOr<StoredObject> object = ReadNow(objects, Ref("gone", "x"));
  EXPECT_TRUE(absl::IsNotFound(object.status())) << object.status();
  EXPECT_THAT(object.status().message(), HasSubstr("key 'gone'"));
}

TEST(ResultObjectsTest, ReadsRangesForStreaming) {
  FakeObjectStore store;
  ASSERT_TRUE(store.Put("k", "0123456789", "").ok());
  ResultObjects objects(&store, /*held=*/nullptr);
  auto read = [&objects](uint64_t offset, uint64_t length) {
    absl::StatusOr<std::string> out;
    absl::Notification done;
    objects.ReadRange(Ref("k", "0123456789"), offset, length,
                      [&](absl::StatusOr<std::string> bytes) {
                        out = std::move(bytes);
                        done.Notify();
                      });
    done.WaitForNotification();
    return out;
  };
  EXPECT_EQ(read(3, 4).value_or("?"), "3456");
  EXPECT_EQ(read(8, 4).value_or("?"), "89");
  EXPECT_TRUE(absl::IsOutOfRange(read(11, 1).status()));
}

TEST(ResultObjectsTest, DeletesInTheBackground) {
  FakeObjectStore store;
  ASSERT_TRUE(store.Put("a", "1", "").ok());
  ASSERT_TRUE(store.Put("b", "2", "").ok());
  ASSERT_TRUE(store.Put("c", "3", "").ok());
  {
    ResultObjects objects(&store, /*held=*/nullptr, /*meta=*/nullptr,
                          /*threads=*/1);
    objects.Delete({Ref("a", "1"), Ref("b", "2")});
    // Requests run in order on one thread: the read comes after.
    ASSERT_TRUE(ReadNow(objects, Ref("c", "3")).ok());
  }
  EXPECT_FALSE(store.Find("a").has_value());
  EXPECT_FALSE(store.Find("b").has_value());
  EXPECT_TRUE(store.Find("c").has_value());
}

}  // namespace
}  // namespace dagd
