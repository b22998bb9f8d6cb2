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
    (void) s.Quantile(0.5); (void) s.QuantileCont(0.37); (void) s.Mean();
  } catch (const strata::core::Error&) {
  }
  // The merge aggregate's path: merging straight from the bytes into a live sketch validates the same
  // and, when the bytes are valid, equals merging the deserialized sketch.
  try {
    QSketch base;
    for (int i = 0; i < 300; i++) base.Add(1.5 * (i + 1) - 3);
    QSketch direct = base;
    direct.MergeSerialized(data, size);
    QSketch via = base;
    via.Merge(QSketch::Deserialize(data, size));
    std::vector<uint8_t> a, b;
    direct.Serialize(&a);
    via.Serialize(&b);
    if (a != b) __builtin_trap();
  } catch (const strata::core::Error&) {
  }
  return 0;
}
