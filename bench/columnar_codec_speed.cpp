// Encode and decode speed of the column batch codecs (src/core/columnar), on batches of 1,000 values shaped
// like the columnar benchmark's events: time-ordered timestamps, ids, random counters, two-decimal floats,
// a low-cardinality label. Prints ns per value and bytes per value for each; what a custom scan pays
// per value decoded, without any executor cost. Built and run by bench/columnar_bench.sh.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/columnar/codec.hpp"

namespace col = strata::core::columnar;

namespace {

constexpr int kValues = 1000;
constexpr int kBatches = 2000;

double NsPerValue(const std::chrono::steady_clock::time_point& t0, int values) {
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / values;
}

void Measure(const char* name, const std::vector<col::Batch>& batches) {
  std::vector<std::vector<uint8_t>> encoded(batches.size());
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < batches.size(); i++) encoded[i] = col::Encode(batches[i]);
  const double enc = NsPerValue(t0, int(batches.size()) * kValues);
  size_t bytes = 0, check = 0;
  for (const auto& e : encoded) bytes += e.size();
  t0 = std::chrono::steady_clock::now();
  for (const auto& e : encoded) check += col::Decode(e.data(), e.size(), batches[0].kind, 0).size();
  const double dec = NsPerValue(t0, int(batches.size()) * kValues);
  if (check != batches.size() * kValues) std::printf("decode lost values\n");
  std::printf("   %-22s encode %6.2f ns/value   decode %6.2f ns/value   %6.3f bytes/value (%s)\n", name, enc, dec,
              double(bytes) / double(batches.size() * kValues),
              col::CodecName(col::ReadHeader(encoded[0].data(), encoded[0].size()).codec));
}

}  // namespace

int main() {
  std::mt19937_64 rng(42);
  std::vector<col::Batch> ts(kBatches), ids(kBatches), counters(kBatches), floats(kBatches), labels(kBatches);
  const char* names[] = {"sports", "news", "music", "gaming", "kids", "education", "comedy", "film"};
  int64_t t = 1793577600000000, id = 1;
  for (int b = 0; b < kBatches; b++) {
    ts[b].kind = ids[b].kind = counters[b].kind = col::Kind::kInt;
    floats[b].kind = col::Kind::kFloat;
    labels[b].kind = col::Kind::kBytes;
    for (int i = 0; i < kValues; i++) {
      t += 18400 + int64_t(rng() % 1000000);  // ~0.5 s apart, jittered, in time order
      ts[b].AddInt(t);
      ids[b].AddInt(id++);
      counters[b].AddInt(int64_t(std::exp(7 + double(rng() % 3000) / 1000.0)));
      const double f = double(rng() % 10001) / 100.0;
      uint64_t bits;
      std::memcpy(&bits, &f, 8);
      floats[b].AddFloat(bits);
      labels[b].AddBytes(names[rng() % 8]);
    }
  }
  Measure("timestamps (jittered)", ts);
  Measure("ids (sequential)", ids);
  Measure("counters (random)", counters);
  Measure("floats (2 decimals)", floats);
  Measure("label (8 values)", labels);
  return 0;
}
