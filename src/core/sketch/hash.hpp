// The one hash of strata's sketches: XXH3-64 with seed 0 (Debian's libxxhash, inlined). Its output is
// fixed by the XXH3 specification, identical on every platform and Postgres version, so stored sketches
// stay mergeable forever. Integers are hashed as 8 little-endian bytes, so integer and bigint columns
// holding the same values produce the same sketch.
#pragma once
#include "core/no_postgres.hpp"

#include <cstddef>
#include <cstdint>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace strata::core::sketch {

inline uint64_t HashBytes(const void* p, size_t n) { return XXH3_64bits(p, n); }

inline uint64_t HashInt64(int64_t v) {
  uint64_t u = static_cast<uint64_t>(v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  u = __builtin_bswap64(u);
#endif
  // Hashing the integer's own (little-endian) bytes: writing them out one by one first made XXH3's
  // 32-bit reads wait for eight byte stores (a store-forwarding stall per value).
  return XXH3_64bits(&u, 8);
}

}  // namespace strata::core::sketch
