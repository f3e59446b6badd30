// The outbox hands each turn's batches to the workers' dispatchers on its
// own thread: in the order posted, split to the message bound, without the
// loop waiting for a slow dispatcher.
#include "server/outbox.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

using ::testing::ElementsAre;

constexpr absl::Duration kPostWait = absl::Seconds(10);

// Records what it is handed: "t<index>" per assignment of each message
// (a message's assignments joined by ","), "close: <message>" for Close,
// "drop: <message>" for Drop.
class RecordingDispatcher : public Dispatcher {
 public:
  // Blocks each Send until `release` is notified, when given.
  explicit RecordingDispatcher(absl::Notification* release = nullptr)
      : release_(release) {}

  void Send(v1::CoordinatorMessage message) override {
    if (release_ != nullptr) release_->WaitForNotification();
    std::string line = message.has_registered() ? "registered" : "";
    for (const v1::Assignment& a : message.batch().assignments()) {
      if (!line.empty()) line += ",";
      line += "t" + std::to_string(a.task().task_index());
    }
    absl::MutexLock lock(&mu_);
    log_.push_back(line);
  }
  void Close(absl::Status reason) override {
    absl::MutexLock lock(&mu_);
    log_.push_back("close: " + std::string(reason.message()));
  }
  void Drop(absl::Status reason) override {
    absl::MutexLock lock(&mu_);
    log_.push_back("drop: " + std::string(reason.message()));
  }
  std::vector<std::string> log() {
    absl::MutexLock lock(&mu_);
    return log_;
  }

 private:
  absl::Notification* const release_;
  absl::Mutex mu_;
  std::vector<std::string> log_;
};

// A batch message of the given tasks, each with `input_bytes` of input.
v1::CoordinatorMessage Batch(std::vector<uint32_t> tasks,
                             size_t input_bytes = 0) {
  v1::CoordinatorMessage message;
  for (uint32_t task : tasks) {
    v1::Assignment* a = message.mutable_batch()->add_assignments();
    a->mutable_task()->set_task_index(task);
    if (input_bytes > 0) {
      a->add_inputs()->set_data(std::string(input_bytes, 'x'));
    }
  }
  return message;
}

TEST(OutboxTest, HandsLettersOverInTheOrderPosted) {
  auto worker = std::make_shared<RecordingDispatcher>();
  Outbox outbox(1 << 20);
  std::vector<Outbox::Letter> turn1;
  v1::CoordinatorMessage registered;
  registered.mutable_registered()->set_worker_id("w1");
  turn1.push_back({worker, registered, std::nullopt});
  turn1.push_back({worker, Batch({1, 2}), std::nullopt});
  outbox.Post(std::move(turn1));
  std::vector<Outbox::Letter> turn2;
  turn2.push_back({worker, Batch({3}), std::nullopt});
  turn2.push_back({worker, {}, absl::UnavailableError("stopping")});
  auto lost = std::make_shared<RecordingDispatcher>();
  turn2.push_back({lost, {}, absl::UnavailableError("declared lost"), true});
  outbox.Post(std::move(turn2));
  outbox.Flush();
  EXPECT_THAT(worker->log(),
              ElementsAre("registered", "t1,t2", "t3", "close: stopping"));
  EXPECT_THAT(lost->log(), ElementsAre("drop: declared lost"));
}

TEST(OutboxTest, SplitsBatchesToTheMessageBound) {
  auto worker = std::make_shared<RecordingDispatcher>();
  Outbox outbox(2500);
  std::vector<Outbox::Letter> letters;
  letters.push_back({worker, Batch({1, 2, 3}, 1000), std::nullopt});
  outbox.Post(std::move(letters));
  outbox.Flush();
  EXPECT_THAT(worker->log(), ElementsAre("t1,t2", "t3"));
}

// A dispatcher that is slow to take a batch holds up the outbox's thread,
// not whoever posts: the loop goes on with its next turn.
TEST(OutboxTest, PostDoesNotWaitForTheDispatcher) {
  absl::Notification release;
  auto slow = std::make_shared<RecordingDispatcher>(&release);
  auto other = std::make_shared<RecordingDispatcher>();
  Outbox outbox(1 << 20);
  // Posted from a thread of the test's, so that a Post that waited fails
  // here rather than hanging the test.
  absl::Notification posted;
  std::thread loop([&] {
    for (uint32_t turn = 1; turn <= 3; ++turn) {
      std::vector<Outbox::Letter> letters;
      letters.push_back({slow, Batch({turn}), std::nullopt});
      letters.push_back({other, Batch({turn}), std::nullopt});
      outbox.Post(std::move(letters));
    }
    posted.Notify();
  });
  const bool returned = posted.WaitForNotificationWithTimeout(kPostWait);
  if (!returned) release.Notify();
  loop.join();
  ASSERT_TRUE(returned) << "Post waited for a dispatcher";
  EXPECT_THAT(other->log(), ::testing::IsEmpty());  // behind the slow one
  EXPECT_EQ(outbox.Backlog(), 6u);
  release.Notify();
  outbox.Flush();
  EXPECT_THAT(slow->log(), ElementsAre("t1", "t2", "t3"));
  EXPECT_THAT(other->log(), ElementsAre("t1", "t2", "t3"));
  EXPECT_EQ(outbox.Backlog(), 0u);
}

TEST(OutboxTest, DestroyingItHandsOverWhatIsQueued) {
  absl::Notification release;
  auto worker = std::make_shared<RecordingDispatcher>(&release);
  {
    Outbox outbox(1 << 20);
    for (uint32_t turn = 1; turn <= 3; ++turn) {
      std::vector<Outbox::Letter> letters;
      letters.push_back({worker, Batch({turn}), std::nullopt});
      outbox.Post(std::move(letters));
    }
    release.Notify();
  }
  EXPECT_THAT(worker->log(), ElementsAre("t1", "t2", "t3"));
}

}  // namespace
}  // namespace dagd
