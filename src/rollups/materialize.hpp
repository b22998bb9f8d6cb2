// Direct writes of a rollup's grouped rows into its data table `relid`: the result's columns are the
// table's in order, then a bigint (source rows of the group, summed into `rows`), and for SplitAppendQuery
// a boolean. Rows go into heap pages with multi-inserts, as COPY writes them (`written`); both return
// false without running anything when the table has something such writes would bypass (not a plain
// table, a trigger, constraint or row security). Text parameters as in pg::Query. The design note is
// README.md in this folder ("Direct writes").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/rollup_sql.hpp"
#include "pg/guard.hpp"

namespace strata::rollups {

struct DirectWriteCounts {
  int64_t rows = 0;
  int64_t written = 0;
  int64_t merged = 0;
};

// Memory (kB) for the direct writes' sorters, as a bulk sort like CREATE INDEX's gets it: the larger of
// work_mem and maintenance_work_mem. Read it before work_mem is lowered for the aggregation feeding them.
int SortMemKb();

// A first build: the table was made by this transaction and has no index; free-space map skipped. The
// rows are written in the order of their first `sort_keys` columns (ascending, NULLs last, as a btree
// orders them; sorted within sort_mem_kb, spilling beyond it).
bool BulkInsertQuery(const std::string& sql, const std::vector<std::optional<std::string>>& args, Oid relid,
                     int sort_keys, int sort_mem_kb, DirectWriteCounts* out);
// An append: rows flagged true are written with their index entries made as COPY makes them; the others
// are kept aside (sorted by the key, spilling past sort_mem_kb) and merged afterwards into the stored
// groups in key order, column by column as `merges` says (one entry per table column; the leading kKey
// columns must be the table's unique btree key), each group found through the key index and updated in
// place, or inserted when not stored yet (`merged`). Also false when a merge function or the key index
// is missing.
bool SplitAppendQuery(const std::string& sql, const std::vector<std::optional<std::string>>& args, Oid relid,
                      const std::vector<core::rollup::ColumnMerge>& merges, int sort_mem_kb, DirectWriteCounts* out);

}  // namespace strata::rollups
