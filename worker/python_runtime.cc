#include "worker/python_runtime.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "storage/base/large_buffer.h"
#include "storage/object_store.h"

namespace dagd {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

const Value& Field(const Struct& header, const std::string& name) {
  static const Value* const kNull = new Value();
  auto it = header.fields().find(name);
  return it == header.fields().end() ? *kNull : it->second;
}

// The content types of Python objects (client/python/dagd/codec.py): the
// only inputs an interpreter keeps decoded.
constexpr absl::string_view kDagdPickle = "application/x-dagd-pickle";
constexpr absl::string_view kPlainPickle = "application/x-python-pickle";

std::string JsonIds(const std::vector<uint64_t>& ids) {
  return absl::StrCat("[", absl::StrJoin(ids, ","), "]");
}

// The "task" message's header: ids, args, what the interpreter forgets,
// takes from what it keeps and keeps, and what frames follow.
std::string TaskHeader(const RuntimeAttempt& attempt, const KeptPlan& plan) {
  const TaskContext& context = attempt.context;
  std::string args = "null";
  if (context.args().kind_case() != Value::KIND_NOT_SET) {
    args.clear();
    // Cannot fail: a Value that came through protobuf parsing prints.
    (void)google::protobuf::util::MessageToJsonString(context.args(), &args);
  }
  std::string header =
      absl::StrCat("{\"kind\":\"task\",\"job\":", JsonQuote(context.job_id()),
                   ",\"task\":", JsonQuote(context.task_id()),
                   ",\"attempt\":", context.attempt(), ",\"args\":", args);
  if (!attempt.assignment.code().empty()) {
    absl::StrAppend(&header, ",\"code\":", attempt.assignment.code().size());
  }
  if (!plan.drop.empty()) {
    absl::StrAppend(&header, ",\"drop\":", JsonIds(plan.drop));
  }
  if (plan.result != 0) {
    absl::StrAppend(&header, ",\"keep_result\":{\"id\":", plan.result,
                    ",\"min_size\":", kMinKeptBytes,
                    ",\"max_size\":", plan.result_max, "}");
  }
  absl::StrAppend(&header, ",\"inputs\":[");
  for (size_t i = 0; i < context.inputs().size(); ++i) {
    const Payload& input = context.inputs()[i];
    absl::StrAppend(&header, i == 0 ? "" : ",",
                    "{\"content_type\":", JsonQuote(input.content_type),
                    ",\"size\":", input.bytes().size());
    if (i < plan.use.size() && plan.use[i] != 0) {
      absl::StrAppend(&header, ",\"use\":", plan.use[i]);
    } else if (i < plan.keep.size() && plan.keep[i] != 0) {
      absl::StrAppend(&header, ",\"keep\":", plan.keep[i]);
    }
    absl::StrAppend(&header, "}");
  }
  absl::StrAppend(&header, "]}");
  return header;
}

// `text` cut to `limit` bytes: a little of its start, most of its end.
std::string CutMiddle(std::string text, size_t limit) {
  if (text.size() <= limit) return text;
  const size_t head = limit / 8;
  const size_t tail = limit - head;
  return absl::StrCat(text.substr(0, head), "\n... (",
                      text.size() - head - tail, " bytes cut) ...\n",
                      text.substr(text.size() - tail));
}

}  // namespace

PythonRuntime::Exchange PythonRuntime::Lost(absl::Status cause) {
  Exchange lost{cause, cause};
  lost.reusable = false;
  return lost;
}

absl::Status PythonTaskError(const Struct& header) {
  const std::string& type = Field(header, "type").string_value();
  const std::string& message = Field(header, "message").string_value();
  const std::string& trace = Field(header, "traceback").string_value();
  // A failure the runner found before calling anything (bad args, code
  // that cannot be found) has no traceback and needs no type.
  std::string text = trace.empty() ? message
                     : message.empty()
                         ? absl::StrCat(type, "\n", trace)
                         : absl::StrCat(type, ": ", message, "\n", trace);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  absl::Status error =
      absl::UnknownError(CutMiddle(std::move(text), kMaxPythonErrorBytes));
  return Field(header, "permanent").bool_value() ? MakePermanent(error) : error;
}

std::vector<KeptInput> KeptInputs(const RuntimeAttempt& attempt) {
  std::vector<KeptInput> inputs(attempt.context.inputs().size());
  for (const auto& [position, ref] : attempt.assignment.input_refs()) {
    if (position >= inputs.size() || ref.key().empty() ||
        ref.size() < kMinKeptBytes ||
        (ref.content_type() != kDagdPickle &&
         ref.content_type() != kPlainPickle)) {
      continue;
    }
    inputs[position] = {KeptName(ref.key(), ref.size(), ref.crc32c()),
                        ref.size()};
  }
  return inputs;
}

PythonRuntime::PythonRuntime(PythonRuntimeOptions options, LogFn log)
    : options_(std::move(options)), log_(std::move(log)) {}

absl::StatusOr<std::unique_ptr<PythonRuntime>> PythonRuntime::Start(
    PythonRuntimeOptions options, LogFn log) {
  if (options.processes == 0) {
    return absl::InvalidArgumentError(
        "a Python runtime needs 1 interpreter "
        "at least");
  }
  std::unique_ptr<PythonRuntime> runtime(
      new PythonRuntime(std::move(options), std::move(log)));
  absl::MutexLock lock(&runtime->mu_);
  for (uint32_t i = 0; i < runtime->options_.processes; ++i) {
    absl::StatusOr<std::unique_ptr<PythonProcess>> process =
        PythonProcess::Start(runtime->options_.process);
    if (!process.ok()) return process.status();
    runtime->version_ = (*process)->version();
    runtime->idle_.push_back(std::make_unique<Interpreter>(
        *std::move(process), runtime->options_.keep_bytes));
    ++runtime->live_;
  }
  return runtime;
}

PythonRuntime::~PythonRuntime() = default;

std::string PythonRuntime::Describe() const {
  return absl::StrCat(options_.processes, " interpreter",
                      options_.processes == 1 ? "" : "s", " of ",
                      options_.process.interpreter, " (Python ", version_, ")");
}

absl::StatusOr<std::unique_ptr<PythonRuntime::Interpreter>>
PythonRuntime::Acquire(TaskContext& context,
                       const std::vector<KeptInput>& inputs) {
  bool cancelled = false;
  const int handle = context.AddCancelCallback([this, &cancelled] {
    absl::MutexLock lock(&mu_);
    cancelled = true;
  });
  absl::Cleanup remove = [&] { context.RemoveCancelCallback(handle); };
  {
    absl::MutexLock lock(&mu_);
    auto available = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return cancelled || !idle_.empty() || live_ < options_.processes;
    };
    mu_.Await(absl::Condition(&available));
    if (cancelled) return absl::CancelledError("cancelled");
    DropExitedIdle();
    if (!idle_.empty()) {
      for (std::unique_ptr<Interpreter>& idle : idle_) ApplyPending(*idle);
      // The most recently idle one, unless another keeps more of the
      // inputs.
      size_t best = idle_.size() - 1;
      uint64_t best_bytes = idle_[best]->kept.BytesOf(inputs);
      for (size_t i = 0; i + 1 < idle_.size(); ++i) {
        const uint64_t bytes = idle_[i]->kept.BytesOf(inputs);
        if (bytes > best_bytes) {
          best = i;
          best_bytes = bytes;
        }
      }
      std::unique_ptr<Interpreter> interpreter = std::move(idle_[best]);
      idle_.erase(idle_.begin() + best);
      return interpreter;
    }
    ++live_;  // ours to start, outside the lock
  }
  absl::StatusOr<std::unique_ptr<PythonProcess>> process =
      PythonProcess::Start(options_.process);
  if (!process.ok()) {
    absl::MutexLock lock(&mu_);
    --live_;
    return absl::UnavailableError(
        absl::StrCat("cannot start a Python interpreter to replace one that "
                     "ended: ",
                     process.status().message()));
  }
  log_(Info(absl::StrCat("python: started interpreter pid ", (*process)->pid(),
                         " in place of one that ended")));
  return std::make_unique<Interpreter>(*std::move(process),
                                       options_.keep_bytes);
}

void PythonRuntime::DropExitedIdle() {
  for (auto it = idle_.begin(); it != idle_.end();) {
    if (!(*it)->process->Exited()) {
      ++it;
      continue;
    }
    log_(Warning(absl::StrCat("python: interpreter pid ", (*it)->process->pid(),
                              " ended while idle (", (*it)->process->Reap(),
                              "); replacing it")));
    for (const PendingResult& pending : (*it)->pending) {
      awaiting_.erase(pending.attempt);
    }
    it = idle_.erase(it);
    --live_;
  }
}

void PythonRuntime::Release(std::unique_ptr<Interpreter> interpreter,
                            bool healthy) {
  absl::MutexLock lock(&mu_);
  if (healthy) {
    idle_.push_back(std::move(interpreter));
    return;
  }
  if (interpreter != nullptr) {
    for (const PendingResult& pending : interpreter->pending) {
      awaiting_.erase(pending.attempt);
    }
  }
  --live_;
}

void PythonRuntime::ApplyPending(Interpreter& interpreter) {
  std::vector<PendingResult>& pending = interpreter.pending;
  for (auto it = pending.begin(); it != pending.end();) {
    if (!it->resolved) {
      ++it;
      continue;
    }
    if (it->name.empty()) {
      interpreter.kept.Drop(it->id);
    } else {
      interpreter.kept.ResultKept(it->id, std::move(it->name), it->size);
    }
    it = pending.erase(it);
  }
}

void PythonRuntime::OutputStored(const v1::Assignment& assignment,
                                 const v1::ObjectRef* stored) {
  const std::string attempt = ResultObjectKey(assignment.task().job_id(),
                                              assignment.task().task_index(),
                                              assignment.task().attempt());
  absl::MutexLock lock(&mu_);
  auto it = awaiting_.find(attempt);
  if (it == awaiting_.end()) return;
  for (PendingResult& pending : it->second->pending) {
    if (pending.attempt != attempt) continue;
    pending.resolved = true;
    // Named as consumers' input_refs will name it; a result that did not
    // go by reference, or went under another attempt's key, nobody will
    // ask for.
    if (stored != nullptr && IsKeyWithin(stored->key(), attempt)) {
      pending.name = KeptName(stored->key(), stored->size(), stored->crc32c());
      pending.size = stored->size();
    }
  }
  awaiting_.erase(it);
}

void PythonRuntime::Confirm(Interpreter& interpreter, const KeptPlan& plan,
                            const Struct& header, const RuntimeAttempt& attempt,
                            uint64_t result_size) {
  std::vector<uint64_t> kept;
  for (const Value& id : Field(header, "kept").list_value().values()) {
    kept.push_back(static_cast<uint64_t>(id.number_value()));
  }
  auto confirmed = [&](uint64_t id) {
    return std::find(kept.begin(), kept.end(), id) != kept.end();
  };
  for (uint64_t id : plan.keep) {
    if (id != 0 && !confirmed(id)) interpreter.kept.NotKept(id);
  }
  if (plan.result == 0 || !confirmed(plan.result)) return;
  const auto& task = attempt.assignment.task();
  PendingResult pending;
  pending.attempt =
      ResultObjectKey(task.job_id(), task.task_index(), task.attempt());
  pending.id = plan.result;
  pending.size = result_size;
  absl::MutexLock lock(&mu_);
  awaiting_[pending.attempt] = &interpreter;
  interpreter.pending.push_back(std::move(pending));
}

absl::StatusOr<Payload> PythonRuntime::Run(const RuntimeAttempt& attempt) {
  TaskContext& context = attempt.context;
  // Without a budget nothing is kept: no names to make for each task.
  const std::vector<KeptInput> inputs =
      options_.keep_bytes > 0 ? KeptInputs(attempt)
                              : std::vector<KeptInput>(context.inputs().size());
  absl::StatusOr<std::unique_ptr<Interpreter>> acquired =
      Acquire(context, inputs);
  if (!acquired.ok()) return acquired.status();
  std::unique_ptr<Interpreter> interpreter = *std::move(acquired);
  PythonProcess& process = *interpreter->process;
  // A cancel (or the timeout) kills the interpreter, which ends RunOn.
  PythonProcess* const running = &process;
  const int handle = context.AddCancelCallback([running] { running->Kill(); });
  Exchange exchange = RunOn(*interpreter, attempt, inputs);
  context.RemoveCancelCallback(handle);
  // Killed by a cancel, maybe just after the exchange ended well: then it
  // is dead all the same and must not go back to the idle ones.
  const bool killed = process.killed();
  if (exchange.reusable && !killed) {
    Release(std::move(interpreter), /*healthy=*/true);
    return std::move(exchange.output);
  }
  const pid_t pid = process.pid();
  if (exchange.lost.ok()) process.Kill();  // alive, but dropped by us
  const std::string ended = process.Reap();
  Release(std::move(interpreter), /*healthy=*/false);
  if (killed || context.cancelled()) {
    return absl::CancelledError(
        absl::StrCat("cancelled: Python interpreter pid ", pid, " killed"));
  }
  if (exchange.lost.ok()) return std::move(exchange.output);
  LogEntry entry = Warning(absl::StrCat(
      "python: interpreter pid ", pid, " ended during the task (", ended, "; ",
      exchange.lost.message(), "); the next task gets a new one"));
  entry.job_id = context.job_id();
  entry.task_id = context.task_id();
  log_(entry);
  return absl::UnavailableError(
      absl::StrCat("the Python interpreter (pid ", pid,
                   ") died while running the task: ", ended));
}

PythonRuntime::Exchange PythonRuntime::RunOn(
    Interpreter& interpreter, const RuntimeAttempt& attempt,
    const std::vector<KeptInput>& inputs) {
  const TaskContext& context = attempt.context;
  PythonProcess& process = *interpreter.process;
  const KeptPlan plan = interpreter.kept.Plan(inputs, /*keep_result=*/true);
  std::vector<absl::string_view> frames;
  frames.reserve(context.inputs().size() + 1);
  if (!attempt.assignment.code().empty()) {
    frames.push_back(attempt.assignment.code());
  }
  for (size_t i = 0; i < context.inputs().size(); ++i) {
    if (plan.use[i] == 0) frames.push_back(context.inputs()[i].bytes());
  }
  if (absl::Status sent = process.Send(TaskHeader(attempt, plan), frames);
      !sent.ok()) {
    return Lost(sent);
  }
  while (true) {
    absl::StatusOr<Struct> header = process.ReadHeader();
    if (!header.ok()) return Lost(header.status());
    const std::string& kind = Field(*header, "kind").string_value();
    if (kind == "print") {
      LogPrint(context, *header);
    } else if (kind == "result") {
      return ReadOutput(interpreter, plan, attempt, *header);
    } else if (kind == "error") {
      Confirm(interpreter, plan, *header, attempt, 0);
      return {PythonTaskError(*header), absl::OkStatus()};
    } else {
      return Lost(absl::DataLossError(absl::StrCat(
          "the Python runner sent a message of kind '", kind, "'")));
    }
  }
}

absl::StatusOr<std::vector<size_t>> FrameSizes(const Struct& header,
                                               uint64_t max_result_bytes) {
  std::vector<size_t> sizes;
  uint64_t total = 0;
  for (const Value& size : Field(header, "sizes").list_value().values()) {
    const double n = size.number_value();
    if (size.kind_case() != Value::kNumberValue || !(n >= 0) ||
        n != std::floor(n) || std::isinf(n)) {
      return absl::DataLossError(absl::StrCat(
          "the Python runner sent a frame size of ",
          size.kind_case() == Value::kNumberValue ? absl::StrCat(n)
                                                  : std::string("no number"),
          ", which is no size"));
    }
    // Over the limit alone or with the frames before: refused before any
    // cast or sum could wrap.
    if (n > static_cast<double>(kMaxPythonOutputBytes - total)) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the output is over the limit of ", kMaxPythonOutputBytes, " bytes"));
    }
    sizes.push_back(static_cast<size_t>(n));
    total += sizes.back();
  }
  if (max_result_bytes > 0 && total > max_result_bytes) {
    // Not read: dagd would only drop it.
    return absl::ResourceExhaustedError(absl::StrCat(
        "the output is ", total, " bytes, over dagd's limit of ",
        max_result_bytes, " (--max_result_bytes); the worker did not read it"));
  }
  return sizes;
}

PythonRuntime::Exchange PythonRuntime::ReadOutput(Interpreter& interpreter,
                                                  const KeptPlan& plan,
                                                  const RuntimeAttempt& attempt,
                                                  const Struct& header) {
  PythonProcess& process = *interpreter.process;
  absl::StatusOr<std::vector<size_t>> frames = FrameSizes(
      header, options_.max_output_bytes ? options_.max_output_bytes() : 0);
  if (absl::IsDataLoss(frames.status())) return Lost(frames.status());
  if (!frames.ok()) {
    // Its frames are still on the way: the interpreter is out of step.
    Exchange dropped{MakePermanent(frames.status()), absl::OkStatus()};
    dropped.reusable = false;
    return dropped;
  }
  const std::vector<size_t>& sizes = *frames;
  uint64_t total = 0;
  for (size_t size : sizes) total += size;
  Confirm(interpreter, plan, header, attempt, total);
  Payload output;
  output.content_type = Field(header, "content_type").string_value();
  // Huge pages for a large output: read into 4 KiB pages, a fresh buffer
  // of tens of megabytes costs thousands of page faults.
  output.data = LargeString(total);
  output.data.resize(total);
  size_t offset = 0;
  for (size_t size : sizes) {
    if (absl::Status read = process.ReadFrameInto(output.data, offset, size);
        !read.ok()) {
      return Lost(read);
    }
    offset += size;
  }
  return {std::move(output), absl::OkStatus()};
}

void PythonRuntime::LogPrint(const TaskContext& context,
                             const Struct& header) const {
  const std::string& stream = Field(header, "stream").string_value();
  for (absl::string_view line : absl::StrSplit(
           Field(header, "text").string_value(), '\n', absl::SkipEmpty())) {
    LogEntry entry = Info(absl::StrCat("python ", stream, ": ", line));
    entry.job_id = context.job_id();
    entry.task_id = context.task_id();
    log_(entry);
  }
}

}  // namespace dagd
