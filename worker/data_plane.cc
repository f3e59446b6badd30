#include "worker/data_plane.h"

#include <algorithm>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "storage/base/large_buffer.h"
#include "worker/task_objects.h"

namespace dagd {

DataPlane::DataPlane(std::string instance, ObjectHolder* holder,
                     const DataService* service, DataClient* client,
                     Clock* clock, DataSecret* secret, FetchBudget* budget)
    : instance_(std::move(instance)),
      holder_(holder),
      service_(service),
      client_(client),
      secret_(secret),
      clock_(clock),
      budget_(budget) {}

std::string DataPlane::address() const {
  return service_ != nullptr ? service_->address() : "";
}

void DataPlane::SetLimits(ResultLimits limits) {
  absl::MutexLock lock(&mu_);
  limits_ = limits;
}

ResultLimits DataPlane::limits() const {
  absl::MutexLock lock(&mu_);
  return limits_;
}

absl::StatusOr<v1::ObjectRef> DataPlane::Hold(const std::string& key,
                                              std::string data,
                                              std::string content_type) {
  if (!holds_outputs()) {
    return absl::FailedPreconditionError("this worker holds no results");
  }
  absl::StatusOr<HeldObject> held =
      holder_->Put(key, std::move(data), std::move(content_type));
  if (!held.ok()) return held.status();
  v1::ObjectRef ref;
  ref.set_key(key);
  ref.set_size(held->data->size());
  ref.set_crc32c(held->crc32c);
  ref.set_content_type(held->content_type);
  ref.mutable_holder()->set_instance(instance_);
  ref.mutable_holder()->set_address(service_->address());
  return ref;
}

namespace {
constexpr absl::string_view kLostInputsUrl = "type.dagd.dev/lost-inputs";

// What a holder's answer says of the object: NOT_FOUND, it is gone;
// UNAVAILABLE, the holder is (about to be) gone; DATA_LOSS, its bytes do
// not match their CRC-32C (a spill file gone bad): every retry would read
// the same bytes, so the input is made again instead.
bool HolderLost(const absl::Status& status) {
  return absl::IsNotFound(status) || absl::IsUnavailable(status) ||
         absl::IsDataLoss(status);
}
}  // namespace

absl::Status InputsLost(absl::Status error,
                        const std::vector<uint32_t>& positions) {
  if (positions.empty()) return error;
  error.SetPayload(kLostInputsUrl, absl::Cord(absl::StrJoin(positions, ",")));
  return error;
}

std::vector<uint32_t> LostInputsOf(const absl::Status& status) {
  std::vector<uint32_t> positions;
  auto payload = status.GetPayload(kLostInputsUrl);
  if (!payload) return positions;
  for (absl::string_view part :
       absl::StrSplit(std::string(*payload), ',', absl::SkipEmpty())) {
    uint32_t position = 0;
    if (absl::SimpleAtoi(part, &position)) positions.push_back(position);
  }
  return positions;
}

absl::Status DataPlane::FetchInputs(const v1::Assignment& assignment,
                                    std::vector<Payload>& inputs,
                                    CancellationToken* token, bool share_local,
                                    FetchBudget::Lease* lease) {
  std::vector<std::pair<uint32_t, const v1::ObjectRef*>> remote;
  for (uint32_t position : SortedPositions(assignment.input_refs())) {
    const v1::ObjectRef& ref = assignment.input_refs().at(position);
    if (!IsHeld(ref)) continue;
    if (position >= inputs.size()) {
      return PermanentError(absl::StrCat("input_refs names input #", position,
                                         " of ", inputs.size()));
    }
    if (holder_ != nullptr && ref.holder().instance() == instance_) {
      absl::StatusOr<Payload> input = ReadLocal(position, ref, share_local);
      if (!input.ok()) {
        return absl::IsNotFound(input.status()) ||
                       absl::IsDataLoss(input.status())
                   ? InputsLost(input.status(), {position})
                   : input.status();
      }
      inputs[position] = *std::move(input);
    } else {
      remote.emplace_back(position, &ref);
    }
  }
  if (remote.empty()) return absl::OkStatus();
  if (budget_ != nullptr && lease != nullptr) {
    absl::Status taken = TakeFromBudget(remote, share_local, token, lease);
    if (!taken.ok()) return taken;
  }
  return FetchRemote(remote, inputs, token, share_local);
}

namespace {
std::string FlightKey(const v1::ObjectRef& ref) {
  return absl::StrCat(ref.holder().instance(), "/", ref.key());
}
}  // namespace

absl::Status DataPlane::TakeFromBudget(
    const std::vector<std::pair<uint32_t, const v1::ObjectRef*>>& remote,
    bool share, CancellationToken* token, FetchBudget::Lease* lease) {
  if (!share) {
    uint64_t bytes = 0;
    for (const auto& [position, ref] : remote) bytes += ref->size();
    if (!budget_->Acquire(bytes, token)) return WaitCancelled(bytes);
    *lease = FetchBudget::Lease(budget_, bytes);
    return absl::OkStatus();
  }
  // Shared bytes another task holds already are held here too, at no cost:
  // this task is one more holder of them (from now, so they stay).
  std::vector<std::string> keys;
  std::vector<bool> riding(remote.size(), false);
  uint64_t bytes = 0;
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < remote.size(); ++i) {
      keys.push_back(FlightKey(*remote[i].second));
      if (auto charge = charges_.find(keys[i]); charge != charges_.end()) {
        ++charge->second.holders;
        riding[i] = true;
      } else {
        bytes += remote[i].second->size();
      }
    }
  }
  if (!budget_->Acquire(bytes, token)) {
    std::vector<std::string> held;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (riding[i]) held.push_back(keys[i]);
    }
    Uncharge(held);
    return WaitCancelled(bytes);
  }
  uint64_t twice = 0;  // taken for a key another task charged meanwhile
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < remote.size(); ++i) {
      if (riding[i]) continue;
      Charge& charge = charges_[keys[i]];
      if (charge.holders++ == 0) {
        charge.bytes = remote[i].second->size();
      } else {
        twice += remote[i].second->size();
      }
    }
  }
  budget_->Release(twice);
  *lease =
      FetchBudget::Lease([this, keys = std::move(keys)] { Uncharge(keys); });
  return absl::OkStatus();
}

absl::Status DataPlane::WaitCancelled(uint64_t bytes) const {
  return absl::CancelledError(absl::StrCat(
      "cancelled while waiting for room to fetch its inputs (", bytes,
      " bytes; other tasks hold fetched inputs up to --fetch_memory=",
      budget_->limit(), ")"));
}

void DataPlane::Uncharge(const std::vector<std::string>& keys) {
  uint64_t free = 0;
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& key : keys) {
      auto charge = charges_.find(key);
      if (charge == charges_.end() || --charge->second.holders > 0) continue;
      free += charge->second.bytes;
      charges_.erase(charge);
    }
  }
  budget_->Release(free);
}

absl::StatusOr<Payload> DataPlane::ReadLocal(uint32_t position,
                                             const v1::ObjectRef& ref,
                                             bool share) {
  absl::StatusOr<HeldObject> object = holder_->Get(ref.key());
  if (!object.ok()) {
    return absl::Status(
        object.status().code(),
        absl::StrCat("input #", position, " ('", ref.key(),
                     "', held by this worker): ", object.status().message()));
  }
  if (object->data->size() != ref.size() ||
      (ref.crc32c() != 0 && object->crc32c != ref.crc32c())) {
    return absl::DataLossError(absl::StrCat(
        "input #", position, " ('", ref.key(),
        "', held by this worker) is not the object dagd recorded (",
        object->data->size(), " bytes, CRC-32C ", object->crc32c, "; recorded ",
        ref.size(), " bytes, ", ref.crc32c(), ")"));
  }
  if (share) {
    Payload shared;
    shared.content_type = object->content_type;
    shared.held = std::move(object->data);
    return shared;
  }
  // The one copy: a task's inputs are strings of its own.
  std::string data = LargeString(object->data->size());
  data.append(*object->data);
  return Payload{std::move(data), object->content_type};
}

absl::Status DataPlane::FetchRemote(
    const std::vector<std::pair<uint32_t, const v1::ObjectRef*>>& refs,
    std::vector<Payload>& inputs, CancellationToken* token, bool share) {
  const absl::Time start = clock_->Now();
  std::vector<ReadCancel> cancels(refs.size());
  const int callback = token == nullptr ? -1 : token->AddCallback([&cancels] {
    for (ReadCancel& cancel : cancels) cancel.Cancel();
  });
  std::vector<std::optional<absl::StatusOr<Payload>>> fetched(refs.size());
  std::atomic<size_t> next{0};
  auto fetch_some = [&] {
    for (size_t i = next++; i < refs.size(); i = next++) {
      fetched[i] = FetchShared(*refs[i].second, &cancels[i], share);
    }
  };
  const int helpers =
      std::min<int>(kParallelFetches, static_cast<int>(refs.size())) - 1;
  std::vector<std::thread> threads;
  for (int i = 0; i < helpers; ++i) threads.emplace_back(fetch_some);
  fetch_some();  // this thread is one of them
  for (std::thread& thread : threads) thread.join();
  if (callback >= 0) token->RemoveCallback(callback);

  uint64_t bytes = 0;
  absl::Status first_error;
  std::vector<uint32_t> lost;
  for (size_t i = 0; i < refs.size(); ++i) {
    absl::StatusOr<Payload>& input = *fetched[i];
    if (!input.ok()) {
      if (HolderLost(input.status())) lost.push_back(refs[i].first);
      if (first_error.ok()) {
        first_error = absl::Status(input.status().code(),
                                   absl::StrCat("input #", refs[i].first, ": ",
                                                input.status().message()));
      }
      continue;
    }
    bytes += input->bytes().size();
    inputs[refs[i].first] = *std::move(input);
  }
  absl::MutexLock lock(&mu_);
  // What this task got over the time it waited, shared fetches too: the
  // rate dagd reads from these is what a task sees.
  fetched_bytes_ += bytes;
  transfer_time_ += clock_->Now() - start;
  return InputsLost(std::move(first_error), lost);
}

struct DataPlane::Flight {
  absl::Notification done;
  // Set before `done`, and only when some task joined (joined > 0).
  absl::StatusOr<std::shared_ptr<const std::string>> bytes;
  std::string content_type;
  int joined ABSL_GUARDED_BY(DataPlane::mu_) = 0;
};

namespace {
// A task's input from bytes that several tasks got from one fetch.
Payload InputOf(const std::shared_ptr<const std::string>& bytes,
                const std::string& content_type, bool share) {
  if (share) return Payload{"", content_type, bytes};
  std::string copy = LargeString(bytes->size());
  copy.append(*bytes);
  return Payload{std::move(copy), content_type};
}
}  // namespace

absl::StatusOr<Payload> DataPlane::FetchShared(const v1::ObjectRef& ref,
                                               ReadCancel* cancel, bool share) {
  const std::string key = FlightKey(ref);
  while (true) {
    std::shared_ptr<Flight> flight;
    bool lead = false;
    {
      absl::MutexLock lock(&mu_);
      std::shared_ptr<Flight>& in_flight = flights_[key];
      if (in_flight == nullptr) {
        in_flight = std::make_shared<Flight>();
        lead = true;
      } else {
        ++in_flight->joined;
        ++shared_fetches_;
      }
      flight = in_flight;
    }
    if (lead) return Lead(key, ref, cancel, share, *flight);
    // The leader's read cannot see this task's cancellation: look for it
    // while waiting.
    while (
        !flight->done.WaitForNotificationWithTimeout(absl::Milliseconds(20))) {
      if (cancel->cancelled()) {
        return absl::CancelledError(
            absl::StrCat("cancelled while waiting for ", DescribeHeld(ref),
                         ", which another task of this worker was fetching"));
      }
    }
    // The leader's task was cancelled (its timeout), not this one: read it
    // again, leading or joining another task's read.
    if (absl::IsCancelled(flight->bytes.status()) && !cancel->cancelled()) {
      continue;
    }
    if (!flight->bytes.ok()) return flight->bytes.status();
    return InputOf(*flight->bytes, flight->content_type, share);
  }
}

absl::StatusOr<Payload> DataPlane::Lead(const std::string& key,
                                        const v1::ObjectRef& ref,
                                        ReadCancel* cancel, bool share,
                                        Flight& flight) {
  absl::StatusOr<StoredObject> object = client_->Fetch(ref, cancel);
  int joined = 0;
  {
    absl::MutexLock lock(&mu_);
    // From here on, a task that needs the object reads it anew.
    flights_.erase(key);
    joined = flight.joined;
  }
  if (joined == 0) {
    // The common case: nobody else wants the bytes, which stay this
    // task's own, uncopied.
    if (!object.ok()) return object.status();
    if (!share) return Payload{std::move(object->data), object->content_type};
    return Payload{
        "", object->content_type,
        std::make_shared<const std::string>(std::move(object->data))};
  }
  if (object.ok()) {
    flight.content_type = object->content_type;
    flight.bytes = std::make_shared<const std::string>(std::move(object->data));
  } else {
    flight.bytes = object.status();
  }
  flight.done.Notify();
  if (!flight.bytes.ok()) return flight.bytes.status();
  return InputOf(*flight.bytes, flight.content_type, share);
}

uint64_t DataPlane::shared_fetches() const {
  absl::MutexLock lock(&mu_);
  return shared_fetches_;
}

void DataPlane::Release(
    const google::protobuf::RepeatedPtrField<std::string>& keys) {
  if (holder_ == nullptr) return;
  for (const std::string& key : keys) holder_->Release(key);
}

void DataPlane::ReleaseAll() {
  for (const std::string& key : HeldKeys()) holder_->Release(key);
}

std::vector<std::string> DataPlane::HeldKeys() const {
  if (holder_ == nullptr) return {};
  return holder_->Keys();
}

void DataPlane::FillHeartbeat(v1::Heartbeat* heartbeat) const {
  if (holder_ != nullptr) {
    const ObjectHolderStats stats = holder_->stats();
    heartbeat->set_held_bytes(stats.held_bytes);
    heartbeat->set_spilled_bytes(stats.spilled_bytes);
  }
  if (service_ != nullptr) heartbeat->set_sent_bytes(service_->sent_bytes());
  absl::MutexLock lock(&mu_);
  heartbeat->set_fetched_bytes(fetched_bytes_);
  heartbeat->set_transfer_seconds(absl::ToDoubleSeconds(transfer_time_));
}

std::string NewInstanceId() {
  std::random_device device;
  const uint64_t id = (static_cast<uint64_t>(device()) << 32) | device();
  return absl::StrFormat("%016x", id);
}

}  // namespace dagd
