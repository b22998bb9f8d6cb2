// libFuzzer target for the qsketch reader: every input is either refused with core::Error or accepted, and
// an accepted sketch re-serializes to a canonical form that reads back identically.
#include <cstdint>
#include <vector>

#include "core/sketch/qsketch.hpp"

using strata::core::sketch::QSketch;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    QSketch s = QSketch::Deserialize(data, size);
    std::vector<uint8_t> a, b;
    s.Serialize(&a);
    QSketch t = QSketch::Deserialize(a.data(), a.size());
    t.Serialize(&b);
    if (a != b) __builtin_trap();
    s.Merge(t);
    (void) s.Quantile(0.5); (void) s.Mean();
  } catch (const strata::core::Error&) {
  }
  return 0;
}
