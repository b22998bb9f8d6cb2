// A keyset: a set of keys of 1..kMaxKeysetColumns signed 64-bit columns, laid out flat in one byte
// buffer (an open-addressing hash table), so it can travel as a bytea value and be probed in place.
// The real-time rollup view builds one from the groups of its unabsorbed tail (strata.keyset_agg) and
// drops the stored groups the tail touches with strata.keyset_lacks, a probe per stored row that costs
// less than the hash anti-join it replaces (src/rollups/README.md).
//
// Table layout (host byte order; every read goes through memcpy, so the buffer needs no alignment):
//   uint32 magic, uint32 columns, uint64 count (distinct keys), uint64 capacity (a power of two),
//   capacity * columns int64 slots, capacity bytes (1: slot used).
// A keyset value is one table, optionally followed by a second, one-column table: the first key
// columns of keys that had a NULL in a later column (the buckets where the tail has a group with a
// NULL dimension: such a group never equals a stored key, so stored groups with a NULL dimension in
// those buckets are re-aggregated instead).
#pragma once
#include "core/no_postgres.hpp"

#include <cstddef>
#include <cstdint>

namespace strata::core::keyset {

inline constexpr int kMaxKeysetColumns = 32;
inline constexpr size_t kHeaderBytes = 24;

// Bytes a keyset of `columns` columns needs for up to `keys` keys; 0 if that is more than `limit` bytes.
size_t BytesFor(int columns, uint64_t keys, size_t limit);

// Writes the keyset of keys[0 .. n * columns) (row-major; duplicates are stored once) into out, which
// holds BytesFor(columns, n, ...) bytes.
void Build(const int64_t* keys, uint64_t n, int columns, unsigned char* out);

// nullptr when buf[0..len) has a keyset's header and the length it calls for; else what is wrong with it.
// Constant time (it runs per probe): the slots are not read, and Contains stays bounded whatever they hold.
const char* Check(const unsigned char* buf, size_t len);

// Checks a keyset value (one table, or two): nullptr when well-formed, with *aux set to the second table
// or nullptr; else what is wrong. Constant time.
const char* Split(const unsigned char* buf, size_t len, const unsigned char** aux);
// Bytes of the table at `table` (whose header passed Check).
size_t TableBytes(const unsigned char* table);

int Columns(const unsigned char* buf);
uint64_t Count(const unsigned char* buf);

// Whether the keyset (whose header passed Check) holds key[0..Columns()).
bool Contains(const unsigned char* buf, const int64_t* key);

}  // namespace strata::core::keyset
