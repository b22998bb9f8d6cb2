// Which partitions are compressed, and how their batches are laid out (strata.columnar_partition), as
// every backend's planner, executor and utility hooks ask it. Read with the latest snapshot and kept
// per backend until any relcache invalidation; every change of the table is made under an ACCESS
// EXCLUSIVE lock on the partition and sends a relcache invalidation for it (src/columnar/README.md).
#pragma once

#include <optional>
#include <vector>

#include "pg/guard.hpp"

namespace strata::columnar {

// A compressed partition ("leaf") and its batch table ("sibling"). The sibling's columns, in order:
// one per segment column (the batch's value), _strata_rows, _strata_min and _strata_max (when there is
// an order column), then one bytea batch per other column.
struct Compressed {
  Oid leaf = InvalidOid;
  Oid sibling = InvalidOid;
  std::vector<AttrNumber> segment;  // leaf attnums of the segment columns
  std::vector<AttrNumber> batch;    // leaf attnums of the batch columns
  AttrNumber order = 0;             // leaf attnum of the order column, 0 if none
  double rows = 0;                  // rows in batches at conversion

  AttrNumber RowsAttno() const { return AttrNumber(segment.size() + 1); }
  AttrNumber MinAttno() const { return order ? AttrNumber(segment.size() + 2) : 0; }
  AttrNumber MaxAttno() const { return order ? AttrNumber(segment.size() + 3) : 0; }
  AttrNumber BatchAttno(size_t i) const { return AttrNumber(segment.size() + (order ? 4 : 2) + i); }
};

// The partition's entry, or nullopt when it is not compressed (or strata is not installed here).
std::optional<Compressed> Lookup(Oid leaf);
// Whether any partition of this database is compressed.
bool AnyCompressed();
// Every compressed partition (for the utility hooks).
std::vector<Compressed> All();
// Registers the invalidation callback (once, from _PG_init) and whether strata is preloaded.
void InitState(bool preloaded);
// Whether strata was loaded by shared_preload_libraries (every backend then plans with its hooks).
bool Preloaded();

}  // namespace strata::columnar
