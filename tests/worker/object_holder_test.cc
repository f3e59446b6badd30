#include "worker/object_holder.h"

#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/crc32c.h"
#include "tests/worker/fake_spill_files.h"
#include "worker/temp_dir.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class ObjectHolderTest : public testing::Test {
 protected:
  // A holder of `limit` bytes of memory spilling into files_.
  void Make(uint64_t limit) {
    auto files = std::make_unique<FakeSpillFiles>();
    files_ = files.get();
    holder_ = std::make_unique<ObjectHolder>(limit, std::move(files));
  }

  std::string Read(const std::string& key) {
    absl::StatusOr<HeldObject> object = holder_->Get(key);
    EXPECT_TRUE(object.ok()) << object.status();
    return object.ok() ? *object->data : "";
  }

  FakeSpillFiles* files_ = nullptr;
  std::unique_ptr<ObjectHolder> holder_;
};

TEST_F(ObjectHolderTest, ReadersShareTheHeldBytes) {
  Make(1 << 20);
  absl::StatusOr<HeldObject> put = holder_->Put("k", "hello", "text/plain");
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->crc32c, crc32c::Value("hello"));
  absl::StatusOr<HeldObject> got = holder_->Get("k");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->data.get(), put->data.get());  // no copy
  EXPECT_EQ(*got->data, "hello");
  EXPECT_EQ(got->content_type, "text/plain");
  EXPECT_EQ(got->crc32c, put->crc32c);
  ObjectHolderStats stats = holder_->stats();
  EXPECT_EQ(stats.objects, 1u);
  EXPECT_EQ(stats.memory_bytes, 5u);
  EXPECT_EQ(stats.held_bytes, 5u);
  EXPECT_EQ(stats.spilled_bytes, 0u);
}

TEST_F(ObjectHolderTest, SpillsTheLeastRecentlyUsedBeyondTheBudget) {
  Make(10);
  ASSERT_TRUE(holder_->Put("a", "aaaa", "").ok());
  ASSERT_TRUE(holder_->Put("b", "bbbb", "").ok());
  EXPECT_EQ(Read("a"), "aaaa");  // b is now the least recently used
  ASSERT_TRUE(holder_->Put("c", "cccc", "").ok());
  EXPECT_FALSE(holder_->GetIfInMemory("b").has_value());
  EXPECT_TRUE(holder_->GetIfInMemory("a").has_value());
  EXPECT_TRUE(holder_->GetIfInMemory("c").has_value());
  ObjectHolderStats stats = holder_->stats();
  EXPECT_EQ(stats.memory_bytes, 8u);
  EXPECT_EQ(stats.spilled_bytes, 4u);
  EXPECT_EQ(stats.held_bytes, 12u);
  EXPECT_EQ(stats.spills, 1u);
  EXPECT_EQ(files_->files(), 1u);
}

TEST_F(ObjectHolderTest, ASpilledObjectIsReadBackWithItsBytes) {
  Make(10);
  ASSERT_TRUE(holder_->Put("a", "aaaa", "application/json").ok());
  ASSERT_TRUE(holder_->Put("b", "bbbb", "").ok());
  ASSERT_TRUE(holder_->Put("c", "cccc", "").ok());  // spills a
  absl::StatusOr<HeldObject> a = holder_->Get("a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a->data, "aaaa");
  EXPECT_EQ(a->content_type, "application/json");
  EXPECT_EQ(a->crc32c, crc32c::Value("aaaa"));
  // Back in memory as the most recently used; b (now last) made room.
  EXPECT_TRUE(holder_->GetIfInMemory("a").has_value());
  EXPECT_FALSE(holder_->GetIfInMemory("b").has_value());
  ObjectHolderStats stats = holder_->stats();
  EXPECT_EQ(stats.restores, 1u);
  EXPECT_LE(stats.memory_bytes, 10u);
  EXPECT_EQ(stats.held_bytes, 12u);
  EXPECT_EQ(Read("b"), "bbbb");
  EXPECT_EQ(Read("c"), "cccc");
}

TEST_F(ObjectHolderTest, AnObjectReadBackIsNotWrittenAgain) {
  Make(4);
  ASSERT_TRUE(holder_->Put("a", "aaaa", "").ok());
  ASSERT_TRUE(holder_->Put("b", "bbbb", "").ok());  // spills a
  EXPECT_EQ(Read("a"), "aaaa");                     // spills b, keeps a's file
  EXPECT_EQ(Read("b"), "bbbb");  // drops a: its file is there
  EXPECT_EQ(files_->writes(), 2);
  EXPECT_EQ(Read("a"), "aaaa");
}

TEST_F(ObjectHolderTest, ReleaseFreesMemoryAndFile) {
  Make(4);
  ASSERT_TRUE(holder_->Put("a", "aaaa", "").ok());
  ASSERT_TRUE(holder_->Put("b", "bbbb", "").ok());  // spills a
  ASSERT_EQ(files_->files(), 1u);
  holder_->Release("a");
  holder_->Release("b");
  holder_->Release("never held");
  EXPECT_EQ(files_->files(), 0u);
  ObjectHolderStats stats = holder_->stats();
  EXPECT_EQ(stats.objects, 0u);
  EXPECT_EQ(stats.memory_bytes, 0u);
  EXPECT_EQ(stats.spilled_bytes, 0u);
  EXPECT_EQ(stats.held_bytes, 0u);
  EXPECT_EQ(holder_->Get("a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(holder_->Get("b").status().message(), HasSubstr("'b'"));
}

TEST_F(ObjectHolderTest, RangesAreReadFromMemoryOrFromTheSpillFileAlone) {
  Make(10);
  ASSERT_TRUE(holder_->Put("a", "0123456789", "text/plain").ok());
  ASSERT_TRUE(holder_->Put("b", "abcdefghij", "").ok());  // spills a
  absl::StatusOr<HeldInfo> info = holder_->Stat("a");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, 10u);
  EXPECT_EQ(info->content_type, "text/plain");
  EXPECT_EQ(info->crc32c, crc32c::Value("0123456789"));
  EXPECT_EQ(holder_->ReadRange("a", 2, 3).value_or("?"), "234");
  EXPECT_EQ(holder_->ReadRange("a", 8, 100).value_or("?"), "89");
  EXPECT_EQ(holder_->ReadRange("a", 10, 1).value_or("?"), "");
  EXPECT_EQ(holder_->ReadRange("b", 0, 4).value_or("?"), "abcd");
  EXPECT_EQ(files_->ranges_read(), 3);
  EXPECT_FALSE(holder_->GetIfInMemory("a").has_value());  // not brought back
  EXPECT_EQ(holder_->ReadRange("a", 11, 1).status().code(),
            absl::StatusCode::kOutOfRange);
  holder_->Release("a");
  EXPECT_EQ(holder_->ReadRange("a", 0, 1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(holder_->Stat("a").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ObjectHolderTest, AReaderKeepsTheBytesOfAReleasedObject) {
  Make(1 << 20);
  ASSERT_TRUE(holder_->Put("a", "aaaa", "").ok());
  absl::StatusOr<HeldObject> reader = holder_->Get("a");
  ASSERT_TRUE(reader.ok());
  holder_->Release("a");
  EXPECT_EQ(*reader->data, "aaaa");
  EXPECT_EQ(holder_->stats().memory_bytes, 0u);
}

TEST_F(ObjectHolderTest, AnObjectOverTheWholeBudgetGoesStraightToItsFile) {
  Make(10);
  ASSERT_TRUE(holder_->Put("small", "ssss", "").ok());
  ASSERT_TRUE(holder_->Put("big", std::string(11, 'x'), "").ok());
  EXPECT_TRUE(holder_->GetIfInMemory("small").has_value());  // not evicted
  EXPECT_FALSE(holder_->GetIfInMemory("big").has_value());
  EXPECT_EQ(Read("big"), std::string(11, 'x'));
  EXPECT_FALSE(holder_->GetIfInMemory("big").has_value());  // never cached
  EXPECT_EQ(holder_->stats().memory_bytes, 4u);
  EXPECT_EQ(holder_->stats().spilled_bytes, 11u);
}

// Readers of a spilled object that come while it is read back share that
// one read: each read its own copy, so N readers of an object over the
// budget held N copies at once. A failed read fails them all alike.
TEST_F(ObjectHolderTest, ConcurrentReadersOfASpilledObjectShareOneRead) {
  for (const bool fits : {true, false}) {
    Make(fits ? 100 : 10);
    const std::string bytes(fits ? 60 : 11, 'x');
    ASSERT_TRUE(holder_->Put("k", bytes, "").ok());
    ASSERT_TRUE(holder_->Put("other", std::string(60, 'y'), "").ok());
    ASSERT_FALSE(holder_->GetIfInMemory("k").has_value());
    files_->HoldReads();
    std::vector<absl::StatusOr<HeldObject>> got(4);
    std::vector<std::thread> readers;
    for (auto& out : got) {
      readers.emplace_back([&out, this] { out = holder_->Get("k"); });
    }
    ASSERT_TRUE(files_->WaitForHeldReads(1, absl::Seconds(10)));
    absl::SleepFor(absl::Milliseconds(50));  // the others come meanwhile
    EXPECT_FALSE(files_->WaitForHeldReads(2, absl::ZeroDuration()));
    files_->OpenReads();
    for (std::thread& reader : readers) reader.join();
    for (const auto& out : got) {
      ASSERT_TRUE(out.ok()) << out.status();
      EXPECT_EQ(*out->data, bytes);
      EXPECT_EQ(out->data.get(), got[0]->data.get()) << "one copy";
    }
  }
  Make(10);
  ASSERT_TRUE(holder_->Put("k", std::string(11, 'x'), "").ok());
  files_->CorruptReads();
  files_->HoldReads();
  std::vector<absl::Status> failed(2);
  std::vector<std::thread> readers;
  for (auto& out : failed) {
    readers.emplace_back([&out, this] { out = holder_->Get("k").status(); });
  }
  ASSERT_TRUE(files_->WaitForHeldReads(1, absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(50));
  files_->OpenReads();
  for (std::thread& reader : readers) reader.join();
  for (const absl::Status& status : failed) {
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  }
}

// Later readers share the bytes too while any reader still has them: an
// object over the whole budget (never kept) or dropped from memory was
// read from its file again by each reader, however many copies were out.
TEST_F(ObjectHolderTest, ReadersShareTheBytesAnotherReaderStillHas) {
  Make(10);
  ASSERT_TRUE(holder_->Put("big", std::string(11, 'x'), "").ok());
  absl::StatusOr<HeldObject> a = holder_->Get("big");
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<HeldObject> b = holder_->Get("big");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->data.get(), b->data.get());
  EXPECT_EQ(files_->whole_reads(), 1);
  // Without a read, for callers that must not block.
  EXPECT_EQ(holder_->GetIfInMemory("big")->data.get(), a->data.get());
  a->data.reset();
  b->data.reset();
  EXPECT_EQ(Read("big"), std::string(11, 'x'));  // nobody had it: read
  EXPECT_EQ(files_->whole_reads(), 2);
  // Dropped from memory (spilled to make room) while a reader has it.
  ASSERT_TRUE(holder_->Put("k", "kkkkkk", "").ok());
  absl::StatusOr<HeldObject> kept = holder_->Get("k");
  ASSERT_TRUE(holder_->Put("other", "oooooo", "").ok());
  ASSERT_EQ(holder_->stats().memory_bytes, 6u) << "only 'other' is held";
  absl::StatusOr<HeldObject> again = holder_->Get("k");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->data.get(), kept->data.get());
  EXPECT_EQ(files_->whole_reads(), 2);
}

// Memory with no room for an object read back (std::bad_alloc) fails the
// read, naming the object, not the worker; readers waiting for that read
// are answered, and later ones too.
TEST_F(ObjectHolderTest, AReadBackWithoutMemoryFailsTheReadNotTheWorker) {
  Make(10);
  ASSERT_TRUE(holder_->Put("big", std::string(11, 'x'), "").ok());
  files_->ThrowOnRead();
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<HeldObject> got = holder_->Get("big");
    EXPECT_EQ(got.status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_THAT(got.status().message(),
                HasSubstr("object 'big' (11 bytes) cannot be read back"));
  }
}

TEST_F(ObjectHolderTest, PutReplacesTheObjectOfTheSameKey) {
  Make(4);
  ASSERT_TRUE(holder_->Put("a", "aaaa", "").ok());
  ASSERT_TRUE(holder_->Put("b", "bbbb", "").ok());  // spills a
  ASSERT_TRUE(holder_->Put("a", "AA", "").ok());    // a's file goes
  EXPECT_EQ(Read("a"), "AA");
  EXPECT_EQ(holder_->stats().held_bytes, 6u);
  EXPECT_THAT(holder_->Keys(), UnorderedElementsAre("a", "b"));
}

TEST_F(ObjectHolderTest, MemoryNeverStaysOverTheBudget) {
  Make(100);
  std::mt19937 random(7);
  for (int i = 0; i < 200; ++i) {
    const std::string key = absl::StrCat("k", random() % 20);
    switch (random() % 3) {
      case 0:
        ASSERT_TRUE(
            holder_->Put(key, std::string(random() % 60, 'a' + i % 26), "")
                .ok());
        break;
      case 1:
        holder_->Get(key).IgnoreError();
        break;
      default:
        holder_->Release(key);
    }
    ASSERT_LE(holder_->stats().memory_bytes, 100u) << "step " << i;
  }
}

TEST_F(ObjectHolderTest, AFullDiskRefusesTheNewObjectAndKeepsTheOld) {
  Make(8);
  ASSERT_TRUE(holder_->Put("a", "aaaa", "").ok());
  ASSERT_TRUE(holder_->Put("b", "bbbb", "").ok());
  files_->FailWrites(absl::ResourceExhaustedError("No space left on device"));
  absl::StatusOr<HeldObject> c = holder_->Put("c", "cccc", "");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(c.status().message(), HasSubstr("/fake/spill"));
  EXPECT_THAT(c.status().message(), HasSubstr("No space left on device"));
  EXPECT_EQ(holder_->Get("c").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Read("a"), "aaaa");
  EXPECT_EQ(Read("b"), "bbbb");
  EXPECT_LE(holder_->stats().memory_bytes, 8u);
  files_->FailWrites(absl::OkStatus());
  EXPECT_TRUE(holder_->Put("c", "cccc", "").ok());
}

// Spilled objects read back while the disk is full leave memory again
// (they still have their files), though the objects never spilled cannot.
TEST_F(ObjectHolderTest, ObjectsReadBackWhileTheDiskIsFullStayInTheBudget) {
  Make(8);
  for (const char* key : {"a", "b", "c", "d", "e"}) {
    ASSERT_TRUE(holder_->Put(key, std::string(4, key[0]), "").ok());
  }  // a, b and c spilled
  files_->FailWrites(absl::ResourceExhaustedError("No space left on device"));
  for (const char* key : {"a", "b", "c"}) {
    EXPECT_EQ(Read(key), std::string(4, key[0]));
    EXPECT_LE(holder_->stats().memory_bytes, 8u) << "after reading " << key;
  }
  EXPECT_EQ(Read("d"), "dddd");
  EXPECT_EQ(Read("e"), "eeee");
}

TEST_F(ObjectHolderTest, AnObjectOverTheBudgetThatCannotBeSpilledIsRefused) {
  Make(4);
  files_->FailWrites(absl::ResourceExhaustedError("No space left on device"));
  absl::StatusOr<HeldObject> put = holder_->Put("big", "0123456789", "");
  EXPECT_EQ(put.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(put.status().message(), HasSubstr("10 bytes"));
  EXPECT_EQ(holder_->stats().objects, 0u);
}

TEST_F(ObjectHolderTest, ASpillFileThatReadsBackWrongIsDataLoss) {
  Make(4);
  ASSERT_TRUE(holder_->Put("a", "aaaa", "").ok());
  ASSERT_TRUE(holder_->Put("b", "bbbb", "").ok());  // spills a
  files_->CorruptReads();
  absl::StatusOr<HeldObject> a = holder_->Get("a");
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(a.status().message(), HasSubstr("CRC-32C"));
}

TEST_F(ObjectHolderTest, ConcurrentUseKeepsEveryObjectIntact) {
  Make(64 << 10);
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(t);
      for (int i = 0; i < 300; ++i) {
        // Each key's bytes say which key they are, so any mix-up shows.
        const int n = random() % 16;
        const std::string key = absl::StrCat("k", n);
        const std::string bytes(8 << 10, static_cast<char>('a' + n));
        switch (random() % 4) {
          case 0:
            holder_->Put(key, bytes, "").IgnoreError();
            break;
          case 1:
            holder_->Release(key);
            break;
          default:
            if (auto object = holder_->Get(key); object.ok()) {
              if (*object->data != bytes) ++bad;
            }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(bad, 0);
  EXPECT_LE(holder_->stats().memory_bytes, 64u << 10);
  for (const std::string& key : holder_->Keys()) holder_->Release(key);
  EXPECT_EQ(holder_->stats().held_bytes, 0u);
  EXPECT_EQ(files_->files(), 0u);
}

TEST(SpillDirectoryTest, SpillsIntoAPrivateDirectoryRemovedAtTheEnd) {
  auto parent = TempDir::Create("dagd-holder-test-");
  ASSERT_TRUE(parent.ok());
  std::string dir;
  {
    auto files = MakeSpillDirectory((*parent)->path());
    ASSERT_TRUE(files.ok()) << files.status();
    dir = (*files)->Describe();
    EXPECT_EQ(std::filesystem::path(dir).parent_path(), (*parent)->path());
    ObjectHolder holder(3 << 20, *std::move(files));
    std::vector<std::string> objects;
    std::mt19937 random(1);
    for (int i = 0; i < 6; ++i) {
      std::string bytes(1 << 20, '\0');
      for (char& c : bytes) c = static_cast<char>(random());
      objects.push_back(bytes);
      ASSERT_TRUE(holder
                      .Put(absl::StrCat("results/j1/", i, "/1"), bytes,
                           "application/octet-stream")
                      .ok());
    }
    EXPECT_EQ(holder.stats().spilled_bytes, 3u << 20);
    auto range = holder.ReadRange("results/j1/0/1", 1000, 10);  // spilled
    ASSERT_TRUE(range.ok()) << range.status();
    EXPECT_EQ(*range, objects[0].substr(1000, 10));
    for (int i = 0; i < 6; ++i) {
      auto object = holder.Get(absl::StrCat("results/j1/", i, "/1"));
      ASSERT_TRUE(object.ok()) << object.status();
      EXPECT_TRUE(*object->data == objects[i]) << "object " << i;
    }
    for (int i = 0; i < 6; ++i) {
      holder.Release(absl::StrCat("results/j1/", i, "/1"));
    }
    EXPECT_TRUE(std::filesystem::is_empty(dir));
    EXPECT_EQ(holder.stats().spilled_bytes, 0u);
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(SpillDirectoryTest, AMissingParentIsAnError) {
  auto files = MakeSpillDirectory("/nonexistent/dagd");
  EXPECT_FALSE(files.ok());
  EXPECT_THAT(files.status().message(), HasSubstr("/nonexistent/dagd"));
}

}  // namespace
}  // namespace dagd
