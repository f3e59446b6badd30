// The worker's side of the data plane, as its tasks and its stream to dagd
// see it: outputs over dagd's inline limit stay here (in the ObjectHolder,
// served by the DataService) when dagd names no object store; inputs held
// by workers reach a task before it runs, read in place when this worker
// holds them, else fetched from their holders, in parallel; dagd's limits
// from Registered; the figures the heartbeat reports.
#ifndef DAGD_WORKER_DATA_PLANE_H_
#define DAGD_WORKER_DATA_PLANE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "dagd/v1/worker_service.pb.h"
#include "proto/object_location.h"
#include "storage/base/clock.h"
#include "storage/data_client.h"
#include "worker/cancellation.h"
#include "worker/data_service.h"
#include "worker/fetch_budget.h"
#include "worker/function_registry.h"
#include "worker/object_holder.h"

namespace dagd {

// What dagd said at registration (Registered) about outputs.
struct ResultLimits {
  // An ok output larger than this does not travel inline: it goes to the
  // object store, or is held here. 0: every output travels inline.
  uint64_t inline_max_bytes = 0;
  // An ok output larger than this fails its attempt for good. 0: none.
  uint64_t max_result_bytes = 0;
};

// `error` marked as the loss of held inputs at `positions` (their holder
// no longer has them, or cannot be reached): reported in
// TaskResult.lost_inputs, so that dagd makes them again rather than count a
// failure of the task.
absl::Status InputsLost(absl::Status error,
                        const std::vector<uint32_t>& positions);
// The positions InputsLost marked on `status`; empty when none.
std::vector<uint32_t> LostInputsOf(const absl::Status& status);

// Thread-safe: task threads hold outputs and fetch inputs, the stream's
// reader sets limits and releases, its writer reads the figures.
class DataPlane {
 public:
  // Fetches from other workers run this many at a time per task.
  static constexpr int kParallelFetches = 8;

  // `instance` is this process's Holder.instance. `holder` and `service`
  // are null when this worker serves no DataService (--data_listen=): it
  // then holds nothing but still fetches inputs held elsewhere. Nothing is
  // owned; `client` and `clock` (for transfer time) are never null.
  // `secret` (not owned, may be null) is what SetSecret sets: the one the
  // DataService requires and `client` presents. `budget` (not owned, may be
  // null: no bound) bounds the fetched bytes that tasks hold at once.
  DataPlane(std::string instance, ObjectHolder* holder,
            const DataService* service, DataClient* client, Clock* clock,
            DataSecret* secret = nullptr, FetchBudget* budget = nullptr);

  const std::string& instance() const { return instance_; }
  // Register.data_address: where peers read what this worker holds; empty
  // when it serves nothing.
  std::string address() const;
  // Whether outputs over the inline limit can stay here.
  bool holds_outputs() const {
    return holder_ != nullptr && service_ != nullptr;
  }

  void SetLimits(ResultLimits limits);
  // dagd's data-plane secret, from Registered.data_secret.
  void SetSecret(std::string secret) {
    if (secret_ != nullptr) secret_->Set(std::move(secret));
  }
  ResultLimits limits() const;

  // Holds `data` under `key` (the attempt's ResultObjectKey) and returns
  // the reference dagd records: size, CRC-32C, content type, and this
  // worker as the holder. RESOURCE_EXHAUSTED when the holder is full.
  // Only when holds_outputs().
  absl::StatusOr<v1::ObjectRef> Hold(const std::string& key, std::string data,
                                     std::string content_type);

  // Puts every input of `assignment` that a worker holds into `inputs`
  // (those in the object store are left alone): from this worker's holder
  // without a copy over the network, the others from their holders, at
  // most kParallelFetches at once. Tasks of this worker that need one
  // object at the same time share one fetch of it (a fan-out of N readers
  // here moves its bytes once, not N times), and with `share_local` its
  // bytes too. Cancelling `token` (a timeout) ends the fetches. With a
  // budget and a `lease`, the task first waits until the bytes it fetches
  // fit in the budget, and `lease` holds them until the task is done. The first
  // failure by position is returned, naming the input position, the key and the
  // holder; retryable, except a position past the inputs (dagd's bug), which is
  // permanent. With `share_local`, an input this worker holds is not copied:
  // its Payload shares the held bytes (Payload::held), for runtimes that read
  // inputs in place.
  absl::Status FetchInputs(const v1::Assignment& assignment,
                           std::vector<Payload>& inputs,
                           CancellationToken* token, bool share_local = false,
                           FetchBudget::Lease* lease = nullptr);

  // Fetches that found the object already on its way for another task and
  // waited for it instead of reading it again, since the start.
  uint64_t shared_fetches() const;

  // CoordinatorBatch.release: these results are needed no more.
  void Release(const google::protobuf::RepeatedPtrField<std::string>& keys);
  // Everything held: results of another dagd store are of no use.
  void ReleaseAll();
  // Register.held.
  std::vector<std::string> HeldKeys() const;
  // The object-store figures of a Heartbeat.
  void FillHeartbeat(v1::Heartbeat* heartbeat) const;

 private:
  // One input read from this worker's holder.
  absl::StatusOr<Payload> ReadLocal(uint32_t position, const v1::ObjectRef& ref,
                                    bool share);
  // Fetches `refs` (position, ref) from their holders into `inputs`.
  absl::Status FetchRemote(
      const std::vector<std::pair<uint32_t, const v1::ObjectRef*>>& refs,
      std::vector<Payload>& inputs, CancellationToken* token, bool share);
  // One fetch of an object for several tasks of this worker.
  struct Flight;
  // `ref` from its holder, or from the fetch of it already in flight for
  // another task: the bytes of its own, or shared with `share`.
  absl::StatusOr<Payload> FetchShared(const v1::ObjectRef& ref,
                                      ReadCancel* cancel, bool share);
  // Takes from the budget what `remote` needs for one task; `share`: bytes
  // shared by tasks (the same object held in memory once) are taken once,
  // and given back when the last task holding them is done.
  absl::Status TakeFromBudget(
      const std::vector<std::pair<uint32_t, const v1::ObjectRef*>>& remote,
      bool share, CancellationToken* token, FetchBudget::Lease* lease);
  // Why a task's wait for room in the budget ended without it.
  absl::Status WaitCancelled(uint64_t bytes) const;
  // Gives back the charges of `keys` that no task holds any more.
  void Uncharge(const std::vector<std::string>& keys);
  // Reads `ref` for `flight`, and hands the bytes to the tasks that joined.
  absl::StatusOr<Payload> Lead(const std::string& key, const v1::ObjectRef& ref,
                               ReadCancel* cancel, bool share, Flight& flight);

  const std::string instance_;
  ObjectHolder* const holder_;
  const DataService* const service_;
  DataClient* const client_;
  DataSecret* const secret_;
  Clock* const clock_;
  FetchBudget* const budget_;

  mutable absl::Mutex mu_;
  ResultLimits limits_ ABSL_GUARDED_BY(mu_);
  uint64_t fetched_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration transfer_time_ ABSL_GUARDED_BY(mu_);
  uint64_t shared_fetches_ ABSL_GUARDED_BY(mu_) = 0;
  // By holder instance and key: the fetches in flight.
  absl::flat_hash_map<std::string, std::shared_ptr<Flight>> flights_
      ABSL_GUARDED_BY(mu_);
  // By holder instance and key: fetched bytes that tasks reading in place
  // share, taken from the budget once, and how many tasks hold them.
  struct Charge {
    uint64_t bytes = 0;
    int holders = 0;
  };
  absl::flat_hash_map<std::string, Charge> charges_ ABSL_GUARDED_BY(mu_);
};

// A random Holder.instance for this process: 16 hex digits.
std::string NewInstanceId();

}  // namespace dagd

#endif  // DAGD_WORKER_DATA_PLANE_H_
