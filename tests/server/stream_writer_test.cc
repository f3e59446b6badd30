#include "server/stream_writer.h"

#include <vector>

#include "dagd/v1/worker_service.pb.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

// What StreamWriter asks of a reactor, recorded.
struct FakeReactor {
  void StartWrite(const v1::CoordinatorMessage* message) {
    writes.push_back(*message);
  }
  void Finish(grpc::Status status) {
    ++finishes;
    finished_with = status;
  }
  void CancelCall() { ++cancels; }

  std::vector<v1::CoordinatorMessage> writes;
  int finishes = 0;
  int cancels = 0;
  grpc::Status finished_with;
};

v1::CoordinatorMessage Message(uint64_t acked) {
  v1::CoordinatorMessage message;
  message.mutable_batch()->set_acked_up_to(acked);
  return message;
}

TEST(StreamWriterTest, FinishAfterWritesWaitsForTheWriteInFlight) {
  FakeReactor reactor;
  StreamWriter<FakeReactor, v1::CoordinatorMessage> writer(&reactor);
  writer.Push(Message(1));
  writer.Push(Message(2));
  writer.FinishAfterWrites(grpc::Status(grpc::StatusCode::UNAVAILABLE, "bye"));
  EXPECT_EQ(reactor.finishes, 0);
  writer.WriteDone(true);
  ASSERT_EQ(reactor.writes.size(), 2u);
  EXPECT_EQ(reactor.finishes, 0);
  writer.WriteDone(true);
  EXPECT_EQ(reactor.finishes, 1);
  EXPECT_EQ(reactor.cancels, 0);
}

// A reader dagd gave up on may never read the write in flight (its
// connection half open): the call is cancelled, which ends that write, and
// the stream finishes with the reason, sending nothing queued behind it.
TEST(StreamWriterTest, AbandonCancelsTheCallOfAWriteInFlight) {
  FakeReactor reactor;
  StreamWriter<FakeReactor, v1::CoordinatorMessage> writer(&reactor, 1 << 20);
  writer.Push(Message(1));
  writer.Push(Message(2));
  writer.Abandon(grpc::Status(grpc::StatusCode::UNAVAILABLE, "lost"));
  EXPECT_EQ(reactor.cancels, 1);
  EXPECT_EQ(reactor.finishes, 0);  // gRPC still holds the write
  writer.WriteDone(false);         // what the cancellation brings
  ASSERT_EQ(reactor.writes.size(), 1u);
  EXPECT_EQ(reactor.finishes, 1);
  EXPECT_EQ(reactor.finished_with.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(reactor.finished_with.error_message(), "lost");
  writer.Abandon(grpc::Status::OK);  // finished already: nothing more
  EXPECT_EQ(reactor.finishes, 1);
}

TEST(StreamWriterTest, AbandonWithNothingInFlightFinishesAtOnce) {
  FakeReactor reactor;
  StreamWriter<FakeReactor, v1::CoordinatorMessage> writer(&reactor);
  writer.Abandon(grpc::Status(grpc::StatusCode::UNAVAILABLE, "lost"));
  EXPECT_EQ(reactor.finishes, 1);
  EXPECT_EQ(reactor.cancels, 0);
  // Even after FinishAfterWrites finished it, Abandon finishes nothing
  // twice.
  FakeReactor other;
  StreamWriter<FakeReactor, v1::CoordinatorMessage> second(&other);
  second.FinishAfterWrites(grpc::Status::OK);
  second.Abandon(grpc::Status(grpc::StatusCode::UNAVAILABLE, "lost"));
  EXPECT_EQ(other.finishes, 1);
  EXPECT_EQ(other.cancels, 0);
}

// After the reactor is gone (OnDone), nothing reaches it.
TEST(StreamWriterTest, AbandonAfterDetachTouchesNoReactor) {
  FakeReactor reactor;
  StreamWriter<FakeReactor, v1::CoordinatorMessage> writer(&reactor);
  writer.Push(Message(1));
  writer.Detach();
  writer.Abandon(grpc::Status(grpc::StatusCode::UNAVAILABLE, "lost"));
  EXPECT_EQ(reactor.cancels, 0);
  EXPECT_EQ(reactor.finishes, 0);
}

TEST(StreamWriterTest, WrittenCountsTheWritesGrpcTook) {
  FakeReactor reactor;
  StreamWriter<FakeReactor, v1::CoordinatorMessage> writer(&reactor);
  writer.Push(Message(1));
  writer.Push(Message(2));
  writer.Push(Message(3));
  EXPECT_EQ(writer.written(), 0u);  // the first is in flight
  writer.WriteDone(true);
  writer.WriteDone(true);
  EXPECT_EQ(writer.written(), 2u);
  writer.WriteDone(false);  // the peer went away: not written
  EXPECT_EQ(writer.written(), 2u);
}

}  // namespace
}  // namespace dagd
