#include "server/read_gate.h"

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

}  // namespace
}  // namespace dagd
