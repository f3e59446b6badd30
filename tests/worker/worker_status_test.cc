#include "worker/worker_status.h"

#include <vector>

#include "gtest/gtest.h"

namespace dagd {
namespace {

TEST(WorkerStatusTest, ServingOnlyWhileRegisteredAndNotDraining) {
  WorkerStatus status;
  EXPECT_FALSE(status.state().serving());
  status.SetRegistered(true);
  EXPECT_TRUE(status.state().serving());
  status.SetDraining();
  EXPECT_FALSE(status.state().serving());
  EXPECT_TRUE(status.state().registered);
}

TEST(WorkerStatusTest, CountsRegistrationsAfterALostOne) {
  WorkerStatus status;
  status.SetRegistered(true);
  EXPECT_EQ(status.state().reconnects, 0);
  status.SetRegistered(false);
  status.SetRegistered(true);
  status.SetRegistered(true);  // no change, not a reconnect
  EXPECT_EQ(status.state().reconnects, 1);
}

TEST(WorkerStatusTest, ListenersSeeTheStateNowAndEveryChange) {
  WorkerStatus status;
  std::vector<bool> serving;
  status.AddListener([&serving](const WorkerState& state) {
    serving.push_back(state.serving());
  });
  status.SetRegistered(true);
  status.SetRegistered(true);
  status.SetDraining();
  status.SetDraining();
  EXPECT_EQ(serving, (std::vector<bool>{false, true, false}));
}

}  // namespace
}  // namespace dagd
