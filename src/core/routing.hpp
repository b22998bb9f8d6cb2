// Query routing, free of Postgres: when a rollup's buckets nest inside a query's, and the statement that
// answers an aggregate query over a raw table from a rollup's stored groups plus raw rows. Terms:
//  * bucketing: a time-bucket function call, date_trunc(unit, t[, zone]) or date_bin(stride, t, origin);
//  * nests: every bucket of the fine bucketing lies inside one bucket of the coarse one, so
//    coarse(fine(t)) = coarse(t) for every t and a coarse grouping can be computed from fine buckets;
//  * whole bucket: a rollup bucket every row of which satisfies the query's time range;
//  * dirty bucket: one changed by UPDATE/DELETE (or TRUNCATE) and not recomputed yet, at the reader's
//    snapshot: its stored groups are stale, so its rows are read raw;
//  * frozen: buckets before the rollup's frozen_before (raw rows dropped by retention): never read from
//    the rollup for a raw-table query (the raw query does not see them);
//  * state column: what a union arm gives per group for one measure (a count, a sum, a sketch...), the
//    outer query combines them (sum of counts, min of mins, merge of sketches).
// The routed statement is a union of arms, each an aggregate of one part of the rows, re-aggregated by
// the reader's own grouping on top:
//   rollup arm   stored groups of whole, clean, unfrozen buckets (the rollup's absorbed rows there; for a
//                rollup of a rollup, a bucket is dirty also when its own stored group is stale or a
//                finer bucket under it is dirty);
//   tail arms    raw rows of those buckets the rollup has not absorbed (order column outside its
//                processed interval: read through the order column's index);
//   edge arms    raw rows of the range's partial first and last buckets (read through the time index);
//   dirty arm    raw rows of the dirty whole buckets (one index range per bucket);
//   frozen arm   raw rows still present in frozen buckets (normally none);
//   odd arm      raw rows with a NULL or infinite time (no bucket range holds them).
// Every raw row satisfying the query's filters is in exactly one arm or in one stored group read.
#pragma once
#include "core/no_postgres.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace strata::core::routing {

// A time-bucket function call with constant arguments.
struct Bucketing {
  enum class Kind { kTrunc, kBin } kind = Kind::kTrunc;
  int unit = 0;          // trunc: rank in the unit ladder (UnitRank)
  std::string zone;      // trunc over timestamptz: the zone it is cut in; "" for a timestamp column
  bool with_zone = false;  // trunc over timestamptz (zone meaningful)
  int64_t stride_us = 0;   // bin: the stride in microseconds (> 0)
  int64_t origin_us = 0;   // bin: the origin in microseconds since 2000-01-01 (UTC for timestamptz)
};

// date_trunc's units in nesting order (microseconds .. millennium; "week" sits after "day" and nests
// only in itself); nullopt for a unit date_trunc does not know. Accepts Postgres's spellings
// ("hours", "min", ...) as date_trunc does.
std::optional<int> UnitRank(const std::string& unit);
// The rank of "week".
int WeekRank();
// The length of a unit up to a week, in microseconds (0 for month and coarser).
int64_t UnitMicros(int rank);

// Whether `fine` nests in `coarse`. `zone_step_us`: every UTC offset the coarse (or, for two truncs, the
// common) zone has ever used is a multiple of this many microseconds (0: unknown): a bin nests in a
// zoned trunc when its stride divides the unit's length (at most a day: calendar units start at local
// midnight) and the zone's offsets keep local boundaries on the stride's grid.
bool Nests(const Bucketing& fine, const Bucketing& coarse, int64_t zone_step_us = 0);

// Replaces each placeholder `$N` (N in the map) outside quoted literals and identifiers by its text,
// parenthesized. A `$N` not in the map is left as it is (a parameter of the reader's query).
std::string SubstitutePlaceholders(const std::string& sql, const std::map<int, std::string>& with);

// How the outer query combines one state column over the arms.
enum class Combine { kCount, kSum, kMin, kMax, kSketch };

// One state column: the aggregate that computes it from raw rows and the rollup column that stores it.
struct State {
  std::string raw_aggregate;  // e.g. sum(watch_ms)
  std::string rollup_column;  // e.g. d."watch_ms__sum"
  Combine combine = Combine::kSum;
};
// The outer query's combination of state column `column` (e.g. s.c1) of kind `combine`, typed as `type`.
std::string CombineState(Combine combine, const std::string& column, const std::string& type);

// A bound of the query's time range: `time op expr` with op one of >, >=, <, <=.
struct Bound {
  std::string op;
  std::string expr;  // deparsed, no column reference
  // The bound is a rollup bucket start whatever it evaluates to (e.g. date_trunc('hour', now()) -
  // interval '7 days' over an hourly rollup): with `>=` or `<` no bucket is cut, and the edge arm goes.
  bool aligned = false;
};

// Everything the routed statement needs, as SQL text (glue deparses the reader's query into it).
struct Route {
  // The rollup whose catalog row holds the progress (watermark, cursor, change position, frozen cutoff):
  // the one reading the raw table; for a rollup of a rollup, the first of its chain.
  int rollup_id = 0;
  std::string source;         // the raw relation, qualified
  std::string data_table;     // the rollup's data table, qualified
  std::string time_column;    // quoted
  std::string order_column;   // quoted
  std::string bucket_column;  // the data table's bucket column, quoted
  std::string bucket_type;    // timestamp with(out) time zone
  // The rollup's progress when the statement is made: rows above `watermark` (and, while a backfill is
  // open, at or below `cursor`) are read raw; the live values are read at execution and only narrow
  // these (the watermark only rises, the cursor only falls and never reopens).
  int64_t watermark = 0;
  std::optional<int64_t> cursor;
  int grain = 0;               // the rollup's grain in the source's change log
  std::string pending_table;   // qualified; column b
  // A rollup of a rollup: the pending tables of the rollups it reads through (raw side first), whose
  // buckets, and the logged ones, make its bucket of them dirty (R(b)). Empty for a rollup of the raw table.
  std::vector<std::string> through_pending;
  // The rollup's bucket expression over `x` (R(x)), and the end of the rollup bucket starting at `x`.
  std::function<std::string(const std::string&)> bucket_of, bucket_end;
  // Per group key of the reader's query: over raw rows (alias r) and over stored groups (alias d).
  std::vector<std::pair<std::string, std::string>> keys;
  std::vector<State> states;
  // Conjuncts of the reader's WHERE other than the time range: as written (raw) and over stored groups.
  std::vector<std::string> raw_filters, rollup_filters;
  std::optional<Bound> lower, upper;
  // A query on a rollup's view answered by a rollup of that rollup (`data_table`, `pending_table`,
  // `bucket_of` are the reading rollup's; `time_column` is the viewed rollup's bucket column): the view's
  // rows outside the stored groups read come from the view's own parts, as the view reads them, so the
  // answer is the view's (frozen history and buckets waiting for the viewed rollup's recompute included).
  struct OverView {
    std::string data_table;  // the viewed rollup's stored groups, qualified
    std::string tail;        // its unabsorbed rows aggregated to its groups (rollup::TailSql); "" when
                             // its view is materialized-only
  };
  std::optional<OverView> over_view;
  // A one-time condition the stored groups are valid under (e.g. the session's TimeZone is the one the
  // match was made in); when it is false at execution every row comes from the raw arms. "" for none.
  std::string guard;
};

// With `over_view` the arms are: the reading rollup's stored groups of whole buckets not in its pending
// table; the viewed rollup's stored groups everywhere else (pending, partial, NULL and infinite buckets,
// all of them when the guard fails: rare); the viewed rollup's unabsorbed rows.
// The union of arms as a parenthesized subquery with columns g1.., c1.. (keys, states). `arms` gets the
// number of arms and `rare` the positions (from 0) of those that are empty but in rare states: the dirty
// buckets' (the planner cannot know how many buckets are dirty), the frozen buckets' and the one for a
// changed TimeZone. Costing leaves them out.
std::string UnionSql(const Route& r, int* arms = nullptr, std::vector<int>* rare = nullptr);

}  // namespace strata::core::routing
