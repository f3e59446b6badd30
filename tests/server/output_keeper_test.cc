// Jobs' outputs copied from their holder (a fake one on 127.0.0.1) into a
// real RocksDB store, chunk by chunk, and read back through ResultObjects.
#include "server/output_keeper.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/object_location.h"
#include "server/result_objects.h"
#include "storage/crc32c.h"
#include "storage/object_store.h"
#include "storage/rocksdb_meta_store.h"
#include "tests/server/read_now.h"
#include "tests/testutil/fake_holder.h"
#include "tests/testutil/process.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kMaxBytes = 8 << 20;

class OutputKeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(serving_.address.empty());
    absl::StatusOr<std::unique_ptr<testing::TempDir>> dir =
        testing::TempDir::Create();
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *std::move(dir);
    absl::StatusOr<std::unique_ptr<RocksMetaStore>> store =
        RocksMetaStore::Open(dir_->path() + "/db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    keeper_ = std::make_unique<OutputKeeper>(store_.get(), &client_, kMaxBytes);
  }

  // Task `index` of job 1's output of `data`, held by the fake holder, and
  // (with `record`) recorded as the task's result.
  v1::ObjectRef Held(uint32_t index, const std::string& data,
                     bool record = true) {
    v1::ObjectRef ref;
    ref.set_key(ResultObjectKey(JobIdFromSeq(1), index, 1));
    ref.set_size(data.size());
    ref.set_crc32c(crc32c::Value(data));
    ref.set_content_type("application/octet-stream");
    ref.set_output(true);
    ref.mutable_holder()->set_instance("i-1");
    ref.mutable_holder()->set_address(serving_.address);
    serving_.holder.objects[ref.key()] = data;
    if (record) Record(index, ref);
    return ref;
  }

  absl::StatusOr<KeptOutput> KeepWhole(OutputToKeep output) {
    absl::StatusOr<KeptOutput> out;
    absl::Notification done;
    keeper_->Keep(std::move(output),
                  [&](const OutputToKeep&, absl::StatusOr<KeptOutput> kept) {
                    out = std::move(kept);
                    done.Notify();
                  });
    done.WaitForNotification();
    return out;
  }
  absl::StatusOr<v1::ObjectRef> KeepNow(OutputToKeep output) {
    absl::StatusOr<KeptOutput> kept = KeepWhole(std::move(output));
    if (!kept.ok()) return kept.status();
    return kept->stored;
  }

  // Records job 1's task `index` result as `ref`, as the scheduler does
  // when the task succeeds.
  void Record(uint32_t index, const v1::ObjectRef& ref) {
    WriteSet writes;
    StoredResult result;
    result.content_type = ref.content_type();
    result.ref = std::make_shared<const v1::ObjectRef>(ref);
    writes.results.push_back({1, index, std::move(result)});
    ASSERT_EQ(store_->Commit(writes, /*sync=*/false), absl::OkStatus());
  }

  static absl::StatusOr<std::string> ReadRangeNow(ResultObjects& objects,
                                                  const v1::ObjectRef& ref,
                                                  uint64_t offset,
                                                  uint64_t length) {
    absl::StatusOr<std::string> out;
    absl::Notification done;
    objects.ReadRange(ref, offset, length,
                      [&](absl::StatusOr<std::string> bytes) {
                        out = std::move(bytes);
                        done.Notify();
                      });
    done.WaitForNotification();
    return out;
  }

  static std::string Bytes(size_t n) {
    std::string data(n, '\0');
    for (size_t i = 0; i < n; ++i) data[i] = static_cast<char>(i * 31 + i / 7);
    return data;
  }

  FakeHolderServer serving_;
  DataClient client_;
  std::unique_ptr<testing::TempDir> dir_;
  std::unique_ptr<RocksMetaStore> store_;
  std::unique_ptr<OutputKeeper> keeper_;
};

TEST_F(OutputKeeperTest, CopiesAnOutputInChunksAndItReadsBackChecked) {
  // Pieces from the holder that do not line up with the store's chunks.
  serving_.holder.chunk_bytes = 300 << 10;
  const std::string data = Bytes(2 * MetaStore::kResultChunkBytes + 12345);
  const v1::ObjectRef held = Held(3, data);
  absl::StatusOr<v1::ObjectRef> stored = KeepNow({1, 3, held});
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(LocationOf(*stored), ObjectLocation::kStored);
  EXPECT_FALSE(stored->has_holder());
  EXPECT_EQ(stored->size(), data.size());
  EXPECT_EQ(stored->crc32c(), held.crc32c());
  EXPECT_EQ(stored->content_type(), "application/octet-stream");

  // Read back from the database alone: the holder is gone.
  serving_.Stop();
  ResultObjects objects(/*store=*/nullptr, /*held=*/nullptr, store_.get());
  absl::StatusOr<StoredObject> whole = ReadNow(objects, *stored);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_TRUE(whole->data == data);
  EXPECT_EQ(whole->content_type, "application/octet-stream");
  absl::StatusOr<std::string> range =
      ReadRangeNow(objects, *stored, MetaStore::kResultChunkBytes - 10, 20);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(*range, data.substr(MetaStore::kResultChunkBytes - 10, 20));
}

// A reader that looked the output up before the copy was recorded names
// its holder, which has freed it since: the read is served from the copy.
TEST_F(OutputKeeperTest, AReadOfTheHeldOutputAfterItsCopyIsServedFromTheStore) {
  const std::string data = Bytes(MetaStore::kResultChunkBytes + 77);
  const v1::ObjectRef held = Held(2, data);
  ASSERT_TRUE(KeepNow({1, 2, held}).ok());
  serving_.holder.objects.erase(held.key());  // freed on the holder
  ResultObjects objects(/*store=*/nullptr, &client_, store_.get());
  absl::StatusOr<StoredObject> whole = ReadNow(objects, held);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_TRUE(whole->data == data);
  absl::StatusOr<std::string> range = ReadRangeNow(objects, held, 10, 5);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(*range, data.substr(10, 5));
  // An intermediate (not an output) that is gone stays gone.
  v1::ObjectRef intermediate = Held(3, "x");
  intermediate.clear_output();
  serving_.holder.objects.erase(intermediate.key());
  absl::StatusOr<StoredObject> gone = ReadNow(objects, intermediate);
  EXPECT_TRUE(absl::IsNotFound(gone.status())) << gone.status();
}

TEST_F(OutputKeeperTest, AfterARestartOnlyAnOutputStillRecordedAsHeldIsCopied) {
  const v1::ObjectRef held = Held(0, "payload", /*record=*/false);
  // What a worker's registration says: its key and where it serves.
  OutputToKeep reported{1, 0, v1::ObjectRef(), /*check_record=*/true};
  reported.ref.set_key(held.key());
  *reported.ref.mutable_holder() = held.holder();

  absl::StatusOr<v1::ObjectRef> none = KeepNow(reported);
  EXPECT_TRUE(absl::IsNotFound(none.status())) << none.status();

  v1::ObjectRef intermediate = held;
  intermediate.clear_output();  // held, but not an output to copy
  Record(0, intermediate);
  EXPECT_TRUE(absl::IsNotFound(KeepNow(reported).status()));

  v1::ObjectRef elsewhere = held;
  elsewhere.mutable_holder()->set_instance("i-2");  // another process's
  Record(0, elsewhere);
  EXPECT_TRUE(absl::IsNotFound(KeepNow(reported).status()));

  // The reporting worker names the instance the record has, but it was
  // recorded under another worker's name (with --worker_ca, a
  // certificate's): not its to serve.
  v1::ObjectRef named_otherwise = held;
  named_otherwise.mutable_holder()->set_name("worker-a");
  Record(0, named_otherwise);
  EXPECT_TRUE(absl::IsNotFound(KeepNow(reported).status()));

  Record(0, held);
  // The finished task's stored status said where the output was.
  v1::TaskStatus status;
  status.set_task_id("t0");
  status.set_state(v1::TASK_SUCCEEDED);
  status.mutable_result()->set_location("held by worker somewhere");
  WriteSet writes;
  writes.task_statuses.push_back({1, 0, status});
  ASSERT_EQ(store_->Commit(writes, /*sync=*/false), absl::OkStatus());
  absl::StatusOr<KeptOutput> kept = KeepWhole(reported);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->stored.size(), 7u);  // from the record
  EXPECT_EQ(*store_->ReadResultChunks(1, 0, 7, 0, 0), "payload");
  ASSERT_TRUE(kept->status.has_value());
  EXPECT_EQ(kept->status->task_id(), "t0");
  EXPECT_EQ(kept->status->result().location(), "stored");
}

// Two copies of one task's output (its first holder's still going when it
// was run again elsewhere) run one after the other: chunks are stored by
// job and task, and at once the second's chunk 0 and the first's chunk 1
// made a result that matched neither's CRC-32C. The first, of a result no
// longer recorded, is not kept (once its job left the scheduler's memory,
// nothing else would have caught it).
TEST_F(OutputKeeperTest, CopiesOfOneTasksOutputDoNotMixTheirChunks) {
  serving_.holder.chunk_bytes = MetaStore::kResultChunkBytes;
  serving_.holder.stall_after_first = true;
  serving_.holder.resume_after_release = true;
  const std::string first(2 * MetaStore::kResultChunkBytes, 'a');
  const v1::ObjectRef held_first = Held(3, first);
  FakeHolderServer other;
  ASSERT_FALSE(other.address.empty());
  other.holder.chunk_bytes = MetaStore::kResultChunkBytes;
  const std::string second(2 * MetaStore::kResultChunkBytes, 'b');
  v1::ObjectRef held_second = held_first;
  held_second.set_key(ResultObjectKey(JobIdFromSeq(1), 3, 2));
  held_second.set_crc32c(crc32c::Value(second));
  held_second.mutable_holder()->set_instance("i-2");
  held_second.mutable_holder()->set_address(other.address);
  other.holder.objects[held_second.key()] = second;

  absl::Notification first_done, second_done;
  keeper_->Keep({1, 3, held_first}, [&](const OutputToKeep&,
                                        absl::StatusOr<KeptOutput> kept) {
    EXPECT_TRUE(IsStaleCopy(kept.status())) << kept.status();
    EXPECT_THAT(kept.status().message(), HasSubstr("an older attempt"));
    first_done.Notify();
  });
  ASSERT_TRUE(serving_.holder.stalled.WaitForNotificationWithTimeout(
      absl::Seconds(30)));
  Record(3, held_second);  // the task ran again and succeeded
  keeper_->Keep({1, 3, held_second},
                [&](const OutputToKeep&, absl::StatusOr<KeptOutput> kept) {
                  EXPECT_TRUE(kept.ok()) << kept.status();
                  second_done.Notify();
                });
  // Not while the first is under way (a free thread is waiting for work).
  EXPECT_FALSE(second_done.WaitForNotificationWithTimeout(absl::Seconds(1)));
  serving_.holder.release.Notify();
  ASSERT_TRUE(first_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  ASSERT_TRUE(second_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  absl::StatusOr<std::string> stored =
      store_->ReadResultChunks(1, 3, second.size(), 0, 0);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_TRUE(*stored == second) << "the chunks are not one copy's";
}

TEST_F(OutputKeeperTest, AnOutputOverTheBoundStaysHeld) {
  const v1::ObjectRef held = Held(0, Bytes(kMaxBytes + 1));
  absl::StatusOr<v1::ObjectRef> stored = KeepNow({1, 0, held});
  EXPECT_TRUE(absl::IsFailedPrecondition(stored.status())) << stored.status();
  EXPECT_THAT(stored.status().message(),
              HasSubstr("--max_stored_result_bytes=8388608"));
  EXPECT_EQ(serving_.holder.calls, 0);  // not even read
}

TEST_F(OutputKeeperTest, BytesThatDoNotMatchTheRecordAreNotStored) {
  v1::ObjectRef held = Held(0, "payload");
  serving_.holder.objects[held.key()] = "paylaod";  // same size, other bytes
  absl::StatusOr<v1::ObjectRef> stored = KeepNow({1, 0, held});
  EXPECT_TRUE(absl::IsDataLoss(stored.status())) << stored.status();
}

// A holder that streams past the size it announced is stopped there: dagd
// does not write what it sends to its store without end.
TEST_F(OutputKeeperTest, AHolderSendingMoreThanItsSizeIsStoppedThere) {
  v1::ObjectRef held = Held(0, "payload");
  serving_.holder.objects[held.key()] = Bytes(4 << 20);
  serving_.holder.reported_size = held.size();
  absl::StatusOr<v1::ObjectRef> stored = KeepNow({1, 0, held});
  EXPECT_TRUE(absl::IsDataLoss(stored.status())) << stored.status();
  EXPECT_THAT(stored.status().message(), HasSubstr("sent more than its 7"));
}

TEST_F(OutputKeeperTest, AGoneHolderIsUnavailable) {
  const v1::ObjectRef held = Held(0, "payload");
  serving_.Stop();
  absl::StatusOr<v1::ObjectRef> stored = KeepNow({1, 0, held});
  EXPECT_TRUE(absl::IsUnavailable(stored.status())) << stored.status();
}

}  // namespace
}  // namespace dagd
