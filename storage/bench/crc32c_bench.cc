// CRC-32C throughput (make crc32c_bench): the checksum every held result
// gets when it is made and again when another worker fetches it. Bytes per
// second of Extend (the CPU's crc32 instruction where it has one) and of
// the table implementation, on buffers from 4 KiB to 32 MiB.
#include <random>
#include <string>

#include "benchmark/benchmark.h"
#include "storage/crc32c.h"

namespace dagd::crc32c {
namespace {

std::string RandomBytes(size_t n) {
  std::mt19937_64 random(1);
  std::string data(n, '\0');
  for (char& c : data) c = static_cast<char>(random());
  return data;
}

// Bytes per second of `crc` over a buffer of state.range(0) bytes.
template <uint32_t (*crc)(uint32_t, const char*, size_t)>
void BM_Crc(benchmark::State& state) {
  const std::string data = RandomBytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(crc(0, data.data(), data.size()));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          state.range(0));
}
BENCHMARK_TEMPLATE(BM_Crc, Extend)
    ->RangeMultiplier(8)
    ->Range(4 << 10, 32 << 20);
BENCHMARK_TEMPLATE(BM_Crc, ExtendPortable)->Arg(32 << 20);

}  // namespace
}  // namespace dagd::crc32c

BENCHMARK_MAIN();
