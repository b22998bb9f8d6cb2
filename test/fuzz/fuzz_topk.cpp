// libFuzzer target for the topk reader: every input is either refused with core::Error or accepted, and
// an accepted sketch re-serializes to a canonical form that reads back identically.
#include <cstdint>
#include <vector>

#include "core/sketch/topk.hpp"

using strata::core::sketch::TopK;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    TopK s = TopK::Deserialize(data, size);
    std::vector<uint8_t> a, b;
    s.Serialize(&a);
    TopK t = TopK::Deserialize(a.data(), a.size());
    t.Serialize(&b);
    if (a != b) __builtin_trap();
    s.Merge(t);
    (void) s.Top();
  } catch (const strata::core::Error&) {
  }
  return 0;
}
