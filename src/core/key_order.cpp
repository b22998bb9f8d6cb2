#include "core/key_order.hpp"

#include <algorithm>

namespace strata::core {

namespace {

// a before b over the first n columns (NULLs last).
template <int kColumns>
bool Before(const IntKey& a, const IntKey& b, int n) {
  const int columns = kColumns > 0 ? kColumns : n;
  for (int c = 0; c < columns; c++) {
    const uint32_t bit = 1u << c;
    const bool an = (a.null_mask & bit) != 0, bn = (b.null_mask & bit) != 0;
    if (an != bn) return bn;
    if (an) continue;
    if (a.value[c] != b.value[c]) return a.value[c] < b.value[c];
  }
  return false;
}

template <int kColumns>
void SortBy(IntKey* keys, size_t n, int columns) {
  std::sort(keys, keys + n, [columns](const IntKey& a, const IntKey& b) { return Before<kColumns>(a, b, columns); });
}

}  // namespace

void SortIntKeys(IntKey* keys, size_t n, int columns) {
  // The common key widths get a comparison loop of fixed length.
  switch (columns) {
    case 1: SortBy<1>(keys, n, columns); break;
    case 2: SortBy<2>(keys, n, columns); break;
    default: SortBy<0>(keys, n, std::clamp(columns, 1, kMaxIntKeyColumns)); break;
  }
}

}  // namespace strata::core
