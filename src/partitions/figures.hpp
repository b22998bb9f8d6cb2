// A partition set's figures for ingest health (src/health/README.md), read from the relation cache and
// the cumulative statistics only: the counters summed over its partitions, the partitions ahead of the
// newest one holding rows, the rows of its default partition. The worker's partition pass leaves each
// set's layout (its partitions and bounds, as it read them) for the health pass that follows it, so a
// pass reads the relation cache once; sets it did not read (disabled, backing off, locked) are read here.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "partitions/catalog.hpp"

namespace strata::partitions {

struct TableCounters {
  int64_t inserted = 0, updated = 0, deleted = 0, dead = 0, live = 0;
  bool operator==(const TableCounters& o) const {
    return inserted == o.inserted && updated == o.updated && deleted == o.deleted && dead == o.dead;
  }
};

struct SetFigures {
  Oid parent = InvalidOid;
  int premake = 0;
  TableCounters counters;
  std::optional<int> partitions_ahead;     // none when no partition holds rows
  std::optional<int64_t> default_rows;     // none without a default partition, or behind a lock now
};

// The worker's partition pass: forget the layouts of the last pass (at its start), remember the sets it
// loaded, then each set's layout as MaintainSet read it when it had nothing to do (a set it changed is
// read afresh by the health pass).
void ForgetPassLayouts();
void RememberPassSets(const std::vector<SetRow>& sets);
void RememberPassLayout(const SetRow& set, const Facts& facts);

// Every set's figures. With `reuse_pass`, the layouts the partition pass just left are used where there
// are some; every other set is read from the relation cache (a lock taken only if that needs no wait,
// let go at once; a set behind a lock queue is left out and named in *left_out). Needs a transaction
// and SPI (the default partition is counted only when it has pages).
std::vector<SetFigures> ReadFigures(bool reuse_pass, std::vector<Oid>* left_out);

// A table's counters summed over it and every table below it (pg_inherits read without locks).
TableCounters TreeCounters(Oid relid);

}  // namespace strata::partitions
