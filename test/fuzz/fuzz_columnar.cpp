// libFuzzer target for the column batch decoder (what a compressed partition's stored batches are read
// with): the first byte picks the column's kind, the rest is the stored batch. Every input is refused
// with core::Error or decoded; a decoded batch encodes again and decodes back to the same values.
#include <cstdint>
#include <vector>

#include "core/columnar/codec.cpp"

namespace col = strata::core::columnar;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const col::Kind kind = col::Kind(1 + data[0] % 3);
  // A copy of exactly the batch's bytes, so ASan sees any read past it.
  std::vector<uint8_t> buf(data + 1, data + size);
  try {
    // The checksum is not verified: a hostile batch can carry a right one; the codecs must hold anyway.
    const col::Header h = col::ReadHeader(buf.data(), buf.size());
    col::Batch b = col::Decode(buf.data(), buf.size(), kind, h.type_tag, false);
    const std::vector<uint8_t> again = col::Encode(b);
    col::Batch c = col::Decode(again.data(), again.size(), kind, h.type_tag);
    if (b.null != c.null || b.ints != c.ints || b.floats != c.floats || b.spans.size() != c.spans.size()) __builtin_trap();
    for (size_t k = 0; k < b.spans.size(); k++)
      if (b.value(k) != c.value(k)) __builtin_trap();
  } catch (const strata::core::Error&) {
  }
  return 0;
}
