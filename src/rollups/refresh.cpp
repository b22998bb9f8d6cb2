// Refreshing a rollup: one bounded step (RefreshStep) and the SQL entry strata.refresh_rollup.
// Transaction boundaries: a step runs entirely in one transaction (the worker commits after each;
// refresh_rollup runs its steps in the caller's), so the rollup rows and the progress marker always
// commit together.
#include <algorithm>
#include <cctype>
#include <climits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "config.hpp"
#include "core/error.hpp"
#include "core/json.hpp"
#include "core/naming.hpp"
#include "core/rollup_sql.hpp"
#include "jobs/job_runs.hpp"
#include "pg/guc.hpp"
#include "pg/names.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "pg/xact.hpp"
#include "rollups/capture.hpp"
#include "rollups/catalog.hpp"
#include "rollups/hooks.hpp"
#include "rollups/materialize.hpp"
#include "rollups/refresh.hpp"
#include "rollups/writers.hpp"

namespace strata::rollups {
namespace {

namespace rs = core::rollup;
using Args = std::vector<std::optional<std::string>>;

std::optional<std::string> Opt(const std::optional<int64_t>& v) {
  return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
}

// Buckets recomputed per step: bounded so one transaction stays short (a bucket holds many rows).
int64_t BucketsPerStep(int64_t batch_size) { return std::clamp<int64_t>(batch_size / 10000, 1, 1000); }

// True when the data table was created by the current transaction and holds no rows: the first build
// of a rollup created and refreshed in one transaction. Nobody else can see such a table, so dropping and
// re-adding its unique key around the load blocks no one.
bool NewAndEmpty(const Rollup& r) {
  bool fresh = false;
  pg::Call([&] {
    Relation rel = RelationIdGetRelation(r.data_oid);
    if (rel == nullptr) return;
    fresh = rel->rd_createSubid != InvalidSubTransactionId;
    RelationClose(rel);
  });
  return fresh && pg::OwnsTable(r.data_oid) &&
         *pg::Query("SELECT NOT EXISTS (SELECT 1 FROM " + r.spec.data_table + ")").at(0).at(0) == "t";
}

// True when no other session can write the source now: this transaction holds, on the source and on
// every partition, a lock that conflicts with the ROW EXCLUSIVE of an INSERT (create_rollup's triggers
// took SHARE ROW EXCLUSIVE on each, held until the creating transaction ends).
bool WritersLockedOut(Oid source) {
  bool out = true;
  pg::Call([&] {
    List* rels = find_all_inheritors(source, NoLock, nullptr);
    ListCell* lc;
    foreach (lc, rels) {
      Relation rel = RelationIdGetRelation(lfirst_oid(lc));
      if (rel == nullptr) {
        out = false;
        continue;
      }
      // Modes from SHARE up all conflict with ROW EXCLUSIVE.
      out = out && CheckRelationLockedByMe(rel, ShareLock, true);
      RelationClose(rel);
    }
    list_free(rels);
  });
  return out;
}

// Merges the source rows with order values in (lo, hi] into the data table; returns the append's
// result row (rows read, groups written). An empty table created in this transaction is bulk-loaded;
// `whole` says the range holds every row of the source (its bounds are then not tested per row).
// `sort_kb`: the direct writes' sort memory (SortMemKb, read before work_mem was lowered).
pg::Row AppendGroups(const Rollup& r, const std::vector<rs::Dependent>& deps, int64_t lo, int64_t hi, bool whole,
                     int sort_kb) {
  const rs::Spec& s = r.spec;
  const Args bounds{std::to_string(lo), std::to_string(hi)};
  if (!NewAndEmpty(r)) {
    // Groups past the newest stored bucket go straight into heap pages (no speculative insertion, no
    // CTE holding every group); the rest merge into their stored rows, found through the key index. A
    // dependent to queue buckets for, or a table a direct heap write would bypass something of, takes
    // the one-statement append.
    DirectWriteCounts n;
    if (deps.empty() && SplitAppendQuery(rs::SplitAppendSelectSql(s), bounds, r.data_oid, rs::ColumnMerges(s), sort_kb, &n))
      return {std::to_string(n.rows), std::to_string(n.written + n.merged)};
    return pg::Query(rs::AppendSql(s, deps), bounds).at(0);
  }
  // No dependent to queue buckets for (the usual case: nothing can read a table this transaction just
  // made, unless it also made a rollup of it): the groups go straight from the executor into heap pages,
  // as COPY writes them, without an INSERT statement in between, sorted by bucket (column 1). The key
  // index, made in this (sub)transaction, gets no entry per group: it is rebuilt in place afterwards.
  DirectWriteCounts n;
  if (deps.empty() && BulkInsertQuery(rs::AppendSelectSql(s, !whole), bounds, r.data_oid, 1, sort_kb, &n))
    return {std::to_string(n.rows), std::to_string(n.written)};
  // Otherwise (the key made in an outer subtransaction, or something a heap insert would bypass): the
  // key is dropped and re-added around the load, one index build instead of one insertion per group.
  const auto key = pg::Query("SELECT conname FROM pg_catalog.pg_constraint WHERE conrelid = $1::oid AND contype = 'u'",
                             {std::to_string(r.data_oid)});
  if (key.size() != 1) return pg::Query(rs::AppendSql(s, deps), bounds).at(0);
  pg::Query("ALTER TABLE " + s.data_table + " DROP CONSTRAINT " + core::QuoteIdent(*key[0][0]));
  const pg::Row out = deps.empty() && BulkInsertQuery(rs::AppendSelectSql(s, !whole), bounds, r.data_oid, 1, sort_kb, &n)
                          ? pg::Row{std::to_string(n.rows), std::to_string(n.written)}
                          : pg::Query(rs::BulkAppendSql(s, deps), bounds).at(0);
  pg::Query(rs::AddKeySql(s));
  return out;
}

// The work_mem (kB) the refresh's aggregations of r run with (0: as set): a hash table about
// strata.rollup_hash_table in size (see AggregationWorkMemKb). Not with temp_file_limit set: the
// partitions beyond the table are temporary files, and a limit on them could then fail the refresh.
// `max_rows`: an upper bound of the rows aggregated (0: unknown).
int AggregationMemKb(const Rollup& r, int64_t max_rows) {
  if (temp_file_limit >= 0) return 0;
  return rs::AggregationWorkMemKb(r.spec, config::rollup_hash_table_kb, work_mem, hash_mem_multiplier, max_rows);
}

pg::Row Append(const Rollup& r, const std::vector<rs::Dependent>& deps, int64_t lo, int64_t hi, bool whole = false) {
  pg::Row out;
  // Order values are handed out once each: at most hi - lo rows.
  const int sort_kb = SortMemKb();
  pg::WithWorkMem(AggregationMemKb(r, hi - lo), [&] { out = AppendGroups(r, deps, lo, hi, whole, sort_kb); });
  return out;
}

}  // namespace

std::string StepJson(const StepResult& r, int steps, double ms) {
  core::JsonObject j;
  j.Int("rows", r.rows).Int("groups", r.groups).Int("buckets_recomputed", r.buckets).Int("buckets_frozen", r.frozen);
  j.Int("steps", steps).Bool("caught_up", !(r.more || r.waited_out)).Bool("waiting_for_writers", r.waited_out);
  j.Int("duration_ms", static_cast<int64_t>(ms));
  if (!r.note.empty()) j.String("note", r.note);
  return j.Text();
}

double MsSince(TimestampTz t0) { return static_cast<double>(GetCurrentTimestamp() - t0) / 1000.0; }

void Accumulate(StepResult* total, const StepResult& r) {
  total->rows += r.rows;
  total->groups += r.groups;
  total->buckets += r.buckets;
  total->frozen += r.frozen;
  total->waited_out = r.waited_out;
  total->more = r.more;
  if (!r.note.empty()) total->note = r.note;
}

bool BreaksRollup(int sqlstate) {
  // Class 42 (undefined or mismatched column, function, type) and 0A (a feature the source no longer
  // allows): the stored SQL no longer fits; a retry fails the same way. Insufficient privilege may be
  // granted back, so it is retried.
  const int cls = ERRCODE_TO_CATEGORY(sqlstate);
  return (cls == ERRCODE_TO_CATEGORY(ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION) &&
          sqlstate != ERRCODE_INSUFFICIENT_PRIVILEGE) ||
         cls == ERRCODE_TO_CATEGORY(ERRCODE_FEATURE_NOT_SUPPORTED) || sqlstate == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
}
namespace {

// Once no backfill is left, the view is replaced by its form without the backfill arm and gating (see
// ViewSql), when it still has them: right after the backfill's last batch, and at later refreshes if
// that failed. CREATE OR REPLACE VIEW takes ACCESS EXCLUSIVE on the view, so it runs under
// strata.lock_timeout in a subtransaction: behind a long read it gives up, the view keeps the gated
// form (correct, a little slower) and the next refresh tries again. Only a role with the view owner's
// privileges may replace it; otherwise the view keeps the gated form until its owner refreshes it or
// runs alter_rollup(realtime => true).
void SettleView(const Rollup& r, StepResult* res) {
  if (!r.realtime || r.spec.source_is_rollup || r.cursor) return;
  const auto form = pg::Query(
      "SELECT pg_catalog.pg_has_role(c.relowner, 'USAGE'), EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite w "
      "JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = w.oid "
      "WHERE w.ev_class = c.oid AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass "
      "AND d.refobjid = 'strata.rollup_backfill_cursor(integer)'::pg_catalog.regprocedure) "
      "FROM pg_catalog.pg_class c WHERE c.oid = $1::pg_catalog.regclass",
      {r.view});
  if (form.empty() || *form[0][0] != "t" || *form[0][1] != "t") return;
  // Added to the step's note, not over it: the same step may have waited out writers and said so.
  std::string said;
  try {
    pg::InSubTransaction([&] { pg::Exec(ViewSqlFor(r.spec, r.view, true, true, false)); });
    said = "backfill done: view replaced without its backfill arm";
  } catch (const pg::PgError& e) {
    said = std::string("backfill done; the view keeps its backfill arm for now: ") + e.what();
  }
  res->note += (res->note.empty() ? "" : "; ") + said;
}

}  // namespace

int64_t NewRowsUpper(const Rollup& r, int64_t watermark) {
  // New rows: (watermark, hi]. hi comes from the sequence before the wait, so every row with a value
  // <= hi was written by a transaction that had already taken its lock when we looked.
  const auto cur = pg::Query("SELECT CASE WHEN s.is_called THEN s.last_value ELSE s.last_value - 1 END, q.seqcache "
                             "FROM " + r.order_sequence + " s, pg_catalog.pg_sequence q WHERE q.seqrelid = $1::regclass",
                             {r.order_sequence});
  if (std::stoll(*cur.at(0).at(1)) > 1)
    throw core::Error(ERRCODE_FEATURE_NOT_SUPPORTED, "sequence " + r.order_sequence + " has CACHE " + *cur[0][1],
                      "Cached values are handed out out of commit order; the rollup cannot tell which rows are new.",
                      "ALTER SEQUENCE " + r.order_sequence + " CACHE 1.");
  const int64_t upper = std::stoll(*cur[0][0]);
  // Order values only grow (create_rollup refuses descending and cycling sequences), so a sequence
  // below the watermark was set back (ALTER SEQUENCE ... RESTART, setval): its new rows would take
  // values the rollup already absorbed and be passed by for good.
  if (upper < watermark)
    throw core::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                      "sequence " + r.order_sequence + " is at " + std::to_string(upper) + ", below the watermark " +
                          std::to_string(watermark) + " of rollup " + r.view,
                      "The sequence was set back; rows it numbers now would never be absorbed.",
                      "Set it past the watermark (SELECT setval('" + r.order_sequence + "', " + std::to_string(watermark) +
                          ")), then run strata.refresh_rollup(); or drop and create the rollup again.");
  return upper;
}

namespace {

// Appends the next batch of new rows (at most batch_size, above the watermark) and queues the buckets
// the source's capture logged for the rollup, once the writers that could still be writing either have
// ended; moves *watermark past the rows and r.change_pos past the log entries. Both high marks are read
// before the wait: every order value and log position at most them was drawn by a statement holding a
// lock on the source (or a partition) then. A shared pass waited for every rollup of the source already
// and staged the new rows.
void AppendNewRows(Rollup& r, const std::vector<rs::Dependent>& deps, int64_t* watermark, StepResult* res,
                   const SharedRead* shared) {
  const int64_t upper = shared ? shared->upper : NewRowsUpper(r, *watermark);
  const int64_t log_end = shared ? shared->log_end : ChangeLogEnd();
  const int64_t hi = std::min(upper, *watermark + r.batch_size);
  if (hi <= *watermark && !HasChanges(r, log_end)) return;
  // Log entries committed since a shared pass found none, without its wait: positions up to log_end may
  // still belong to writers in flight, whose entries consuming now would skip for good. The next pass
  // sees them and waits.
  if (shared != nullptr && !shared->waited) return;
  if (shared == nullptr && !WaitForWriters(r.source_oid, config::rollup_wait_ms, &res->note)) {
    res->waited_out = true;
    return;
  }
  if (hi > *watermark) {
    Rollup staged;
    if (shared) {
      staged = r;
      staged.spec.source = shared->from;
    }
    const auto out = Append(shared ? staged : r, deps, *watermark, hi);
    res->rows += std::stoll(*out[0]);
    res->groups += std::stoll(*out[1]);
    *watermark = hi;
    res->more = hi < upper;
  }
  ConsumeChanges(r, log_end);
}

// Recomputes the buckets queued by UPDATE/DELETE (or by the source rollup) from absorbed rows only, at
// most BucketsPerStep; buckets whose raw rows retention dropped are frozen instead.
void RecomputeQueued(const Rollup& r, const std::vector<rs::Dependent>& deps, int64_t watermark, StepResult* res) {
  const rs::Spec& s = r.spec;
  const int64_t limit = BucketsPerStep(r.batch_size);
  const auto taken = pg::Query(rs::TakePendingSql(s), {std::to_string(limit), r.frozen_before});
  const int64_t n = std::stoll(*taken[0][2]);
  const int64_t nfrozen = std::stoll(*taken[0][3]);
  if (nfrozen > 0) {
    // Raw rows of these buckets were dropped by retention: their rollup rows stay as they are.
    const Args a{std::to_string(r.id), *taken[0][1]};
    pg::AsExtensionOwner([&] {
      pg::Query("INSERT INTO strata.rollup_frozen_bucket (rollup_id, bucket) SELECT $1::int, b::text FROM "
                "unnest($2::" + s.bucket_type + "[]) b ON CONFLICT DO NOTHING", a);
    });
    res->frozen = nfrozen;
  }
  if (n > 0) {
    const auto stmts = rs::RecomputeSql(s, deps);
    pg::Query(stmts[0], {*taken[0][0]});
    pg::WithWorkMem(AggregationMemKb(r, 0), [&] {
      const bool special = *taken[0][4] == "t";
      for (size_t k = 1; k < stmts.size(); k++) {
        if (k == 2 && !special) break;
        if (s.source_is_rollup)
          pg::Query(stmts[k], {*taken[0][0]});
        else
          pg::Query(stmts[k], {*taken[0][0], std::to_string(r.cursor.value_or(INT64_MIN)), std::to_string(watermark)});
      }
    });
    res->buckets = n;
  }
  if (n + nfrozen >= limit) res->more = true;
}

// Backfill: the next batch below the cursor, newest first, merged like new rows; returns the new cursor
// (nullopt: history absorbed).
std::optional<int64_t> BackfillBatch(const Rollup& r, const std::vector<rs::Dependent>& deps, StepResult* res) {
  std::optional<int64_t> cursor = r.cursor;
  const int64_t lo = std::max(*r.floor, *cursor - r.batch_size);
  // The whole history in one batch, in the transaction that created the rollup (its locks still keep
  // every writer out) and with no order value handed out past the cursor: the batch is every row of
  // the source, so the range test per row is left out. No row has a value at or below the floor (the
  // smallest one at creation, less one; later rows get larger values).
  const bool whole = lo <= *r.floor && WritersLockedOut(r.source_oid) && SequenceValue(r.order_sequence) == *cursor;
  const auto out = Append(r, deps, lo, *cursor, whole);
  res->rows += std::stoll(*out[0]);
  res->groups += std::stoll(*out[1]);
  cursor = lo <= *r.floor ? std::nullopt : std::optional<int64_t>(lo);
  if (cursor) res->more = true;
  return cursor;
}

}  // namespace

StepResult RefreshStep(Rollup& r, const SharedRead* shared) {
  CheckRelationsExist(r);
  StepResult res;
  const auto deps = LoadDependents(r.id);
  int64_t watermark = r.watermark;
  const int64_t change_pos = r.change_pos;
  if (!r.spec.source_is_rollup) AppendNewRows(r, deps, &watermark, &res, shared);
  RecomputeQueued(r, deps, watermark, &res);
  std::optional<int64_t> cursor = r.cursor;
  if (!r.spec.source_is_rollup && r.cursor && r.floor) cursor = BackfillBatch(r, deps, &res);
  const Args a{std::to_string(r.id), std::to_string(watermark), Opt(cursor), std::to_string(res.rows),
               std::to_string(res.buckets), res.more || res.waited_out ? "true" : "false", std::to_string(r.change_pos)};
  pg::AsExtensionOwner([&] {
    pg::Query("UPDATE strata.rollup SET watermark = $2::bigint, backfill_cursor = $3::bigint, change_pos = $7::bigint, "
              "last_refresh_at = pg_catalog.now(), rows_processed = rows_processed + $4::bigint, last_rows = $4::bigint, "
              "buckets_recomputed = buckets_recomputed + $5::bigint, "
              "caught_up_at = CASE WHEN $6::boolean THEN caught_up_at ELSE pg_catalog.clock_timestamp() END, "
              "last_error = NULL, broken = NULL, failures = 0 WHERE id = $1::int",
              a);
  });
  r.watermark = watermark;
  r.cursor = cursor;
  if (r.grain && r.change_pos != change_pos) TrimChangeLog(*r.grain);
  SettleView(r, &res);
  return res;
}

}  // namespace strata::rollups

using namespace strata;
using namespace strata::rollups;

// strata.refresh_rollup(name, max_steps): refreshes now, in the caller's transaction, until caught up.
STRATA_FUNCTION(strata_refresh_rollup) {
  if (PG_ARGISNULL(0)) throw core::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "name must not be null");
  const std::string name = *pg::TextArg(fcinfo, 0);
  const int max_steps = PG_ARGISNULL(1) ? INT_MAX : PG_GETARG_INT32(1);
  if (max_steps <= 0) throw core::Error(ERRCODE_INVALID_PARAMETER_VALUE, "max_steps must be positive");
  if (IsolationUsesXactSnapshot())
    throw core::Error(ERRCODE_ACTIVE_SQL_TRANSACTION, "refresh_rollup must run at READ COMMITTED isolation",
                      "With one snapshot for the whole transaction the refresh could not see rows that commit "
                      "during it, and would pass them by.",
                      "Run it in its own transaction or at READ COMMITTED.");
  const TimestampTz t0 = GetCurrentTimestamp();
  pg::SpiConnect();
  const int id = RollupIdByName(name);
  const int level = pg::NewGucLevel();
  PinSessionForRollupSql();
  Rollup r = LoadRollup(id, true);
  if (!pg::OwnsTable(r.data_oid))
    throw core::Error(ERRCODE_INSUFFICIENT_PRIVILEGE, "must be owner of rollup " + r.view, {},
                      "Only the rollup's owner refreshes it by hand; the background worker refreshes every rollup.");
  StepResult total;
  ProtectLegacy(r);
  if (!r.spec.source_is_rollup) {
    FollowSource(r);
    EnsureSourceHooks(r);
  }
  int steps = 0;
  do {
    Accumulate(&total, RefreshStep(r));
    steps++;
  } while (total.more && !total.waited_out && steps < max_steps);
  const double ms = MsSince(t0);
  const std::string json = StepJson(total, steps, ms);
  pg::AsExtensionOwner([&] {
    pg::Query("UPDATE strata.rollup SET last_duration_ms = $2::float8, refresh_steps = refresh_steps + $3::bigint "
              "WHERE id = $1::int",
              {std::to_string(id), std::to_string(ms), std::to_string(steps)});
  });
  jobs::RecordJob("rollup_refresh", r.view, total.waited_out ? "skipped" : "ok",
                        total.waited_out ? total.note : "refreshed by refresh_rollup()", json, t0);
  pg::RestoreGucs(level);
  pg::SpiFinish();
  Datum d = 0;
  pg::Call([&] { d = DirectFunctionCall1(jsonb_in, CStringGetDatum(json.c_str())); });
  PG_RETURN_DATUM(d);
}

