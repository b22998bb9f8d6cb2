// What partition retention asks of rollups before it drops raw rows: the one header of src/rollups that
// src/partitions includes.
#pragma once

#include <string>
#include <vector>

#include "pg/guard.hpp"

namespace strata::rollups {

// Before retention drops a partition: the names of rollups on `parent` that have not yet absorbed
// every row of `partition` (empty: safe to drop).
std::vector<std::string> RollupsNotDone(Oid parent, const std::string& partition);
// Before retention drops raw data of `parent` below `bound_sql` (a SQL expression of the partition
// key): buckets before it become final in every rollup reading `parent`.
void MarkFrozenBefore(Oid parent, const std::string& bound_sql);

// Retention's own DETACH or DROP of a partition whose rows every rollup reading it has absorbed and
// frozen: while one of these lives, the DROP/DETACH event trigger (capture.cpp) logs nothing for the
// partition's rows (the rollups keep their history; a hand drop has them recomputed instead).
class RetentionDdl {
 public:
  RetentionDdl();
  ~RetentionDdl();
  RetentionDdl(const RetentionDdl&) = delete;
  RetentionDdl& operator=(const RetentionDdl&) = delete;
};
bool InRetentionDdl();

}  // namespace strata::rollups
