#include "server/read_gate.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace dagd {
namespace {

TEST(ReadGateTest, BelowTheBoundEveryReadGoesOn) {
  int resumes = 0;
  ReadGate gate(100, [&] { ++resumes; });
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(gate.Posted(60));
    gate.Handled(60);
  }
  EXPECT_EQ(resumes, 0);
}

TEST(ReadGateTest, PastTheBoundTheReadWaitsUntilTheBacklogIsHalfGone) {
  int resumes = 0;
  ReadGate gate(100, [&] { ++resumes; });
  EXPECT_TRUE(gate.Posted(60));
  EXPECT_FALSE(gate.Posted(60));  // 120 posted, none handled
  gate.Handled(60);               // 60 left: over half the bound
  EXPECT_EQ(resumes, 0);
  gate.Handled(60);
  EXPECT_EQ(resumes, 1);
  gate.Handled(1);  // nothing held: nothing to resume
  EXPECT_EQ(resumes, 1);
}

// One message larger than the bound waits for itself alone.
TEST(ReadGateTest, AMessageOverTheBoundResumesOnceHandled) {
  int resumes = 0;
  ReadGate gate(100, [&] { ++resumes; });
  EXPECT_FALSE(gate.Posted(500));
  gate.Handled(500);
  EXPECT_EQ(resumes, 1);
}

TEST(ReadGateTest, AClosedGateResumesNothing) {
  int resumes = 0;
  ReadGate gate(100, [&] { ++resumes; });
  EXPECT_FALSE(gate.Posted(200));
  gate.Close();
  gate.Handled(200);
  EXPECT_EQ(resumes, 0);
}

// gRPC may run the resumed read's callbacks before StartRead returns, on
// the resuming thread: the next message posts through the gate, and the
// stream may even end (Close) there. Neither waits on the resume itself.
TEST(ReadGateTest, WhatTheResumeRunsOnItsOwnThreadDoesNotWaitForIt) {
  ReadGate* self = nullptr;
  bool posted = false;
  int resumes = 0;
  ReadGate gate(100, [&] {
    ++resumes;
    posted = self->Posted(10);
    self->Close();
  });
  self = &gate;
  EXPECT_FALSE(gate.Posted(150));
  gate.Handled(150);
  EXPECT_TRUE(posted);
  EXPECT_FALSE(gate.Posted(500));
  gate.Handled(510);
  EXPECT_EQ(resumes, 1) << "closed by the first resume";
}

// The stream finishes while a resume starts its read on another thread:
// Finish waits for that read to have started (a read started after Finish
// outlived the stream, and wrote into its freed reactor), without the
// finishing thread waiting; and nothing resumes after.
TEST(ReadGateTest, AStreamFinishingDuringAResumeFinishesAfterTheRead) {
  absl::Notification in_resume;
  absl::Notification let_resume_end;
  std::vector<std::string> order;
  absl::Mutex mu;
  auto note = [&](const std::string& what) {
    absl::MutexLock lock(&mu);
    order.push_back(what);
  };
  ReadGate gate(100, [&] {
    in_resume.Notify();
    let_resume_end.WaitForNotification();
    note("read started");
  });
  EXPECT_FALSE(gate.Posted(200));
  std::thread scheduler([&] { gate.Handled(200); });
  in_resume.WaitForNotification();
  EXPECT_FALSE(gate.Finishing([&] { note("finished"); }));
  let_resume_end.Notify();
  scheduler.join();
  EXPECT_EQ(order, (std::vector<std::string>{"read started", "finished"}));
  // Finished: what is handled later resumes nothing.
  EXPECT_FALSE(gate.Posted(500));
  gate.Handled(500);
  EXPECT_EQ(order.size(), 2u);
}

// With no resume under way, or from within the resume itself (gRPC ran the
// stream's end inside StartRead), the caller finishes at once.
TEST(ReadGateTest, AStreamFinishingOtherwiseFinishesAtOnce) {
  ReadGate idle(100, [] {});
  EXPECT_TRUE(idle.Finishing([] {}));
  ReadGate* self = nullptr;
  bool at_once = false;
  ReadGate inline_end(100, [&] { at_once = self->Finishing([] {}); });
  self = &inline_end;
  EXPECT_FALSE(inline_end.Posted(200));
  inline_end.Handled(200);
  EXPECT_TRUE(at_once);
}

}  // namespace
}  // namespace dagd
