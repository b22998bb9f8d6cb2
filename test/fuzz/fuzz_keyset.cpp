// libFuzzer target for keysets as strata.keyset_lacks reads them (any bytea a caller passes): every
// input is refused by Split or accepted, and probes of an accepted one end (whatever its slots hold)
// without reading outside it.
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/keyset.cpp"

namespace ks = strata::core::keyset;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A copy of exactly `size` bytes, so ASan sees any read past the value.
  std::vector<unsigned char> buf(data, data + size);
  const unsigned char* aux = nullptr;
  if (ks::Split(buf.data(), buf.size(), &aux) != nullptr) return 0;
  const int columns = ks::Columns(buf.data());
  int64_t key[ks::kMaxKeysetColumns] = {};
  for (int probe = 0; probe < 4; probe++) {
    for (int c = 0; c < columns; c++) key[c] = probe * 3600 + c;
    (void) ks::Contains(buf.data(), key);
    if (aux != nullptr) (void) ks::Contains(aux, key);
  }
  return 0;
}
