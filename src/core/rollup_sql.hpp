// SQL text for incremental rollups, free of Postgres. Terms:
//  * source: the table a rollup reads (a raw table, a partitioned table, or another rollup's data table);
//  * order column: a sequence-filled bigint on a raw source; a row is "absorbed" once its value lies in
//    the processed interval (cursor, watermark] of the rollup;
//  * bucket: the time-bucket expression (date_trunc / date_bin of one timestamp column); a bucket covers
//    [b, b + width) of that column;
//  * state columns: what the rollup table stores per group (avg is stored as a sum and a count);
//  * append: aggregate the rows of an order-column interval and merge them into existing groups;
//  * recompute: replace whole buckets by aggregating the source again (after UPDATE/DELETE, and for
//    rollups of rollups);
//  * pending table: the buckets waiting for a recompute (filled from the source's change log, or
//    by the refresh of the rollup this one reads).
// Every expression in a Spec is SQL text already deparsed by Postgres with qualified names; every name
// is a raw identifier (quoted here).
#pragma once
#include "core/no_postgres.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace strata::core::rollup {

enum class MeasureKind { kCount, kSum, kMin, kMax, kAvg, kHll, kQsketch, kTopk, kMerge };

struct Measure {
  std::string name;         // output column name
  MeasureKind kind = MeasureKind::kCount;
  std::string args;         // the deparsed argument list ("" for count(*)), e.g. "viewer_id, 12"
  std::string state_type;   // type of the stored column (avg: type of the sum)
  std::string result_type;  // type the view shows (avg: the avg's type)
};

struct Dim {
  std::string name;  // output column name
  std::string expr;  // deparsed expression (a column reference)
};

struct Spec {
  std::string source;        // qualified name of the relation aggregated
  bool source_is_rollup = false;
  std::string order_column;  // raw sources only
  std::string bucket_name;
  std::string bucket_expr;   // e.g. date_trunc('hour'::text, ts)
  std::string bucket_type;   // e.g. timestamp with time zone
  std::string bucket_width;  // SQL interval expression, e.g. '01:00:00'::interval
  std::string time_column;   // the column inside bucket_expr
  std::string time_zone;     // timestamptz buckets: the zone they are cut in ("" otherwise)
  std::vector<Dim> dims;
  std::vector<Measure> measures;
  std::string where;         // deparsed WHERE clause or ""
  std::string data_table;    // qualified rollup table
  std::string pending_table; // qualified pending table (column "b")
  int id = 0;                // catalog id (used in the real-time view's watermark lookups)
  // Every key column (bucket and dimensions) is a smallint, integer, bigint, date, timestamp or
  // timestamptz: the real-time view can drop touched groups with a keyset (set by the glue from the
  // data table's column types before ViewSql).
  bool int_keys = false;
};

// A rollup that reads this one: its pending table and its bucket expression over this rollup's columns.
struct Dependent {
  std::string pending_table;
  std::string bucket_expr;
};

// A grain of a source's change capture: one bucket expression its rollups use (see capture.hpp).
struct Grain {
  int id = 0;
  std::string bucket_expr;
  std::string bucket_type;  // timestamp with or without time zone
  std::string time_column;  // the column inside bucket_expr
};

// The capture's statement for one UPDATE or DELETE statement: the distinct buckets of its old (and, for
// an UPDATE, new) rows at every grain into strata.rollup_change (a timestamp bucket as its UTC reading):
// a bucket's entry, when there is one no other statement holds, moves to a new position; else a new
// entry (the log stays about as large as the buckets changed, whatever the number of statements).
// Reads the transition tables __strata_old and __strata_new. Empty when there is no grain.
std::string CaptureSql(const std::vector<Grain>& grains, bool update);
// A logged bucket (column `col` of strata.rollup_change) as a value of the grain's bucket type.
std::string LoggedBucket(const std::string& bucket_type, const std::string& col);

// Name of the i-th stored column(s) of a measure: avg -> name__sum, name__count.
std::vector<std::string> StateColumns(const Measure& m);
// The measure as the aggregate that computes its state column(s) from source rows.
std::vector<std::string> StateAggregates(const Measure& m);

// SELECT bucket, dims, state aggregates FROM source WHERE <where> AND (<filter>) GROUP BY ...
// `from_extra` is appended to the FROM clause (a join with the bucket list for recomputes).
// `last_item` (a select-list item) is added after the row count.
std::string StateSelect(const Spec& s, const std::string& filter, const std::string& from_extra = "",
                        bool with_row_count = false, const std::string& last_item = "");

// CREATE TABLE <data_table> AS <state select> WITH NO DATA, its unique key and the pending table.
std::vector<std::string> CreateTablesSql(const Spec& s);

// Append rows with $1 < order_column <= $2; returns (rows read, groups written) as one row. Buckets it
// touched are queued for every dependent in the same statement.
std::string AppendSql(const Spec& s, const std::vector<Dependent>& deps);

// Takes up to $1 buckets from the pending table (newest first). Returns one row: the buckets to
// recompute as a text array, those older than $2 (frozen_before) as another, their two counts, and
// whether a NULL or infinite bucket is among them.
std::string TakePendingSql(const Spec& s);

// The append for an empty data table created in the current transaction (the first build): a plain
// INSERT of the aggregated groups (one statement's groups are distinct, so nothing can conflict), to be
// run while the table's unique constraint is dropped and re-added after it (one index build instead of
// a speculative insertion per group). Same parameters and result row as AppendSql.
std::string BulkAppendSql(const Spec& s, const std::vector<Dependent>& deps);
// The groups of the source rows with $1 < order_column <= $2: the data table's columns in order, then
// the number of source rows of each group (bigint). For a bulk load without SQL in between. With
// bounded false, every source row (the caller knows no row is outside the range; $1 and $2 unused).
std::string AppendSelectSql(const Spec& s, bool bounded = true);
// The append of $1 < order_column <= $2 done by a receiver instead of one statement: the groups (the
// data table's columns in order), the source rows of each (bigint) and whether the group is in a bucket
// past the newest stored one (boolean: such a group cannot exist yet and is inserted directly; the others
// are merged into their stored groups as ColumnMerges says).
std::string SplitAppendSelectSql(const Spec& s);
// The data table's unique key (as CreateTablesSql adds it).
std::string AddKeySql(const Spec& s);
// How each data table column (in column order) combines a stored group with a batch's group of the same
// key, as MergeExpr does it in SQL: key columns keep the stored value; counts and sums (avg's two
// columns too) add, a NULL side giving the other; min/max keep the lesser/greater non-NULL value;
// sketches go through the two-argument strata.merge(stored, new). For merging without SQL in between.
enum class ColumnMerge { kKey, kAdd, kLeast, kGreatest, kSketchMerge };
std::vector<ColumnMerge> ColumnMerges(const Spec& s);

// Replaces the buckets in $1 (a text array of bucket values): deletes their groups, aggregates them
// again from source rows (raw source: only absorbed rows, $2 < order_column <= $3), queues dependents.
// Three statements, run in order in one transaction: the delete, the finite buckets' insert, and the
// insert for the NULL and infinite buckets (run only when TakePendingSql says such a bucket was taken).
std::vector<std::string> RecomputeSql(const Spec& s, const std::vector<Dependent>& deps);

// The definition view of a raw-source rollup: the time column, the dimensions, one aggregate per measure
// over its arguments and max(order column), from the source with the WHERE clause, grouped. Never read:
// it makes Postgres refuse a type change or drop of every column the stored SQL uses, and gives their
// current names after a rename (a view refers to columns by number).
std::string DefinitionViewSql(const Spec& s, const std::string& view_name);
// The bucket expression with its time column (a quoted identifier, the bucket function's second
// argument) renamed; nullopt when the column is not found exactly once in that place.
std::optional<std::string> RenameBucketColumn(const std::string& bucket_expr, const std::string& old_column,
                                              const std::string& new_column);

// The reader's view: materialized groups plus, in real-time mode, the unabsorbed tail of a raw
// source aggregated on the fly, merged per group.
// `or_replace` swaps the view of an existing rollup (same columns in every form). `backfill`: the form
// for a rollup whose backfill has not finished (every arm gated on the backfill cursor, plus the arm
// that re-aggregates everything while it runs); without it the view is only correct once the cursor is
// NULL for good, and costs less per read (no gating node per stored row, no backfill arm to plan).
std::string ViewSql(const Spec& s, const std::string& view_name, bool realtime, bool or_replace, bool backfill);
// The real-time view's unabsorbed rows aggregated to the rollup's groups (bucket, dimensions, state
// columns as the data table names them): order column above the live watermark (and above
// `watermark_hint`, a value it had: the watermark only rises, so the hint bounds the index scan for the
// planner), or at or below the backfill cursor while a backfill is open. Raw sources only.
std::string TailSql(const Spec& s, int64_t watermark_hint);
// Page layout of a first build (groups written in bucket order): late rows land in the newest buckets,
// so the groups of buckets starting less than kRecentWindowMicros before the newest one are written
// at kRecentFillfactor, leaving room for each group of a page to take one update in place (HOT; a
// 50,000-row batch in the last day touches ~90% of its stored groups); older buckets, rarely updated
// again, are packed full (kPackedFillfactor) so range reads over history visit fewer pages. Later
// writes use the table's own fillfactor.
constexpr int kPackedFillfactor = 100;
constexpr int kRecentFillfactor = 50;
constexpr int64_t kRecentWindowMicros = int64_t{86400} * 1000000;
// Whether a bucket (a timestamp: microseconds) is in the recent window of the newest bucket `newest`;
// saturating near the lower end of the range.
bool RecentBucket(int64_t bucket, int64_t newest);

// The real-time view looks up the stored groups of a tail of up to this many groups one by one in the
// key index and merges them pairwise; a bigger tail is joined over the
// buckets it touches and re-aggregated (with integer keys: every stored group of those buckets).
constexpr long kViewProbeLimit = 1000;

// The work_mem (kB) a refresh's aggregation of `s` runs with so that its hash table holds about
// `hash_table_kb` of groups at once, or 0 to leave work_mem as it is (`work_mem_kb`). A hash aggregation
// over more groups than fit in the CPU's caches misses them on nearly every input row (the hash bucket,
// then the group's key); past its memory limit it writes the rows of groups not in the table to
// partition files and aggregates each partition afterwards, a table that fits, which costs less than
// the cache misses (docs/perf-notes/2026-11-25-rollups-dashboard.md has the figures). The executor
// limits the table by bytes (work_mem times hash_mem_multiplier) and by groups: that limit over the
// planner's size of a group, which counts each aggregate state at its declared size (a sketch at its largest). So the budget is
// the number of groups whose real states fill `hash_table_kb`, times their declared size. Never above
// work_mem; 0 when it would not lower it, and when the input has at most `max_rows` rows (0: unknown)
// and these could not make more than kSmallInputTables such tables of groups: a table a few times the
// target still sits in the larger caches, and partitioning it costs more than it saves.
constexpr int64_t kSmallInputTables = 4;
int AggregationWorkMemKb(const Spec& s, int hash_table_kb, int work_mem_kb, double hash_mem_multiplier,
                         int64_t max_rows = 0);

// The end of the bucket starting at `start` (zone-aware for timestamptz buckets).
std::string BucketEnd(const Spec& s, const std::string& start);
// Merge of an existing state column with a new one (ON CONFLICT DO UPDATE).
std::string MergeExpr(MeasureKind kind, const std::string& column);
// The same merge of two state expressions, `old` first (a sketch merge is not commutative bytewise).
std::string MergeExpr(MeasureKind kind, const std::string& old, const std::string& add);
// Aggregate that combines state rows of one group (the view's re-aggregation).
std::string CombineExpr(const Measure& m);
// Parses/prints measure kinds for the catalog.
// date_trunc(unit, column[, zone]) rewritten as date_bin when every bucket has the same width: units up
// to a week (width "1 microsecond" .. "7 days", as UnitWidth names them) and, for timestamptz, a zone with
// a fixed UTC offset (utc_offset_s: seconds east of UTC; nullopt for a timestamp column). date_bin is
// integer arithmetic on the stored value; date_trunc converts each value to broken-down local time and
// back, which costs a sixth of a rollup's build. The buckets are the same: date_bin's origin is Monday
// 2000-01-03 00:00 local time, so weeks start on Monday as date_trunc's do. nullopt otherwise.
std::optional<std::string> DateBinForTrunc(const std::string& width, const std::string& column, bool with_zone,
                                           std::optional<long> utc_offset_s);

std::string KindName(MeasureKind k);
bool KindFromName(const std::string& name, MeasureKind* out);

}  // namespace strata::core::rollup
