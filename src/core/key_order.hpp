// Ordering of rows by integer-valued keys, free of Postgres: the set-aside groups of a split rollup append
// are put in their key index's order with this when every key column is an integer, timestamp or date
// under its type's default ascending, NULLS LAST btree order (see src/rollups/README.md).
#pragma once
#include "core/no_postgres.hpp"

#include <cstddef>
#include <cstdint>

namespace strata::core {

// A row's key: up to kMaxIntKeyColumns signed 64-bit values (a narrower integer widened with its sign,
// a date or timestamp as its Postgres integer), a bit per NULL column, and the row's position.
inline constexpr int kMaxIntKeyColumns = 4;
struct IntKey {
  int64_t value[kMaxIntKeyColumns];
  uint32_t null_mask;  // bit c: column c is NULL (its value is ignored)
  uint32_t row;
};

// Sorts keys[0..n) by their first `columns` columns (1..kMaxIntKeyColumns), ascending, a NULL after every
// value and equal to another NULL: the order of a btree index on them with default ascending operator
// classes, NULLS LAST. Rows with equal keys keep no particular order. No allocation beyond the stack.
void SortIntKeys(IntKey* keys, size_t n, int columns);

}  // namespace strata::core
