// SQL text for incremental rollups (see rollup_sql.hpp for the terms).
#include "core/rollup_sql.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/naming.hpp"

namespace strata::core::rollup {
namespace {

constexpr const char* kRowsColumn = "__strata_rows";
constexpr const char* kNewColumn = "__strata_new";

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); i++) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

// Every stored column in table order: bucket, dims, measure state columns.
std::vector<std::string> AllColumns(const Spec& s) {
  std::vector<std::string> cols{QuoteIdent(s.bucket_name)};
  for (const auto& d : s.dims) cols.push_back(QuoteIdent(d.name));
  for (const auto& m : s.measures)
    for (const auto& c : StateColumns(m)) cols.push_back(QuoteIdent(c));
  return cols;
}

std::vector<std::string> KeyColumns(const Spec& s) {
  std::vector<std::string> cols{QuoteIdent(s.bucket_name)};
  for (const auto& d : s.dims) cols.push_back(QuoteIdent(d.name));
  return cols;
}

std::string WhereClause(const Spec& s, const std::string& filter) {
  std::string w = s.where.empty() ? "" : "(" + s.where + ")";
  if (!filter.empty()) w += (w.empty() ? "" : " AND ") + std::string("(") + filter + ")";
  return w.empty() ? "" : " WHERE " + w;
}

// The order values in ($first, $(first + 1)]: the rows an append or recompute reads.
std::string OrderRange(const Spec& s, int first) {
  const std::string order = QuoteIdent(s.order_column);
  return order + " > $" + std::to_string(first) + "::bigint AND " + order + " <= $" + std::to_string(first + 1) +
         "::bigint";
}

// The start of an append: the source rows with order values in ($1, $2] aggregated, with their row
// count, as CTE __strata_agg.
std::string AggregateRange(const Spec& s) { return "WITH __strata_agg AS (" + AppendSelectSql(s) + ")"; }

// The number of source rows an append read (first column of its result).
std::string RowsRead() {
  return std::string("(SELECT COALESCE(sum(") + kRowsColumn + "), 0) FROM __strata_agg)::bigint";
}

// " ON CONFLICT (<key>) DO UPDATE SET <each state column merged with EXCLUDED's>": how an append merges a
// group into the stored one (target alias t).
std::string OnConflictMerge(const Spec& s) {
  std::vector<std::string> sets;
  for (const auto& m : s.measures)
    for (const auto& c : StateColumns(m)) sets.push_back(QuoteIdent(c) + " = " + MergeExpr(m.kind, QuoteIdent(c)));
  return " ON CONFLICT (" + Join(KeyColumns(s), ", ") + ") DO UPDATE SET " + Join(sets, ", ");
}

std::string QueueDependents(const std::vector<Dependent>& deps, const std::string& from, size_t first) {
  std::string out;
  for (size_t i = 0; i < deps.size(); i++)
    out += ", __strata_d" + std::to_string(first + i) + " AS (INSERT INTO " + deps[i].pending_table +
           " (b) SELECT DISTINCT " + deps[i].bucket_expr + " FROM " + from + ")";
  return out;
}

}  // namespace

std::optional<std::string> DateBinForTrunc(const std::string& width, const std::string& column, bool with_zone,
                                           std::optional<long> utc_offset_s) {
  static const char* const kFixed[] = {"1 microsecond", "1 millisecond", "1 second", "1 minute",
                                       "1 hour", "1 day", "7 days"};
  bool fixed = false;
  for (const char* w : kFixed) fixed = fixed || width == w;
  if (!fixed) return std::nullopt;
  std::string origin;
  if (with_zone) {
    // Offsets are within +-16 h, so local midnight of 2000-01-03 is between Jan 2 08:00 and Jan 3 16:00 UTC.
    if (!utc_offset_s || *utc_offset_s < -16 * 3600 || *utc_offset_s > 16 * 3600) return std::nullopt;
    const long s = 2 * 86400 - *utc_offset_s;
    char buf[40];
    std::snprintf(buf, sizeof buf, "2000-01-%02ld %02ld:%02ld:%02ld+00", 1 + s / 86400, s % 86400 / 3600,
                  s % 3600 / 60, s % 60);
    origin = QuoteLiteral(buf) + "::timestamp with time zone";
  } else {
    origin = "'2000-01-03 00:00:00'::timestamp without time zone";
  }
  return "pg_catalog.date_bin(" + QuoteLiteral(width) + "::interval, " + column + ", " + origin + ")";
}

std::string KindName(MeasureKind k) {
  switch (k) {
    case MeasureKind::kCount: return "count";
    case MeasureKind::kSum: return "sum";
    case MeasureKind::kMin: return "min";
    case MeasureKind::kMax: return "max";
    case MeasureKind::kAvg: return "avg";
    case MeasureKind::kHll: return "hll_agg";
    case MeasureKind::kQsketch: return "qsketch_agg";
    case MeasureKind::kTopk: return "topk_agg";
    case MeasureKind::kMerge: return "merge";
  }
  return "count";
}

bool KindFromName(const std::string& name, MeasureKind* out) {
  for (MeasureKind k : {MeasureKind::kCount, MeasureKind::kSum, MeasureKind::kMin, MeasureKind::kMax, MeasureKind::kAvg,
                        MeasureKind::kHll, MeasureKind::kQsketch, MeasureKind::kTopk, MeasureKind::kMerge}) {
    if (KindName(k) == name) {
      *out = k;
      return true;
    }
  }
  return false;
}

std::vector<std::string> StateColumns(const Measure& m) {
  if (m.kind == MeasureKind::kAvg) return {m.name + "__sum", m.name + "__count"};
  return {m.name};
}

std::vector<std::string> StateAggregates(const Measure& m) {
  const std::string& a = m.args;
  switch (m.kind) {
    case MeasureKind::kCount: return {a.empty() ? "count(*)" : "count(" + a + ")"};
    case MeasureKind::kSum: return {"sum(" + a + ")"};
    case MeasureKind::kMin: return {"min(" + a + ")"};
    case MeasureKind::kMax: return {"max(" + a + ")"};
    case MeasureKind::kAvg: return {"sum(" + a + ")", "count(" + a + ")"};
    case MeasureKind::kHll: return {"strata.hll_agg(" + a + ")"};
    case MeasureKind::kQsketch: return {"strata.qsketch_agg(" + a + ")"};
    case MeasureKind::kTopk: return {"strata.topk_agg(" + a + ")"};
    case MeasureKind::kMerge: return {"strata.merge(" + a + ")"};
  }
  return {};
}

namespace {
// A group's transition state in the hash table: as the planner sizes it (the aggregate's declared state
// space, nothing for a pass-by-value state) and about what a group of a refresh really holds.
struct StateBytes {
  double declared;
  double real;
};
bool ByValue(const std::string& type) {
  static const char* const kTypes[] = {"bigint", "integer", "smallint", "double precision", "real", "boolean",
                                       "date", "timestamp without time zone", "timestamp with time zone",
                                       "time without time zone", "oid", "money"};
  for (const char* t : kTypes)
    if (type == t) return true;
  return false;
}
StateBytes SketchState(const std::string& type) {
  // Declared as the dense form (hll 16,500, qsketch 8,192, topk 4,096 bytes); a group of a refresh holds
  // a few rows: the state object, its small buffer, allocation headers.
  if (type.find("hll") != std::string::npos) return {16500, 1024};
  if (type.find("qsketch") != std::string::npos) return {8192, 1024};
  return {4096, 1024};
}
StateBytes SumState(const std::string& state_type) {
  // sum(int2/int4/float) keeps a pass-by-value state; sum(int8)/sum(numeric) an internal one (48/128
  // bytes declared), sum(interval) a small by-reference one.
  if (state_type == "numeric") return {128, 96};
  if (ByValue(state_type)) return {0, 0};
  return {64, 48};
}
std::vector<StateBytes> MeasureStates(const Measure& m) {
  switch (m.kind) {
    case MeasureKind::kCount: return {{0, 0}};
    case MeasureKind::kSum: return {SumState(m.state_type)};
    case MeasureKind::kAvg: return {SumState(m.state_type), {0, 0}};
    case MeasureKind::kMin:
    case MeasureKind::kMax: return {ByValue(m.state_type) ? StateBytes{0, 0} : StateBytes{32, 48}};
    case MeasureKind::kHll:
    case MeasureKind::kQsketch:
    case MeasureKind::kTopk: return {SketchState(m.state_type)};
    case MeasureKind::kMerge: {
      // Merged stored sketches: larger than a refresh's new ones (a quarter of the declared size).
      const StateBytes b = SketchState(m.state_type);
      return {{b.declared, b.declared / 4}};
    }
  }
  return {{0, 0}};
}
}  // namespace

int AggregationWorkMemKb(const Spec& s, int hash_table_kb, int work_mem_kb, double hash_mem_multiplier,
                         int64_t max_rows) {
  if (hash_table_kb <= 0 || work_mem_kb <= 0) return 0;
  // Per group: the hash entry, the key as a minimal tuple (8 bytes a column, as most keys are), and per
  // transition (every state column and the row count) its per-group slot.
  int transitions = 1;
  double declared = 0, real = 0;
  for (const auto& m : s.measures)
    for (const StateBytes& b : MeasureStates(m)) {
      transitions++;
      declared += b.declared;
      real += b.real;
    }
  const double base = 48.0 + 8.0 * static_cast<double>(1 + s.dims.size()) + 16.0 * transitions;
  const double groups = std::max(1.0, hash_table_kb * 1024.0 / (base + real));
  if (max_rows > 0 && static_cast<double>(max_rows) <= groups * kSmallInputTables) return 0;
  const double hash_mem = groups * (base + declared);
  const double kb = std::ceil(hash_mem / std::max(1.0, hash_mem_multiplier) / 1024.0);
  constexpr double kMinKb = 64;  // work_mem's own minimum
  if (kb >= work_mem_kb) return 0;
  return static_cast<int>(std::max(kMinKb, kb));
}

std::string BucketEnd(const Spec& s, const std::string& start) {
  if (s.time_zone.empty()) {
    // Fixed-width buckets of a timestamptz: the width as elapsed time. '1 day' added to a timestamptz
    // is a calendar day in the session's TimeZone (23 or 25 hours across a DST change), so a session
    // in such a zone would recompute the wrong range.
    if (s.bucket_type == "timestamp with time zone")
      return start + " + pg_catalog.make_interval(secs => pg_catalog.date_part('epoch', " + s.bucket_width + "))";
    return start + " + " + s.bucket_width;
  }
  // Calendar arithmetic in the bucket's own zone, whatever the session's TimeZone is.
  const std::string z = QuoteLiteral(s.time_zone);
  return "((" + start + " AT TIME ZONE " + z + ") + " + s.bucket_width + ") AT TIME ZONE " + z;
}

std::string MergeExpr(MeasureKind kind, const std::string& column) {
  return MergeExpr(kind, "t." + column, "EXCLUDED." + column);
}

std::string MergeExpr(MeasureKind kind, const std::string& old, const std::string& add) {
  switch (kind) {
    case MeasureKind::kCount:
    case MeasureKind::kSum:
    case MeasureKind::kAvg:
      // A sum over only NULL inputs is NULL: keep whichever side has a value.
      return "COALESCE(" + old + " + " + add + ", " + old + ", " + add + ")";
    case MeasureKind::kMin: return "LEAST(" + old + ", " + add + ")";
    case MeasureKind::kMax: return "GREATEST(" + old + ", " + add + ")";
    case MeasureKind::kHll:
    case MeasureKind::kQsketch:
    case MeasureKind::kTopk:
    case MeasureKind::kMerge: return "strata.merge(" + old + ", " + add + ")";
  }
  return add;
}

std::string CombineExpr(const Measure& m) {
  const std::string c = QuoteIdent(m.name);
  switch (m.kind) {
    case MeasureKind::kCount: return "sum(" + c + ")::bigint";
    case MeasureKind::kSum: return "sum(" + c + ")::" + m.state_type;
    case MeasureKind::kMin: return "min(" + c + ")";
    case MeasureKind::kMax: return "max(" + c + ")";
    case MeasureKind::kAvg:
      return "(sum(" + QuoteIdent(m.name + "__sum") + ")::numeric / NULLIF(sum(" + QuoteIdent(m.name + "__count") +
             "), 0))::" + m.result_type;
    case MeasureKind::kHll:
    case MeasureKind::kQsketch:
    case MeasureKind::kTopk:
    case MeasureKind::kMerge: return "strata.merge(" + c + ")";
  }
  return c;
}

std::string StateSelect(const Spec& s, const std::string& filter, const std::string& from_extra, bool with_row_count,
                        const std::string& last_item) {
  std::vector<std::string> items{s.bucket_expr + " AS " + QuoteIdent(s.bucket_name)};
  for (const auto& d : s.dims) items.push_back(d.expr + " AS " + QuoteIdent(d.name));
  for (const auto& m : s.measures) {
    const auto aggs = StateAggregates(m);
    const auto cols = StateColumns(m);
    for (size_t i = 0; i < aggs.size(); i++) items.push_back(aggs[i] + " AS " + QuoteIdent(cols[i]));
  }
  if (with_row_count) items.push_back(std::string("count(*) AS ") + kRowsColumn);
  if (!last_item.empty()) items.push_back(last_item);
  std::vector<std::string> group;
  for (size_t i = 1; i <= 1 + s.dims.size(); i++) group.push_back(std::to_string(i));
  return "SELECT " + Join(items, ", ") + " FROM " + s.source + from_extra + WhereClause(s, filter) + " GROUP BY " +
         Join(group, ", ");
}

std::vector<std::string> CreateTablesSql(const Spec& s) {
  return {
      // Room on each page for the new version of an updated group: refreshes update recent groups in
      // place (HOT, no new index entry) instead of moving them.
      "CREATE TABLE " + s.data_table + " WITH (fillfactor = 90) AS " + StateSelect(s, "false") + " WITH NO DATA",
      AddKeySql(s),
      // b NULL: the NULL bucket (rows with a NULL time), recomputed like any other.
      "CREATE TABLE " + s.pending_table + " (b " + s.bucket_type + ")",
      "CREATE INDEX ON " + s.pending_table + " (b)",
  };
}

std::string AppendSql(const Spec& s, const std::vector<Dependent>& deps) {
  const std::string cols = Join(AllColumns(s), ", ");
  const std::string b = QuoteIdent(s.bucket_name);
  // Groups in buckets past the newest stored one cannot exist yet (only this refresher writes the
  // table): a plain INSERT, without a speculative insertion per group; the rest merge ON CONFLICT. With
  // rows arriving in time order that is most new groups. Both parts read the same snapshot's maximum.
  // (The maximum is a CTE, read once before either insert: re-reading it after the first insert would
  // walk every index entry that insert added.)
  std::string sql = AggregateRange(s) + ", __strata_top AS (SELECT max(" + b +
                    ") AS m FROM " + s.data_table + "), __strata_new AS (INSERT INTO " + s.data_table + " AS t (" + cols +
                    ") SELECT " + cols + " FROM __strata_agg a, __strata_top x WHERE a." + b + " IS NOT NULL AND (x.m IS NULL OR a." +
                    b + " > x.m) RETURNING t." + b + "), __strata_up AS (INSERT INTO " + s.data_table + " AS t (" + cols +
                    ") SELECT " + cols + " FROM __strata_agg a, __strata_top x WHERE a." + b + " IS NULL OR a." + b +
                    " <= x.m" + OnConflictMerge(s) + " RETURNING t." + b + ")";
  sql += QueueDependents(deps, "(SELECT " + b + " FROM __strata_new UNION ALL SELECT " + b + " FROM __strata_up) AS __strata_w", 0);
  sql += " SELECT " + RowsRead() + ", (SELECT count(*) FROM __strata_new) + (SELECT count(*) FROM __strata_up)";
  return sql;
}

std::string AppendSelectSql(const Spec& s, bool bounded) {
  return StateSelect(s, bounded ? OrderRange(s, 1) : "", "", true);
}

std::string SplitAppendSelectSql(const Spec& s) {
  // Positional GROUP BY: the bucket expression here is the grouped first column, so it may be compared.
  // A group is new when its bucket is past the newest stored one (read once, as an InitPlan, before the
  // first row comes out and so before anything is written); NULL buckets and older ones are not.
  return StateSelect(s, OrderRange(s, 1), "", true,
                     "COALESCE(" + s.bucket_expr + " > (SELECT max(" + QuoteIdent(s.bucket_name) + ") FROM " + s.data_table +
                         "), " + s.bucket_expr + " IS NOT NULL) AS " + kNewColumn);
}

std::vector<ColumnMerge> ColumnMerges(const Spec& s) {
  std::vector<ColumnMerge> out(1 + s.dims.size(), ColumnMerge::kKey);
  for (const auto& m : s.measures) {
    ColumnMerge c = ColumnMerge::kSketchMerge;
    switch (m.kind) {
      case MeasureKind::kCount:
      case MeasureKind::kSum:
      case MeasureKind::kAvg: c = ColumnMerge::kAdd; break;
      case MeasureKind::kMin: c = ColumnMerge::kLeast; break;
      case MeasureKind::kMax: c = ColumnMerge::kGreatest; break;
      case MeasureKind::kHll:
      case MeasureKind::kQsketch:
      case MeasureKind::kTopk:
      case MeasureKind::kMerge: c = ColumnMerge::kSketchMerge; break;
    }
    out.insert(out.end(), StateColumns(m).size(), c);
  }
  return out;
}

std::string AddKeySql(const Spec& s) {
  // NULLS NOT DISTINCT (PostgreSQL 15+): a NULL dimension is one group, as GROUP BY makes it.
  return "ALTER TABLE " + s.data_table + " ADD UNIQUE NULLS NOT DISTINCT (" + Join(KeyColumns(s), ", ") + ")";
}

std::string BulkAppendSql(const Spec& s, const std::vector<Dependent>& deps) {
  const std::string cols = Join(AllColumns(s), ", ");
  std::string sql = AggregateRange(s) + ", __strata_ins AS (INSERT INTO " + s.data_table + " (" + cols + ") SELECT " +
                    cols + " FROM __strata_agg)";
  sql += QueueDependents(deps, "__strata_agg", 0);
  sql += " SELECT " + RowsRead() + ", (SELECT count(*) FROM __strata_agg)";
  return sql;
}

std::string TakePendingSql(const Spec& s) {
  // Whole buckets are taken (every queued copy of each), newest first, the NULL bucket (rows with a NULL
  // time) before them. Rows queued by transactions still in flight are invisible here and stay for the
  // next refresh. The NULL bucket is never frozen (retention drops ranges of time).
  const std::string live = "($2::timestamptz IS NULL OR b IS NULL OR b >= $2::timestamptz)";
  return "WITH __strata_pick AS (SELECT DISTINCT b FROM " + s.pending_table +
         " ORDER BY b DESC LIMIT $1::int), __strata_taken AS (DELETE FROM " + s.pending_table +
         " p USING __strata_pick k WHERE p.b = k.b RETURNING p.b), __strata_taken_null AS (DELETE FROM " +
         s.pending_table + " p WHERE p.b IS NULL AND EXISTS (SELECT 1 FROM __strata_pick k WHERE k.b IS NULL) RETURNING p.b), "
         "__strata_all AS (SELECT b FROM __strata_taken UNION ALL SELECT b FROM __strata_taken_null) SELECT "
         "(array_agg(DISTINCT b) FILTER (WHERE " + live + "))::text, "
         "(array_agg(DISTINCT b) FILTER (WHERE b < $2::timestamptz))::text, "
         "count(DISTINCT b) FILTER (WHERE " + live + ") + (bool_or(b IS NULL) IS TRUE)::int, "
         "count(DISTINCT b) FILTER (WHERE b < $2::timestamptz), "
         "bool_or(b IS NULL OR NOT pg_catalog.isfinite(b)) IS TRUE FROM __strata_all";
}

std::vector<std::string> RecomputeSql(const Spec& s, const std::vector<Dependent>& deps) {
  const std::string list = "$1::" + s.bucket_type + "[]";
  const std::string t = QuoteIdent(s.time_column);
  const std::string join = " JOIN unnest(" + list + ") AS __strata_u(__strata_b) ON " + t + " >= __strata_u.__strata_b AND " +
                           t + " < " + BucketEnd(s, "__strata_u.__strata_b");
  std::string filter = s.bucket_expr + " = __strata_u.__strata_b";
  if (!s.source_is_rollup) filter += " AND " + OrderRange(s, 2);
  const std::string cols = Join(AllColumns(s), ", ");
  std::string insert = "WITH __strata_ins AS (INSERT INTO " + s.data_table + " (" + cols + ") " +
                       StateSelect(s, filter, join) + ")";
  insert += QueueDependents(deps, "unnest(" + list + ") AS __strata_r(" + QuoteIdent(s.bucket_name) + ")", 0);
  insert += " SELECT 1";
  const std::string b = QuoteIdent(s.bucket_name);
  const std::string has_null = "pg_catalog.array_position(" + list + ", NULL::" + s.bucket_type + ") IS NOT NULL";
  // The NULL and infinite buckets have no range: their rows are those with a NULL time, or that very
  // infinite time (both bucket functions keep infinities). Only run when such a bucket was taken.
  std::string special = "(" + t + " IS NULL AND " + has_null + " OR " + t + " = ANY (" + list + ") AND NOT pg_catalog.isfinite(" +
                        t + "))";
  if (!s.source_is_rollup) special += " AND " + OrderRange(s, 2);
  return {"DELETE FROM " + s.data_table + " WHERE " + b + " = ANY (" + list + ") OR " + b + " IS NULL AND " + has_null, insert,
          "INSERT INTO " + s.data_table + " (" + cols + ") " + StateSelect(s, special)};
}

namespace {
constexpr const char* kTimestamp = "timestamp without time zone";
}  // namespace

std::string CaptureSql(const std::vector<Grain>& grains, bool update) {
  if (grains.empty()) return "";
  std::vector<std::string> cols, values;
  for (const auto& g : grains) {
    const std::string col = QuoteIdent(g.time_column);
    if (std::find(cols.begin(), cols.end(), col) == cols.end()) cols.push_back(col);
    // A timestamp bucket is stored as its reading in UTC: the same value whatever the session's TimeZone.
    const std::string b = g.bucket_type == kTimestamp ? "(" + g.bucket_expr + ") AT TIME ZONE 'UTC'" : "(" + g.bucket_expr + ")";
    values.push_back("(" + std::to_string(g.id) + ", " + b + ")");
  }
  const std::string list = Join(cols, ", ");
  const std::string rows = update ? "(SELECT " + list + " FROM __strata_old UNION ALL SELECT " + list + " FROM __strata_new)"
                                  : "(SELECT " + list + " FROM __strata_old)";
  // A bucket already in the log gets a new position (its entry moved: a rollup that had read it reads
  // it again, one that had not reads it once); only a bucket not there, or whose entries other
  // statements hold right now (SKIP LOCKED: two writers of one bucket never wait for each other), gets a
  // new entry, and the next statement finding both moves one and deletes the other (the moved one stands
  // for both). The move changes no indexed column: a heap-only update. Entries are found through the
  // (grain, b) index, one probe per bucket (the function pins the plan's shape). A NULL bucket (rows
  // without a time) always gets a new entry.
  const std::string eq = "OPERATOR(pg_catalog.=)";
  return "WITH want AS (SELECT DISTINCT g.grain, g.b FROM " + rows + " t CROSS JOIN LATERAL (VALUES " + Join(values, ", ") +
         ") g(grain, b)), held AS MATERIALIZED (SELECT o.ctid AS id, o.grain, o.b FROM want w JOIN strata.rollup_change o "
         "ON o.grain " + eq + " w.grain AND o.b " + eq + " w.b FOR UPDATE OF o SKIP LOCKED), "
         "kept AS MATERIALIZED (SELECT DISTINCT ON (grain, b) id, grain, b FROM held ORDER BY grain, b), "
         "moved AS (UPDATE strata.rollup_change c SET pos = pg_catalog.nextval('strata.rollup_change_pos'::pg_catalog.regclass) "
         "WHERE c.ctid " + eq + " ANY (ARRAY(SELECT id FROM kept))), "
         "merged AS (DELETE FROM strata.rollup_change c WHERE c.ctid " + eq + " ANY (ARRAY(SELECT id FROM held EXCEPT "
         "SELECT id FROM kept))) "
         "INSERT INTO strata.rollup_change (grain, b) SELECT w.grain, w.b FROM want w WHERE NOT EXISTS (SELECT 1 FROM "
         "kept k WHERE k.grain " + eq + " w.grain AND k.b " + eq + " w.b)";
}

std::string LoggedBucket(const std::string& bucket_type, const std::string& col) {
  return bucket_type == kTimestamp ? "(" + col + " AT TIME ZONE 'UTC')" : col;
}

std::string DefinitionViewSql(const Spec& s, const std::string& view_name) {
  std::vector<std::string> items{QuoteIdent(s.time_column) + " AS __strata_time"};
  std::vector<std::string> group{"1"};
  for (const auto& d : s.dims) {
    items.push_back(d.expr + " AS " + QuoteIdent(d.name));
    group.push_back(std::to_string(items.size()));
  }
  for (const auto& m : s.measures) items.push_back(StateAggregates(m)[0] + " AS " + QuoteIdent(m.name));
  if (!s.order_column.empty()) items.push_back("pg_catalog.max(" + QuoteIdent(s.order_column) + ") AS __strata_order");
  return "CREATE VIEW " + view_name + " AS SELECT " + Join(items, ", ") + " FROM " + s.source +
         (s.where.empty() ? "" : " WHERE " + s.where) + " GROUP BY " + Join(group, ", ");
}

std::optional<std::string> RenameBucketColumn(const std::string& bucket_expr, const std::string& old_column,
                                              const std::string& new_column) {
  // The column is the bucket function's second argument: followed by its third or by the closing
  // parenthesis. Constants (units, strides, origins, zones) are quoted literals that cannot hold ", col,".
  std::optional<std::string> out;
  for (const char* tail : {",", ")"}) {
    const std::string needle = ", " + old_column + tail;
    size_t at = bucket_expr.find(needle);
    if (at == std::string::npos) continue;
    if (out || bucket_expr.find(needle, at + 1) != std::string::npos) return std::nullopt;
    out = bucket_expr.substr(0, at) + ", " + new_column + tail + bucket_expr.substr(at + needle.size());
  }
  return out;
}

bool RecentBucket(int64_t bucket, int64_t newest) {
  if (newest < std::numeric_limits<int64_t>::min() + kRecentWindowMicros) return true;
  return bucket > newest - kRecentWindowMicros;
}

namespace {

// The stored groups as readers see them (avg finished from its sum and count), columns of alias `d`.
std::vector<std::string> StoredColumns(const Spec& s, const std::vector<std::string>& keys) {
  std::vector<std::string> stored;
  for (const auto& k : keys) stored.push_back("d." + k + " AS " + k);
  for (const auto& m : s.measures) {
    const std::string n = QuoteIdent(m.name);
    if (m.kind == MeasureKind::kAvg)
      stored.push_back("(d." + QuoteIdent(m.name + "__sum") + "::numeric / NULLIF(d." + QuoteIdent(m.name + "__count") +
                       ", 0))::" + m.result_type + " AS " + n);
    else
      stored.push_back("d." + n + " AS " + n);
  }
  return stored;
}

// The fragments the arms of the real-time view share. Alias `t` is a tail group, `d` a stored one.
struct ViewParts {
  std::vector<std::string> keys, stored, combined;
  std::string id, cols, b, group;
  // The tail: rows not yet absorbed, i.e. above the watermark or (during a backfill) at or below the
  // backfill cursor. The lookups are stable functions, evaluated once per scan, so the order column's
  // index bounds the scan; "cursor IS [NOT] NULL" is a one-time filter that switches whole arms off.
  std::string cursor, tail_new, tail_old;
  std::vector<std::string> tkeys, dkeys, tnotnull, dnull, tnull_dims;
  std::vector<std::string> probe;  // a stored group equal to a tail group's keys
  std::string dkey, tail_keys, touched_buckets;
  // With dimensions: stored groups with a NULL dimension outside, and inside, the buckets where a tail
  // group has a NULL dimension.
  std::string untouched_null, null_touched;
  std::string tail_count, limit;
};

ViewParts MakeViewParts(const Spec& s) {
  ViewParts v;
  v.keys = KeyColumns(s);
  v.stored = StoredColumns(s, v.keys);
  v.combined = v.keys;
  for (const auto& m : s.measures) v.combined.push_back(CombineExpr(m) + " AS " + QuoteIdent(m.name));
  const std::string order = QuoteIdent(s.order_column);
  v.id = std::to_string(s.id);
  v.cols = Join(AllColumns(s), ", ");
  v.b = QuoteIdent(s.bucket_name);
  v.group = " GROUP BY " + Join(v.keys, ", ");
  v.cursor = "strata.rollup_backfill_cursor(" + v.id + ")";
  v.tail_new = StateSelect(s, order + " > strata.rollup_watermark(" + v.id + ")");
  v.tail_old = StateSelect(s, order + " <= " + v.cursor);
  const std::string& b = v.b;
  v.tnotnull = {"t." + b + " IS NOT NULL"};
  for (const auto& k : v.keys) {
    v.tkeys.push_back("t." + k);
    v.dkeys.push_back("d." + k);
  }
  for (const auto& d : s.dims) {
    v.tnotnull.push_back("t." + QuoteIdent(d.name) + " IS NOT NULL");
    v.dnull.push_back("d." + QuoteIdent(d.name) + " IS NULL");
    v.tnull_dims.push_back("t." + QuoteIdent(d.name) + " IS NULL");
  }
  v.dkey = s.dims.empty() ? v.dkeys[0] : "(" + Join(v.dkeys, ", ") + ")";
  v.tail_keys = "(SELECT " + Join(v.tkeys, ", ") + " FROM __strata_tail t WHERE " + Join(v.tnotnull, " AND ") + ")";
  v.touched_buckets = "d." + b + " = ANY (ARRAY(SELECT DISTINCT t." + b + " FROM __strata_tail t WHERE t." + b +
                      " IS NOT NULL))";
  v.probe = {"d." + b + " = t." + b};
  for (const auto& d : s.dims) v.probe.push_back("d." + QuoteIdent(d.name) + " = t." + QuoteIdent(d.name));
  if (!s.dims.empty()) {
    const std::string any_null_dim = "(" + Join(v.dnull, " OR ") + ")";
    const std::string tail_null_dim = "t." + b + " IS NOT NULL AND (" + Join(v.tnull_dims, " OR ") + ")";
    v.untouched_null = "(NOT " + any_null_dim + " OR d." + b + " NOT IN (SELECT t." + b + " FROM __strata_tail t WHERE " +
                       tail_null_dim + ")) AND ";
    v.null_touched = "d." + b + " = ANY (ARRAY(SELECT DISTINCT t." + b + " FROM __strata_tail t WHERE " + tail_null_dim +
                     ")) AND " + any_null_dim;
  }
  v.tail_count = "(SELECT n FROM __strata_range)";
  v.limit = std::to_string(kViewProbeLimit);
  return v;
}

// The stored groups the tail does not touch, read as they are (after the backfill, a dashboard over
// days of history then costs about what the same query over a plain table does). Two arms split at the
// tail's first bucket `lo`:
//  - below it, every group is untouched: `bucket < ANY (ARRAY[lo])`, an index condition with no
//    per-row filter when the reader's own range makes the planner use the key index. The planner
//    rates a comparison with an init-plan parameter at a third of the rows (and picks an index scan
//    of the whole table for a read without a range); as `< ANY` of an array of unknown length it
//    assumes 10 elements and rates it at 98%, so such a read stays a sequential scan.
//  - from it on (usually the last hours), the groups the tail does not touch. Rated at a third, this
//    arm is read through the index: right for a tail of recent rows; a tail spread over the whole
//    history (late rows everywhere, until the next refresh) costs a bitmap scan of the table.
// Which groups the tail touches: with integer keys (Spec::int_keys), a keyset probed per stored row
// (strata.keyset_lacks, one function call as the scan's filter). For a tail of up to kViewProbeLimit
// groups it holds their keys, plus the buckets where a tail group has a NULL dimension (`=` never
// matches NULL, so stored groups with a NULL dimension go by bucket: re-aggregated where the tail has
// such a group, read as they are elsewhere). For a bigger tail it holds the touched buckets only:
// their stored groups are all re-aggregated with the tail below, and the keyset stays as small as the
// bucket count whatever the tail's size. Other keys: an anti-join with the tail's keys (the planner
// hashes the tail and probes it per stored row; a hash join spills past work_mem) and the same NULL
// rule as a filter. The keyset costs less per row than either (README.md, rollup benchmark notes).
// Both arms leave NULL buckets out: they always go the re-aggregated way. While a backfill may run,
// they are switched by the cursor; after it they are not gated (a gating Result node costs a step per
// stored row read).
std::string UntouchedArms(const Spec& s, const ViewParts& v, bool backfill) {
  const std::string gate = backfill ? v.cursor + " IS NULL AND " : "";
  const std::string stored_from = "SELECT " + Join(v.stored, ", ") + " FROM " + s.data_table + " d WHERE " + gate;
  std::string sql = stored_from + "d." + v.b + " < ANY (ARRAY(SELECT lo FROM __strata_range)) UNION ALL " + stored_from +
                    "d." + v.b + " >= (SELECT lo FROM __strata_range) AND ";
  if (s.int_keys)
    sql += "strata.keyset_lacks((SELECT COALESCE(strata.keyset_agg(" + Join(v.tkeys, ", ") + ") FILTER (WHERE r.n <= " +
           v.limit + "), strata.keyset_agg(t." + v.b + ") FILTER (WHERE r.n > " + v.limit +
           ")) FROM __strata_tail t, __strata_range r), " + Join(v.dkeys, ", ") + ")";
  else
    sql += v.untouched_null + "NOT EXISTS (SELECT FROM __strata_tail t WHERE " + Join(v.probe, " AND ") + ")";
  return sql;
}

// The touched groups of a tail of up to kViewProbeLimit groups (keys without NULLs): each looked up in
// the key index and merged with its stored group pairwise, as the refresh will (a nested loop the
// planner cannot turn into a scan of whole buckets: the LIMIT keeps the lateral subquery apart). The
// group count is a one-time filter, so only this form or the re-aggregated one runs.
std::string PairwiseArm(const Spec& s, const ViewParts& v, bool backfill) {
  std::vector<std::string> pair = v.tkeys;
  for (const auto& m : s.measures) {
    const auto merged = [&](const std::string& c) {
      return MergeExpr(m.kind, "__strata_p." + QuoteIdent(c), "t." + QuoteIdent(c));
    };
    if (m.kind == MeasureKind::kAvg)
      pair.push_back("(" + merged(m.name + "__sum") + "::numeric / NULLIF(" + merged(m.name + "__count") + ", 0))::" +
                     m.result_type + " AS " + QuoteIdent(m.name));
    else
      pair.push_back(merged(m.name) + " AS " + QuoteIdent(m.name));
  }
  return " UNION ALL SELECT " + Join(pair, ", ") + " FROM __strata_tail t LEFT JOIN LATERAL (SELECT " + v.cols + " FROM " +
         s.data_table + " d WHERE " + Join(v.probe, " AND ") + " LIMIT 1) AS __strata_p ON true WHERE " +
         Join(v.tnotnull, " AND ") + " AND " + v.tail_count + " <= " + v.limit + (backfill ? " AND " + v.cursor + " IS NULL" : "");
}

// The rest of the touched groups, re-aggregated: a bigger tail joined with its stored groups over the
// touched buckets (with a keyset, every stored group of those buckets, which the keyset dropped above;
// otherwise the stored groups of the tail's keys), tail groups with a NULL key, stored groups with a
// NULL dimension in the buckets those touch, and NULL buckets.
std::string ReaggregatedArm(const Spec& s, const ViewParts& v, bool backfill) {
  std::string sql = " UNION ALL SELECT " + Join(v.combined, ", ") + " FROM (SELECT " + v.cols + " FROM " + s.data_table +
                    " d WHERE " + v.tail_count + " > " + v.limit + " AND " + v.touched_buckets +
                    (s.int_keys ? "" : " AND " + v.dkey + " IN " + v.tail_keys);
  if (!s.dims.empty())
    sql += " UNION ALL SELECT " + v.cols + " FROM " + s.data_table + " d WHERE " +
           (s.int_keys ? v.tail_count + " <= " + v.limit + " AND " : std::string()) + v.null_touched;
  sql += " UNION ALL SELECT " + v.cols + " FROM " + s.data_table + " d WHERE d." + v.b + " IS NULL UNION ALL SELECT " +
         v.cols + " FROM __strata_tail t WHERE " + v.tail_count + " > " + v.limit + " OR t." + v.b + " IS NULL" +
         (v.tnull_dims.empty() ? std::string() : " OR " + Join(v.tnull_dims, " OR ")) + ") AS __strata_touched" +
         (backfill ? " WHERE " + v.cursor + " IS NULL" : std::string()) + v.group;
  return sql;
}

// During a backfill the old tail can be any part of history: every group is re-aggregated.
std::string BackfillArm(const Spec& s, const ViewParts& v) {
  return " UNION ALL SELECT " + Join(v.combined, ", ") + " FROM (SELECT " + v.cols + " FROM " + s.data_table +
         " UNION ALL " + v.tail_new + " UNION ALL " + v.tail_old + ") AS __strata_all WHERE " + v.cursor + " IS NOT NULL" +
         v.group;
}

}  // namespace

std::string TailSql(const Spec& s, int64_t watermark_hint) {
  const std::string order = QuoteIdent(s.order_column);
  const std::string id = std::to_string(s.id);
  return StateSelect(s, order + " > " + std::to_string(watermark_hint) + " AND " + order + " > strata.rollup_watermark(" + id + ")") +
         " UNION ALL " + StateSelect(s, order + " <= strata.rollup_backfill_cursor(" + id + ")");
}

std::string ViewSql(const Spec& s, const std::string& view_name, bool realtime, bool or_replace, bool backfill) {
  const std::string create = or_replace ? "CREATE OR REPLACE VIEW " : "CREATE VIEW ";
  if (!realtime || s.source_is_rollup)
    return create + view_name + " AS SELECT " + Join(StoredColumns(s, KeyColumns(s)), ", ") + " FROM " + s.data_table + " d";
  const ViewParts v = MakeViewParts(s);
  // An empty tail has lo 'infinity': every stored group is in the first arm (one in an infinite bucket
  // is in the second, which an empty tail passes).
  std::string sql = create + view_name + " AS WITH __strata_tail AS (" + v.tail_new +
                    "), __strata_range AS (SELECT COALESCE(min(" + v.b + "), 'infinity'::" + s.bucket_type +
                    ") AS lo, count(*) AS n FROM __strata_tail) ";
  sql += UntouchedArms(s, v, backfill);
  sql += PairwiseArm(s, v, backfill);
  sql += ReaggregatedArm(s, v, backfill);
  if (backfill) sql += BackfillArm(s, v);
  return sql;
}

}  // namespace strata::core::rollup
