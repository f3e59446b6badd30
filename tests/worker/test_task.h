// Builds a TaskContext for calling a function directly in a test.
#ifndef DAGD_TESTS_WORKER_TEST_TASK_H_
#define DAGD_TESTS_WORKER_TEST_TASK_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "worker/cancellation.h"
#include "worker/function_registry.h"
#include "worker/json_util.h"

namespace dagd {

// Owns a token and a context for one attempt.
struct TestTask {
  explicit TestTask(const std::string& args_json = "null",
                    std::vector<Payload> inputs = {}, uint32_t attempt = 1)
      : context(AttemptInfo{"job-1", "task-a", 0, attempt}, Args(args_json),
                std::move(inputs), &token) {}

  static google::protobuf::Value Args(const std::string& json) {
    auto value = ParseJson(json);
    EXPECT_TRUE(value.ok()) << value.status();
    return value.ok() ? *value : google::protobuf::Value();
  }

  CancellationToken token;
  TaskContext context;
};

inline Payload Json(std::string text) {
  return JsonTextPayload(std::move(text));
}

}  // namespace dagd

#endif  // DAGD_TESTS_WORKER_TEST_TASK_H_
