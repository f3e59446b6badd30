// RocksMetaStore's indexes and schema versions: the index of unfinished
// jobs and the index of jobs by tenant, built at the first open of a
// directory an older dagd wrote, and a newer schema refused.
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/rocksdb_meta_store.h"
#include "tests/storage/rocks_store_fixture.h"
#include "tests/testutil/raw_rocksdb.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using RocksIndexTest = testing::RocksStoreTest;

// The ids of `tenant`'s jobs below `before`, newest first, from a view.
std::vector<std::string> TenantJobIds(RocksMetaStore& store,
                                      absl::string_view tenant, uint64_t before,
                                      size_t limit) {
  std::vector<std::string> out;
  auto view = store.NewReadView();
  EXPECT_TRUE(view.ok()) << view.status();
  if (!view.ok()) return out;
  auto jobs = (*view)->ListTenantJobStatuses(tenant, before, limit);
  EXPECT_TRUE(jobs.ok()) << jobs.status();
  if (!jobs.ok()) return out;
  for (const v1::JobStatus& job : *jobs) out.push_back(job.job_id());
  return out;
}

// A database written before the index existed (schema 1) gets the index at
// its first open, from one scan of every job; later opens do not scan.
TEST_F(RocksIndexTest, OldDatabaseGetsItsIndexBuiltOnceAtOpen) {
  {
    auto store = Open();
    Add(*store, 1, 2, /*finished=*/true);
    Add(*store, 2, 2, /*finished=*/false);
    Add(*store, 3, 1, /*finished=*/true);
    Add(*store, 4, 1, /*finished=*/false);
  }
  {
    // What the previous version left: no index, schema 1.
    auto raw = OpenRaw();
    ASSERT_NE(raw, nullptr);
    ASSERT_TRUE(raw->DeletePrefix("meta", "unfinished/").ok());
    ASSERT_TRUE(raw->Put("meta", "schema_version", "1").ok());
  }
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    auto jobs = store->LoadUnfinishedJobs();
    ASSERT_TRUE(jobs.ok()) << jobs.status();
    EXPECT_THAT(Seqs(*jobs), ElementsAre(2u, 4u));
  }
  {
    auto raw = OpenRaw();
    ASSERT_NE(raw, nullptr);
    EXPECT_EQ(raw->Get("meta", "schema_version").value_or(""), "4");
    // A job record that cannot be read would fail a scan; the next open
    // does none.
    ASSERT_TRUE(raw->Put("jobs", testing::RawRocksDb::SeqKey(1),
                         "\x07"
                         "bad")
                    .ok());
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(Seqs(*store->LoadUnfinishedJobs()), ElementsAre(2u, 4u));
}

TEST_F(RocksIndexTest, NewerSchemaIsRefusedWithItsVersion) {
  { auto store = Open(); }
  {
    auto raw = OpenRaw();
    ASSERT_TRUE(raw->Put("meta", "schema_version", "5").ok());
  }
  auto store = RocksMetaStore::Open(dir_.string());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("schema version '5'"));
}

// Schema 2 has no result kept in the object store: it is taken as it is,
// and marked 3 so that builds that cannot read such results refuse it.
TEST_F(RocksIndexTest, SchemaTwoIsUpgradedInPlace) {
  {
    auto store = Open();
    Add(*store, 1, 2, /*finished=*/false);
  }
  {
    auto raw = OpenRaw();
    ASSERT_TRUE(raw->Put("meta", "schema_version", "2").ok());
  }
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_THAT(Seqs(*store->LoadUnfinishedJobs()), ElementsAre(1u));
  }
  auto raw = OpenRaw();
  EXPECT_EQ(raw->Get("meta", "schema_version").value_or(""), "4");
}

// A tenant's jobs, newest first, from the index of jobs by tenant: the
// other tenants' records are not read (one that does not parse is no
// matter), and a deleted job leaves the index.
TEST_F(RocksIndexTest, ATenantsJobsAreListedFromItsIndex) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    for (uint64_t seq = 1; seq <= 6; ++seq) {
      Add(*store, seq, 1, /*finished=*/true, "",
          seq % 3 == 1   ? "alpha"
          : seq % 3 == 2 ? "beta"
                         : "");
    }
  }
  {
    auto raw = OpenRaw();
    ASSERT_NE(raw, nullptr);
    ASSERT_TRUE(raw->Put("jobs", testing::RawRocksDb::SeqKey(2),
                         "\x07"
                         "bad")
                    .ok());
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto ids = [&](absl::string_view tenant, uint64_t before, size_t limit) {
    return TenantJobIds(*store, tenant, before, limit);
  };
  EXPECT_THAT(ids("alpha", UINT64_MAX, 10),
              ElementsAre(JobIdFromSeq(4), JobIdFromSeq(1)));
  EXPECT_THAT(ids("alpha", 4, 10), ElementsAre(JobIdFromSeq(1)));
  EXPECT_THAT(ids("alpha", UINT64_MAX, 1), ElementsAre(JobIdFromSeq(4)));
  EXPECT_THAT(ids("alph", UINT64_MAX, 10), IsEmpty());
  EXPECT_THAT(ids("", UINT64_MAX, 10), IsEmpty()) << "no tenant: no index";
  ASSERT_EQ(store->DeleteJob(4, /*sync=*/false), absl::OkStatus());
  EXPECT_THAT(ids("alpha", UINT64_MAX, 10), ElementsAre(JobIdFromSeq(1)));
}

// A directory of schema 3 (no index of jobs by tenant) gets the index at
// its first open.
TEST_F(RocksIndexTest, SchemaThreeGetsTheTenantIndexAtOpen) {
  {
    auto store = Open();
    Add(*store, 1, 1, /*finished=*/true, "", "alpha");
    Add(*store, 2, 1, /*finished=*/false, "", "beta");
    Add(*store, 3, 1, /*finished=*/true, "", "alpha");
  }
  {
    auto raw = OpenRaw();
    ASSERT_NE(raw, nullptr);
    ASSERT_TRUE(raw->DeletePrefix("meta", "tenant/").ok());
    ASSERT_TRUE(raw->Put("meta", "schema_version", "3").ok());
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(TenantJobIds(*store, "alpha", UINT64_MAX, 10),
              ElementsAre(JobIdFromSeq(3), JobIdFromSeq(1)));
  EXPECT_THAT(Seqs(*store->LoadUnfinishedJobs()), ElementsAre(2u));
  store.reset();
  EXPECT_EQ(OpenRaw()->Get("meta", "schema_version").value_or(""), "4");
}

}  // namespace
}  // namespace dagd
