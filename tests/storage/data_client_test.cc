// The DataService client against a fake holder on a loopback port: what it
// checks (size, CRC-32C), how it names failures, its retries when the
// holder is busy.
#include "storage/data_client.h"

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "storage/crc32c.h"
#include "storage/flow_control.h"
#include "tests/testutil/fake_clock.h"
#include "tests/testutil/fake_holder.h"

namespace dagd {
namespace {

using ::testing::HasSubstr;

class DataClientTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(serving_.address.empty());
    address_ = serving_.address;
  }

  // A DataClient whose waits advance the fake clock instead of sleeping.
  std::unique_ptr<DataClient> MakeClient(absl::Duration busy_deadline) {
    DataClientOptions options;
    options.busy_deadline = busy_deadline;
    options.clock = &clock_;
    options.sleep = [this](absl::Duration d) {
      slept_ += d;
      clock_.Advance(d);
    };
    options.uniform = [] { return 0.5; };
    return std::make_unique<DataClient>(options);
  }

  v1::ObjectRef Ref(const std::string& key, const std::string& data) {
    v1::ObjectRef ref;
    ref.set_key(key);
    ref.set_size(data.size());
    ref.set_crc32c(crc32c::Value(data));
    ref.set_content_type("text/plain");
    ref.mutable_holder()->set_instance("i-1");
    ref.mutable_holder()->set_address(address_);
    return ref;
  }

  FakeHolderServer serving_;
  FakeHolder& holder_ = serving_.holder;
  std::string address_;
  FakeClock clock_;
  absl::Duration slept_;
};

TEST_F(DataClientTest, FetchesAWholeObjectInChunks) {
  holder_.objects["k"] = "0123456789abcdef!";
  auto client = MakeClient(absl::Minutes(1));
  absl::StatusOr<StoredObject> object =
      client->Fetch(Ref("k", "0123456789abcdef!"));
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_EQ(object->data, "0123456789abcdef!");
  EXPECT_EQ(object->content_type, "text/plain");
}

TEST_F(DataClientTest, AnEmptyObjectIsFetched) {
  holder_.objects["k"] = "";
  auto client = MakeClient(absl::Minutes(1));
  absl::StatusOr<StoredObject> object = client->Fetch(Ref("k", ""));
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_EQ(object->data, "");
}

TEST_F(DataClientTest, FetchesARange) {
  holder_.objects["k"] = "0123456789";
  auto client = MakeClient(absl::Minutes(1));
  v1::ObjectRef ref = Ref("k", "0123456789");
  EXPECT_EQ(client->FetchRange(ref, 3, 5).value_or("?"), "34567");
  EXPECT_EQ(client->FetchRange(ref, 8, 100).value_or("?"), "89");
  EXPECT_EQ(client->FetchRange(ref, 11, 1).status().code(),
            absl::StatusCode::kOutOfRange);
}

TEST_F(DataClientTest, BytesThatDoNotMatchTheCrcAreDataLoss) {
  holder_.objects["k"] = "0123456789";
  auto client = MakeClient(absl::Minutes(1));
  v1::ObjectRef ref = Ref("k", "0123456780");  // same size, other bytes
  absl::StatusOr<StoredObject> object = client->Fetch(ref);
  EXPECT_EQ(object.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(object.status().message(), HasSubstr("'k'"));
  EXPECT_THAT(object.status().message(), HasSubstr(address_));
  EXPECT_THAT(object.status().message(), HasSubstr("CRC-32C"));
}

TEST_F(DataClientTest, AChunkThatIsNotAFetchChunkNamesTheObjectAndHolder) {
  holder_.objects["k"] = "0123456789";
  holder_.bad_chunk = true;
  auto client = MakeClient(absl::Minutes(1));
  absl::StatusOr<StoredObject> object = client->Fetch(Ref("k", "0123456789"));
  ASSERT_FALSE(object.ok());
  EXPECT_THAT(object.status().message(), HasSubstr("'k'"));
  EXPECT_THAT(object.status().message(), HasSubstr(address_));
  EXPECT_THAT(object.status().message(), HasSubstr("not a FetchChunk"));
}

TEST_F(DataClientTest, AnotherSizeAtTheHolderIsDataLoss) {
  holder_.objects["k"] = "0123456789";
  holder_.reported_size = 12;
  auto client = MakeClient(absl::Minutes(1));
  absl::StatusOr<std::string> range =
      client->FetchRange(Ref("k", "0123456789"), 0, 4);
  EXPECT_EQ(range.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(range.status().message(), HasSubstr("12 bytes"));
}

TEST_F(DataClientTest, AShortObjectIsDataLoss) {
  holder_.objects["k"] = "01234";
  holder_.reported_size = 10;
  auto client = MakeClient(absl::Minutes(1));
  absl::StatusOr<StoredObject> object = client->Fetch(Ref("k", "0123456789"));
  EXPECT_EQ(object.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(object.status().message(), HasSubstr("read 5 bytes"));
}

// A holder that streams past the size it announced (and dagd recorded) is
// stopped there: what it sends is not buffered without end.
TEST_F(DataClientTest, AHolderSendingMoreThanTheSizeIsStoppedThere) {
  holder_.objects["k"] = std::string(1 << 20, 'x');
  holder_.reported_size = 4;
  auto client = MakeClient(absl::Minutes(1));
  absl::StatusOr<StoredObject> object = client->Fetch(Ref("k", "xxxx"));
  EXPECT_EQ(object.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(object.status().message(),
              HasSubstr("sent more than the 4 bytes asked for"));
}

// An object recorded larger than this process can hold fails its fetch
// (every task of the worker would end with the process otherwise).
TEST_F(DataClientTest, AnObjectTooLargeToHoldIsRefusedNotACrash) {
  holder_.objects["k"] = "x";
  v1::ObjectRef ref = Ref("k", "x");
  ref.set_size(uint64_t{1} << 50);  // 1 PiB: past any address space here
  auto client = MakeClient(absl::Minutes(1));
  absl::StatusOr<StoredObject> object = client->Fetch(ref);
  EXPECT_EQ(object.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(object.status().message(), HasSubstr("more than this process"));
}

TEST_F(DataClientTest, AMissingObjectIsNotFoundNamingKeyAndHolder) {
  auto client = MakeClient(absl::Minutes(1));
  absl::StatusOr<StoredObject> object = client->Fetch(Ref("gone", "x"));
  EXPECT_EQ(object.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(object.status().message(),
              HasSubstr(absl::StrCat("'gone' from the holder at ", address_)));
}

TEST_F(DataClientTest, AnUnreachableHolderIsUnavailable) {
  auto client = MakeClient(absl::Minutes(1));
  v1::ObjectRef ref = Ref("k", "x");
  serving_.Stop();
  absl::StatusOr<StoredObject> object = client->Fetch(ref);
  EXPECT_EQ(object.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(object.status().message(), HasSubstr(address_));
  // Its channel is dropped, not kept reconnecting for as long as the
  // reader lives.
  EXPECT_EQ(client->channels(), 0u);
}

TEST_F(DataClientTest, ARefWithoutAnAddressIsRefused) {
  auto client = MakeClient(absl::Minutes(1));
  v1::ObjectRef ref = Ref("k", "x");
  ref.clear_holder();
  EXPECT_EQ(client->Fetch(ref).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(DataClientTest, ABusyHolderIsAskedAgainWithBackoff) {
  holder_.objects["k"] = "0123456789";
  holder_.busy = 3;
  auto client = MakeClient(absl::Minutes(1));
  absl::StatusOr<StoredObject> object = client->Fetch(Ref("k", "0123456789"));
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_EQ(holder_.calls, 4);
  // 10 ms, 20 ms, 40 ms steps, each scaled by 0.75 (uniform 0.5).
  EXPECT_EQ(slept_, absl::Microseconds(7500 + 15000 + 30000));
}

TEST_F(DataClientTest, AHolderBusyPastTheDeadlineIsResourceExhausted) {
  holder_.objects["k"] = "0123456789";
  holder_.busy = 1000;
  auto client = MakeClient(absl::Seconds(5));
  absl::StatusOr<StoredObject> object = client->Fetch(Ref("k", "0123456789"));
  EXPECT_EQ(object.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(object.status().message(), HasSubstr("stayed busy for 5s"));
  EXPECT_THAT(object.status().message(), HasSubstr("'k'"));
  EXPECT_LE(slept_, absl::Seconds(5));
  EXPECT_GE(slept_, absl::Seconds(4));
}

TEST_F(DataClientTest, ASinkErrorEndsTheRead) {
  holder_.objects["k"] = "0123456789";
  auto client = MakeClient(absl::Minutes(1));
  int chunks = 0;
  absl::Status read =
      client->Read(Ref("k", "0123456789"), 0, 0, [&](absl::string_view) {
        ++chunks;
        return absl::InternalError("disk full");
      });
  EXPECT_EQ(read.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(chunks, 1);
}

TEST_F(DataClientTest, CancelEndsAReadInFlight) {
  holder_.objects["k"] = "0123456789";
  holder_.stall_after_first = true;
  auto client = MakeClient(absl::Minutes(1));
  ReadCancel cancel;
  std::thread canceller([&] {
    holder_.stalled.WaitForNotification();
    cancel.Cancel();
  });
  absl::StatusOr<StoredObject> object =
      client->Fetch(Ref("k", "0123456789"), &cancel);
  canceller.join();
  holder_.release.Notify();
  EXPECT_EQ(object.status().code(), absl::StatusCode::kCancelled);
  // Cancelled before it starts: no call at all.
  const int calls = holder_.calls;
  EXPECT_EQ(client->Fetch(Ref("k", "0123456789"), &cancel).status().code(),
            absl::StatusCode::kCancelled);
  EXPECT_EQ(holder_.calls, calls);
}

// A holder whose connection is fine but which stops sending (a disk that
// hangs) ends the read UNAVAILABLE once it has sent nothing for the idle
// timeout, as a holder that cannot be reached: the read waited for as long
// as the holder did.
TEST_F(DataClientTest, AHolderSilentForTheIdleTimeoutIsUnavailable) {
  holder_.objects["k"] = "0123456789";
  holder_.stall_after_first = true;
  DataClientOptions options;
  options.idle_timeout = absl::Milliseconds(300);
  DataClient client(options);
  absl::StatusOr<StoredObject> object = client.Fetch(Ref("k", "0123456789"));
  holder_.release.Notify();
  EXPECT_EQ(object.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(object.status().message(), HasSubstr("'k' from the holder at"));
  EXPECT_THAT(object.status().message(), HasSubstr("sent nothing for 300ms"));
}

// The idle timeout bounds each wait, not the read: a holder slower in all
// than the timeout, but never silent that long, is read to the end.
TEST_F(DataClientTest, AHolderSlowButNeverSilentIsReadToTheEnd) {
  const std::string data(60, 'x');  // 15 chunks of 4 bytes
  holder_.objects["k"] = data;
  holder_.pause_between_chunks = absl::Milliseconds(100);
  DataClientOptions options;
  options.idle_timeout = absl::Seconds(1);
  DataClient client(options);
  absl::StatusOr<StoredObject> object = client.Fetch(Ref("k", data));
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_EQ(object->data, data);
}

TEST_F(DataClientTest, ReadsOfOneHolderShareAChannel) {
  auto client = MakeClient(absl::Minutes(1));
  EXPECT_EQ(client->ChannelTo(address_), client->ChannelTo(address_));
  EXPECT_NE(client->ChannelTo(address_), client->ChannelTo("127.0.0.1:1"));
}

// A worker's channel to dagd pings it when quiet and gives up on a dagd
// that does not answer (storage/flow_control.h), where TCP alone would wait
// some 15 minutes for a host that vanished.
TEST(FlowControlTest, ChannelsToDagdPingIt) {
  grpc::ChannelArguments args;
  SetFlowControl(args);
  const grpc_channel_args c = args.c_channel_args();
  absl::flat_hash_map<std::string, int> ints;
  for (size_t i = 0; i < c.num_args; ++i) {
    if (c.args[i].type == GRPC_ARG_INTEGER) {
      ints[c.args[i].key] = c.args[i].value.integer;
    }
  }
  auto value = [&ints](const char* key) {
    auto it = ints.find(key);
    return it == ints.end() ? -1 : it->second;  // -1: not set
  };
  EXPECT_EQ(value(GRPC_ARG_KEEPALIVE_TIME_MS), 30'000);
  EXPECT_EQ(value(GRPC_ARG_KEEPALIVE_TIMEOUT_MS), 10'000);
  EXPECT_EQ(value(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA), 0);
}

}  // namespace
}  // namespace dagd
