// libFuzzer target for the hll reader: every input is either refused with core::Error or accepted, and
// an accepted sketch re-serializes to a canonical form that reads back identically.
#include <cstdint>
#include <vector>

#include "core/sketch/hll.hpp"

using strata::core::sketch::Hll;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    Hll s = Hll::Deserialize(data, size);
    std::vector<uint8_t> a, b;
    s.Serialize(&a);
    Hll t = Hll::Deserialize(a.data(), a.size());
    t.Serialize(&b);
    if (a != b) __builtin_trap();
    s.Merge(t);
    (void) s.Estimate();
  } catch (const strata::core::Error&) {
  }
  // The merge aggregate's path: merging straight from the bytes into a live sketch validates the same
  // and, when the bytes are valid, equals merging the deserialized sketch.
  try {
    Hll base;
    for (int i = 0; i < 300; i++) base.AddHash(0x9e3779b97f4a7c15ULL * (i + 1));
    Hll direct = base;
    direct.MergeSerialized(data, size);
    Hll via = base;
    via.Merge(Hll::Deserialize(data, size));
    std::vector<uint8_t> a, b;
    direct.Serialize(&a);
    via.Serialize(&b);
    if (a != b) __builtin_trap();
  } catch (const strata::core::Error&) {
  }
  return 0;
}
