// A --data_dir dagd cannot use stops it at start: exit 1, a message naming
// the directory and the problem, and nothing in the directory changed.
// (Tests run as root, so permissions cannot make a directory unwritable;
// a path through a regular file can.)
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "rocksdb/db.h"
#include "tests/integration/integration_env.h"

namespace dagd::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// Starting dagd on `data_dir` fails; the error (with dagd's log).
absl::Status StartFails(const std::string& data_dir) {
  DagdOptions options;
  options.binaries = BuiltBinaries();
  options.data_dir = data_dir;
  absl::StatusOr<std::unique_ptr<DagdProcess>> dagd =
      DagdProcess::Start(std::move(options));
  if (dagd.ok()) return absl::OkStatus();
  return dagd.status();
}

class DataDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create("dagd-dd-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *std::move(dir);
    data_dir_ = dir_->path() + "/db";
  }

  // Runs a dagd on data_dir_ that accepts a job it cannot run (no worker
  // offers its fn) and stops; the job's id.
  std::string MakeDatabaseWithAJob() {
    std::unique_ptr<DagdProcess> dagd = StartDagd({}, data_dir_);
    if (dagd == nullptr) return "";
    CommandResult submit = dagd->RunDagctl(
        {"submit", "-"}, R"({"tasks": [{"id": "w", "fn": "nosuchfn"}]})");
    EXPECT_EQ(submit.exit_code, 0) << submit.ToString();
    EXPECT_EQ(dagd->Stop(), absl::OkStatus());
    return FirstLine(submit.out);
  }

  // A dagd on data_dir_ again serves `job_id` as it was.
  void ExpectJobServed(const std::string& job_id) {
    std::unique_ptr<DagdProcess> dagd = StartDagd({}, data_dir_);
    ASSERT_NE(dagd, nullptr);
    absl::StatusOr<v1::TaskStatus> w = dagd->client().Task(job_id, "w");
    ASSERT_TRUE(w.ok()) << w.status();
    EXPECT_EQ(w->state(), v1::TASK_READY);
    EXPECT_EQ(dagd->Stop(), absl::OkStatus());
  }

  std::unique_ptr<TempDir> dir_;
  std::string data_dir_;
};

TEST_F(DataDirTest, ParentIsARegularFile) {
  const std::string file = dir_->path() + "/not-a-dir";
  ASSERT_EQ(WriteFile(file, "precious\n"), absl::OkStatus());
  const std::string data_dir = file + "/db";
  absl::Status start = StartFails(data_dir);
  ASSERT_FALSE(start.ok()) << "dagd started on " << data_dir;
  EXPECT_THAT(start.message(),
              AllOf(HasSubstr("dagd did not start (exit 1)"),
                    HasSubstr(absl::StrCat("--data_dir '", data_dir, "'")),
                    HasSubstr("Not a directory")));
  EXPECT_EQ(ReadFileOrEmpty(file), "precious\n");
}

TEST_F(DataDirTest, IsARegularFile) {
  ASSERT_EQ(WriteFile(data_dir_, "precious\n"), absl::OkStatus());
  absl::Status start = StartFails(data_dir_);
  ASSERT_FALSE(start.ok()) << "dagd started on " << data_dir_;
  EXPECT_THAT(start.message(),
              AllOf(HasSubstr("dagd did not start (exit 1)"),
                    HasSubstr(absl::StrCat("--data_dir '", data_dir_, "'"))));
  EXPECT_EQ(ReadFileOrEmpty(data_dir_), "precious\n");
}

TEST_F(DataDirTest, GarbageCurrentFileIsRefused) {
  const std::string job_id = MakeDatabaseWithAJob();
  ASSERT_FALSE(job_id.empty());
  const std::string current = data_dir_ + "/CURRENT";
  const std::string good = ReadFileOrEmpty(current);
  ASSERT_FALSE(good.empty());
  ASSERT_EQ(WriteFile(current, "\x01garbage"), absl::OkStatus());

  absl::Status start = StartFails(data_dir_);
  ASSERT_FALSE(start.ok()) << "dagd started on a garbage CURRENT";
  EXPECT_THAT(start.message(),
              AllOf(HasSubstr("dagd did not start (exit 1)"),
                    HasSubstr(absl::StrCat("--data_dir '", data_dir_, "'")),
                    HasSubstr("Corruption")));
  // dagd did not start a fresh database over the broken one.
  EXPECT_EQ(ReadFileOrEmpty(current), "\x01garbage");
  ASSERT_EQ(WriteFile(current, good), absl::OkStatus());
  ExpectJobServed(job_id);
}

TEST_F(DataDirTest, GarbageManifestIsRefused) {
  const std::string job_id = MakeDatabaseWithAJob();
  ASSERT_FALSE(job_id.empty());
  const std::string manifest = data_dir_ + "/" +
                               std::string(absl::StripAsciiWhitespace(
                                   ReadFileOrEmpty(data_dir_ + "/CURRENT")));
  const std::string good = ReadFileOrEmpty(manifest);
  ASSERT_FALSE(good.empty()) << manifest;
  const std::string garbage(good.size(), '\x5a');
  ASSERT_EQ(WriteFile(manifest, garbage), absl::OkStatus());

  absl::Status start = StartFails(data_dir_);
  ASSERT_FALSE(start.ok()) << "dagd started on a garbage MANIFEST";
  EXPECT_THAT(start.message(),
              AllOf(HasSubstr("dagd did not start (exit 1)"),
                    HasSubstr(absl::StrCat("--data_dir '", data_dir_, "'")),
                    HasSubstr("Corruption")));
  EXPECT_EQ(ReadFileOrEmpty(manifest), garbage);
  ASSERT_EQ(WriteFile(manifest, good), absl::OkStatus());
  ExpectJobServed(job_id);
}

// RocksDB's own view of dagd's database, to damage one record.
class RawDatabase {
 public:
  explicit RawDatabase(const std::string& dir) {
    std::vector<std::string> names;
    rocksdb::Status s =
        rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& name : names) {
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    rocksdb::DB* db = nullptr;
    s = rocksdb::DB::Open(rocksdb::DBOptions(), dir, families, &handles_, &db);
    EXPECT_TRUE(s.ok()) << s.ToString();
    db_.reset(db);
    for (size_t i = 0; i < handles_.size(); ++i) by_name_[names[i]] = i;
  }
  ~RawDatabase() {
    for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
    if (db_ != nullptr) db_->Close();
  }

  std::string Get(const std::string& family, const std::string& key) {
    std::string value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), Family(family), key, &value);
    EXPECT_TRUE(s.ok()) << family << ": " << s.ToString();
    return value;
  }
  void Put(const std::string& family, const std::string& key,
           const std::string& value) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    rocksdb::Status s = db_->Put(sync, Family(family), key, value);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

 private:
  rocksdb::ColumnFamilyHandle* Family(const std::string& name) {
    return handles_.at(by_name_.at(name));
  }

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::map<std::string, size_t> by_name_;
};

// The jobs family's key of job `seq`: 8 bytes, big-endian.
std::string SeqKey(uint64_t seq) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i, seq >>= 8) key[i] = static_cast<char>(seq);
  return key;
}

TEST_F(DataDirTest, CorruptJobRecordIsRefusedAndNothingIsWritten) {
  const std::string job_id = MakeDatabaseWithAJob();
  ASSERT_EQ(job_id, "j1");
  std::string good;
  std::string incarnation;
  {
    RawDatabase db(data_dir_);
    good = db.Get("jobs", SeqKey(1));
    incarnation = db.Get("meta", "incarnation");
    db.Put("jobs", SeqKey(1), "\xff\xff\xff garbage");
  }

  absl::Status start = StartFails(data_dir_);
  ASSERT_FALSE(start.ok()) << "dagd started on a corrupt job record";
  EXPECT_THAT(start.message(),
              AllOf(HasSubstr("dagd did not start (exit 1)"),
                    HasSubstr(absl::StrCat("--data_dir '", data_dir_, "'")),
                    HasSubstr("does not parse")));
  {
    // The failed start wrote nothing: not even a count of its start.
    RawDatabase db(data_dir_);
    EXPECT_EQ(db.Get("jobs", SeqKey(1)), "\xff\xff\xff garbage");
    EXPECT_EQ(db.Get("meta", "incarnation"), incarnation);
    db.Put("jobs", SeqKey(1), good);
  }
  ExpectJobServed(job_id);
}

}  // namespace
}  // namespace dagd::testing
