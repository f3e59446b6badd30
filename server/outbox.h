// Hands each turn's batches to the workers' dispatchers on a thread of its
// own. Writing a batch to a worker's stream serializes it and, in gRPC,
// writes it to the socket on the calling thread: with a thousand workers
// given tasks in one turn that took the loop thread tens of milliseconds,
// during which it read no results. The loop now queues a turn's batches
// here in one step and goes on.
#ifndef DAGD_SERVER_OUTBOX_H_
#define DAGD_SERVER_OUTBOX_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "dagd/v1/worker_service.pb.h"
#include "server/dispatcher.h"

namespace dagd {

class Outbox {
 public:
  // What goes to one dispatcher: a message (a batch is split into messages
  // of at most max_message_bytes) or, when `close` is set, the end of its
  // work: Close, or Drop when `drop` (dagd gave the worker up).
  struct Letter {
    std::shared_ptr<Dispatcher> to;
    v1::CoordinatorMessage message;
    std::optional<absl::Status> close;
    bool drop = false;
  };

  explicit Outbox(size_t max_message_bytes);
  // Hands over everything posted, then stops the thread.
  ~Outbox();

  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Queues `letters`: handed over in the order posted, these after every
  // letter posted before.
  void Post(std::vector<Letter> letters);

  // Returns once every letter posted before the call was handed over.
  void Flush();

  // Letters posted and not yet handed over (dagd_outbox_letters): a
  // backlog that stays means workers' streams take batches slower than
  // turns make them.
  size_t Backlog();

 private:
  void Run();
  void Hand(Letter& letter) const;

  const size_t max_message_bytes_;
  absl::Mutex mu_;
  std::vector<Letter> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t posted_ ABSL_GUARDED_BY(mu_) = 0;  // posts so far
  uint64_t handed_ ABSL_GUARDED_BY(mu_) = 0;  // of them handed over
  size_t in_hand_ ABSL_GUARDED_BY(mu_) = 0;   // letters being handed over
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar wake_;         // posted to, or stopping
  absl::CondVar handed_over_;  // handed_ grew
  std::thread thread_;
};

}  // namespace dagd

#endif  // DAGD_SERVER_OUTBOX_H_
