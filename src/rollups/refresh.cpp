// Refreshing rollups: one bounded step (RefreshStep), the SQL entry strata.refresh_rollup, the
// worker's pass over due rollups, and the writer wait. Transaction boundaries: a step runs entirely
// in one transaction (the worker commits after each; refresh_rollup runs its steps in the caller's),
// so the rollup rows and the progress marker always commit together.
#include <algorithm>
#include <climits>
#include <map>
#include <string>
#include <vector>

#include "config.hpp"
#include "core/error.hpp"
#include "core/naming.hpp"
#include "core/rollup_sql.hpp"
#include "jobs/job_runs.hpp"
#include "pg/guc.hpp"
#include "pg/names.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "pg/xact.hpp"
#include "rollups/materialize.hpp"
#include "rollups/rollup.hpp"

extern "C" {
#include "access/twophase.h"
#include "storage/sinvaladt.h"
#include "utils/guc.h"
}

namespace strata::rollups {
namespace {

namespace rs = core::rollup;
using Args = std::vector<std::optional<std::string>>;

std::optional<std::string> Opt(const std::optional<int64_t>& v) {
  return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
}

std::optional<int64_t> OptInt(const std::optional<std::string>& v) {
  return v ? std::optional<int64_t>(std::stoll(*v)) : std::nullopt;
}

// Buckets recomputed per step: bounded so one transaction stays short (a bucket holds many rows).
int64_t BucketsPerStep(int64_t batch_size) { return std::clamp<int64_t>(batch_size / 10000, 1, 1000); }

std::string StepJson(const StepResult& r, int steps, double ms) {
  return "{\"rows\": " + std::to_string(r.rows) + ", \"groups\": " + std::to_string(r.groups) +
         ", \"buckets_recomputed\": " + std::to_string(r.buckets) + ", \"buckets_frozen\": " + std::to_string(r.frozen) +
         ", \"steps\": " + std::to_string(steps) + ", \"caught_up\": " + (r.more || r.waited_out ? "false" : "true") +
         ", \"waiting_for_writers\": " + (r.waited_out ? "true" : "false") + ", \"duration_ms\": " +
         std::to_string(static_cast<int64_t>(ms)) + (r.note.empty() ? "" : ", \"note\": " + core::JsonString(r.note)) + "}";
}

void Accumulate(StepResult* total, const StepResult& r) {
  total->rows += r.rows;
  total->groups += r.groups;
  total->buckets += r.buckets;
  total->frozen += r.frozen;
  total->waited_out = r.waited_out;
  total->more = r.more;
  if (!r.note.empty()) total->note = r.note;
}

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

std::string ViewSqlFor(core::rollup::Spec spec, const std::string& view, bool realtime, bool or_replace, bool backfill) {
  std::string names = core::QuoteLiteral(spec.bucket_name);
  for (const auto& d : spec.dims) names += ", " + core::QuoteLiteral(d.name);
  const auto rows = pg::Query(
      "SELECT count(*) FILTER (WHERE a.atttypid = ANY ('{int2,int4,int8,date,timestamp,timestamptz}'::pg_catalog.regtype[])) "
      "FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::pg_catalog.regclass AND a.attnum > 0 AND NOT a.attisdropped "
      "AND a.attname = ANY (ARRAY[" + names + "]::pg_catalog.name[])",
      {spec.data_table});
  spec.int_keys = !rows.empty() && rows[0][0] && std::stoul(*rows[0][0]) == 1 + spec.dims.size();
  return core::rollup::ViewSql(spec, view, realtime, or_replace, backfill);
}

Rollup LoadRollup(int id, bool lock) {
  std::vector<pg::Row> rows, cols;
  pg::AsExtensionOwner([&] {
    // The name first, unlocked: after a failed NOWAIT the transaction can run nothing more.
    const auto name = lock ? pg::Query("SELECT view::text FROM strata.rollup WHERE id = $1::int", {std::to_string(id)})
                           : std::vector<pg::Row>{};
    try {
    rows = pg::Query(
        "SELECT id, view::text, data_table::oid, source::oid, source_rollup, order_sequence::text, watermark, "
        "backfill_cursor, backfill_floor, frozen_before::text, batch_size, realtime, source::text, order_column, "
        "bucket_name, bucket_expr, bucket_type, bucket_width, time_column, time_zone, where_clause, data_table::text, "
        "pending_table::text, change_function, definition::oid, broken, view::oid, pending_table::oid, "
        "  (SELECT pg_catalog.string_agg(x.what, ', ') FROM (VALUES ('source', source::pg_catalog.oid), "
        "   ('data table', data_table::pg_catalog.oid), ('pending table', pending_table::pg_catalog.oid), "
        "   ('view', view::pg_catalog.oid)) x(what, rel) "
        "   WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = x.rel)) "
        "FROM strata.rollup WHERE id = $1::int" +
            std::string(lock ? " FOR UPDATE NOWAIT" : ""),
        {std::to_string(id)});
    } catch (const pg::PgError& e) {
      if (e.sqlstate() != ERRCODE_LOCK_NOT_AVAILABLE) throw;
      const std::string shown = !name.empty() && name[0][0] ? *name[0][0] : std::to_string(id);
      throw core::Error(ERRCODE_LOCK_NOT_AVAILABLE, "rollup " + shown + " is being refreshed or changed by another session",
                        "One refresh of a rollup runs at a time; its catalog row is locked until that transaction ends.",
                        "Wait for the other refresh to commit, or see pg_locks / pg_prepared_xacts for the holder.");
    }
    cols = pg::Query("SELECT role, name, kind, expr, state_type, result_type FROM strata.rollup_column "
                     "WHERE rollup_id = $1::int ORDER BY ord",
                     {std::to_string(id)});
  });
  if (rows.empty()) throw core::Error(ERRCODE_UNDEFINED_OBJECT, "rollup " + std::to_string(id) + " does not exist");
  const auto& w = rows[0];
  Rollup r;
  r.id = id;
  r.view = *w[1];
  r.data_oid = static_cast<Oid>(std::stoul(*w[2]));
  r.source_oid = static_cast<Oid>(std::stoul(*w[3]));
  if (w[4]) r.source_rollup = std::stoi(*w[4]);
  r.order_sequence = w[5].value_or("");
  r.watermark = w[6] ? std::stoll(*w[6]) : 0;
  r.cursor = OptInt(w[7]);
  r.floor = OptInt(w[8]);
  r.frozen_before = w[9];
  r.batch_size = std::stoll(*w[10]);
  r.realtime = *w[11] == "t";
  auto& s = r.spec;
  s.id = id;
  s.source = *w[12];
  s.source_is_rollup = r.source_rollup.has_value();
  s.order_column = w[13].value_or("");
  s.bucket_name = *w[14];
  s.bucket_expr = *w[15];
  s.bucket_type = *w[16];
  s.bucket_width = *w[17];
  s.time_column = *w[18];
  s.time_zone = *w[19];
  s.where = *w[20];
  s.data_table = *w[21];
  s.pending_table = *w[22];
  r.change_function = w[23].value_or("");
  r.definition = w[24] ? static_cast<Oid>(std::stoul(*w[24])) : InvalidOid;
  r.broken = w[25];
  r.view_oid = static_cast<Oid>(std::stoul(*w[26]));
  r.pending_oid = static_cast<Oid>(std::stoul(*w[27]));
  r.missing = w[28].value_or("");
  for (const auto& c : cols) {
    if (*c[0] == "dimension") {
      s.dims.push_back({*c[1], *c[3]});
    } else {
      rs::Measure m;
      m.name = *c[1];
      rs::KindFromName(*c[2], &m.kind);
      m.args = *c[3];
      m.state_type = c[4].value_or("");
      m.result_type = c[5].value_or("");
      s.measures.push_back(m);
    }
  }
  return r;
}

int RollupIdByName(const std::string& name) {
  // The name is resolved like a regclass input, under the caller's search_path (namespace lookup only:
  // no operator or function is looked up there); the catalog is then read with search_path pinned.
  RangeVar* rv = pg::ParseRelationName(name);
  Oid rel = InvalidOid;
  pg::Call([&] { rel = RangeVarGetRelid(rv, NoLock, true); });
  std::vector<pg::Row> rows;
  if (OidIsValid(rel)) {
    const int level = pg::NewGucLevel();
    pg::SetGuc("search_path", "pg_catalog, pg_temp");
    rows = pg::Query("SELECT r.id FROM strata.rollup r WHERE r.view OPERATOR(pg_catalog.=) $1::pg_catalog.oid", {std::to_string(rel)});
    pg::RestoreGucs(level);
  }
  if (rows.empty())
    throw core::Error(ERRCODE_UNDEFINED_OBJECT, "rollup \"" + name + "\" does not exist", {},
                      "strata.rollups lists the rollups of this database.");
  return std::stoi(*rows[0][0]);
}

bool RollupCatalogExists() {
  return pg::Query("SELECT pg_catalog.to_regclass('strata.rollup') IS NOT NULL")[0][0] == std::optional<std::string>("t");
}

std::vector<rs::Dependent> LoadDependents(int id) {
  std::vector<rs::Dependent> deps;
  // A refresh writes into a dependent's pending table only when no code of another role can run on that
  // write: the table belongs to the extension's owner (or to the refreshing role) and has no trigger,
  // rule or row security. Otherwise the dependent is marked broken and left out.
  const auto rows = pg::Query(
      "SELECT x.id, x.pending_table::text, x.bucket_expr, "
      "  c.relowner IN ((SELECT extowner FROM pg_catalog.pg_extension WHERE extname = 'strata'), "
      "                 (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)) "
      "  AND NOT c.relhasrules AND NOT c.relrowsecurity "
      "  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) "
      "FROM strata.rollup x JOIN pg_catalog.pg_class c ON c.oid = x.pending_table "
      "WHERE x.source_rollup = $1::int ORDER BY x.id",
      {std::to_string(id)});
  for (const auto& r : rows) {
    if (*r[3] == "t") {
      // Whoever refreshes the source (its owner, or strata.role) adds buckets here; the grant made at
      // creation names the owner of that time.
      if (pg::Query("SELECT pg_catalog.has_table_privilege($1::pg_catalog.regclass, 'INSERT')", {*r[1]})[0][0] != "t") {
        const std::string me = pg::RoleName(GetUserId());
        pg::AsExtensionOwner([&] { pg::Exec("GRANT INSERT ON " + *r[1] + " TO " + core::QuoteIdent(me)); });
      }
      deps.push_back({*r[1], *r[2]});
      continue;
    }
    pg::AsExtensionOwner([&] {
      pg::Query("UPDATE strata.rollup SET broken = $2, last_error = $2, last_error_at = pg_catalog.now() WHERE id = $1::int",
                {*r[0], "its pending table " + *r[1] + " has another owner, a trigger, a rule or row security: "
                        "the rollup it reads no longer queues buckets there"});
    });
  }
  return deps;
}

namespace {

// The live backend running virtual transaction v, or null: none (it ended), or v belongs to a prepared
// transaction (whose vxid keeps the BackendId of the session that prepared it, a number another backend
// may have taken since). The slot's current local transaction id must be v's. Cannot ERROR.
PGPROC* ProcOf(const VirtualTransactionId& v) {
#if PG_VERSION_NUM >= 170000
  PGPROC* proc = ProcNumberGetProc(v.procNumber);
#else
  PGPROC* proc = BackendIdGetProc(v.backendId);
#endif
  if (proc == nullptr || proc->pid == 0 || proc->lxid != v.localTransactionId) return nullptr;
  return proc;
}

}  // namespace

bool WaitForWriters(Oid rel, int timeout_ms, std::string* waiting_for) {
  bool done = true;
  int pid = 0;
  TransactionId prepared = InvalidTransactionId;
  pg::Call([&] {
    // Like CREATE INDEX CONCURRENTLY's wait phase, but polling: VirtualXactLock(..., false) only asks
    // whether the transaction ended, so the refresher never sits in a lock queue where it would hold
    // up writers queued behind it. Every leaf is checked: a writer inserting into a partition directly
    // holds RowExclusiveLock on that partition only.
    List* rels = find_all_inheritors(rel, NoLock, nullptr);
    List* waits = NIL;
    ListCell* lc;
    foreach (lc, rels) {
      LOCKTAG tag;
      SET_LOCKTAG_RELATION(tag, MyDatabaseId, lfirst_oid(lc));
      VirtualTransactionId* v = GetLockConflicts(&tag, ShareLock, nullptr);
      for (; VirtualTransactionIdIsValid(*v); v++) {
        // Autovacuum is not waited for; a vxid without its live backend (a prepared transaction) is.
        PGPROC* proc = ProcOf(*v);
        if (proc != nullptr && (proc->statusFlags & PROC_IS_AUTOVACUUM)) continue;
        waits = lappend(waits, v);
      }
    }
    const TimestampTz deadline = GetCurrentTimestamp() + int64_t(timeout_ms) * 1000;
    foreach (lc, waits) {
      VirtualTransactionId* v = static_cast<VirtualTransactionId*>(lfirst(lc));
      while (!VirtualXactLock(*v, false)) {
        if (GetCurrentTimestamp() >= deadline) {
          PGPROC* proc = ProcOf(*v);
          pid = proc ? proc->pid : 0;
          if (proc == nullptr) {
            bool more = false;
            prepared = TwoPhaseGetXidByVirtualXID(*v, &more);
          }
          done = false;
          return;
        }
        (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
      }
    }
  });
  if (!done && waiting_for) {
    if (TransactionIdIsValid(prepared)) {
      const auto gid = pg::Query("SELECT gid FROM pg_catalog.pg_prepared_xacts WHERE transaction::text = $1",
                                 {std::to_string(prepared)});
      *waiting_for = "a prepared transaction writing to the source is still open (xid " + std::to_string(prepared) +
                     (gid.empty() || !gid[0][0] ? std::string(")") : ", gid '" + *gid[0][0] + "')") +
                     ": COMMIT PREPARED or ROLLBACK PREPARED ends it";
    } else {
      *waiting_for = "a transaction writing to the source is still open (pid " + std::to_string(pid) + ")";
    }
  }
  return done;
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

void CheckRelationsExist(const Rollup& r) {
  // Relations dropped behind strata's back (event triggers off): their names are plain OIDs now, and
  // no SQL about them could run.
  if (!r.missing.empty())
    throw core::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "the " + r.missing + " of rollup " + r.view + " no longer exists",
                      {}, "Drop the rollup with strata.drop_rollup().");
}

StepResult RefreshStep(Rollup& r) {
  CheckRelationsExist(r);
  StepResult res;
  const rs::Spec& s = r.spec;
  const auto deps = LoadDependents(r.id);
  int64_t watermark = r.watermark;
  if (!s.source_is_rollup) {
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
    const int64_t hi = std::min(upper, watermark + r.batch_size);
    if (hi > watermark) {
      if (!WaitForWriters(r.source_oid, config::rollup_wait_ms, &res.note)) {
        res.waited_out = true;
      } else {
        const auto out = Append(r, deps, watermark, hi);
        res.rows += std::stoll(*out[0]);
        res.groups += std::stoll(*out[1]);
        watermark = hi;
        res.more = hi < upper;
      }
    }
  }
  // Buckets queued by UPDATE/DELETE (or by the source rollup) are recomputed from absorbed rows only.
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
    res.frozen = nfrozen;
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
    res.buckets = n;
  }
  if (n + nfrozen >= limit) res.more = true;
  // Backfill: the next batch below the cursor, newest first, merged like new rows.
  std::optional<int64_t> cursor = r.cursor;
  if (!s.source_is_rollup && cursor && r.floor) {
    const int64_t lo = std::max(*r.floor, *cursor - r.batch_size);
    // The whole history in one batch, in the transaction that created the rollup (its locks still keep
    // every writer out) and with no order value handed out past the cursor: the batch is every row of
    // the source, so the range test per row (2-4% of a first build) is left out. No row has a value at
    // or below the floor (the smallest one at creation, less one; later rows get larger values).
    const bool whole = lo <= *r.floor && WritersLockedOut(r.source_oid) && SequenceValue(r.order_sequence) == *cursor;
    const auto out = Append(r, deps, lo, *cursor, whole);
    res.rows += std::stoll(*out[0]);
    res.groups += std::stoll(*out[1]);
    cursor = lo <= *r.floor ? std::nullopt : std::optional<int64_t>(lo);
    if (cursor) res.more = true;
  }
  const Args a{std::to_string(r.id), std::to_string(watermark), Opt(cursor), std::to_string(res.rows),
               std::to_string(res.buckets), res.more || res.waited_out ? "true" : "false"};
  pg::AsExtensionOwner([&] {
    pg::Query("UPDATE strata.rollup SET watermark = $2::bigint, backfill_cursor = $3::bigint, "
              "last_refresh_at = pg_catalog.now(), rows_processed = rows_processed + $4::bigint, last_rows = $4::bigint, "
              "buckets_recomputed = buckets_recomputed + $5::bigint, "
              "caught_up_at = CASE WHEN $6::boolean THEN caught_up_at ELSE pg_catalog.clock_timestamp() END, "
              "last_error = NULL, broken = NULL, failures = 0 WHERE id = $1::int",
              a);
  });
  r.watermark = watermark;
  r.cursor = cursor;
  SettleView(r, &res);
  return res;
}

namespace {

// Repairs missing change triggers on leaves attached since the last refresh (a short DDL with
// strata.lock_timeout). On failure no row is absorbed this time: rows of a relation without its triggers
// could be updated later without the rollup hearing of it. Reported, and retried next time.
bool RepairHooks(const Rollup& r, StepResult* res) {
  if (r.spec.source_is_rollup) return true;
  try {
    pg::InSubTransaction([&] { EnsureSourceHooks(r); });
    return true;
  } catch (const pg::PgError& e) {
    res->note = std::string("could not add change triggers to new partitions yet, nothing absorbed: ") + e.what();
    return false;
  }
}

double MsSince(TimestampTz t0) { return static_cast<double>(GetCurrentTimestamp() - t0) / 1000.0; }

// The prepared transaction each rollup was last found locked by (worker-local), so it is said once.
std::map<int, std::string>& NotedHolders() {
  static std::map<int, std::string> noted;
  return noted;
}

// A rollup's catalog row lock held by a prepared transaction (refresh_rollup() inside a transaction that
// was then prepared) stops every later refresh of it for as long as that transaction lives: say which
// one, once (a LOG line and a skipped job_runs row). A lock held by a running refresh says nothing.
void NoteLockHolder(int id, const std::string& view) {
  try {
    pg::BeginWorkerTxn();
    std::vector<pg::Row> holder;
    pg::AsExtensionOwner([&] {
      holder = pg::Query("SELECT p.gid, p.transaction::text, p.owner::text FROM strata.rollup r "
                         "JOIN pg_catalog.pg_prepared_xacts p ON p.transaction = r.xmax WHERE r.id = $1::int",
                         {std::to_string(id)});
    });
    std::string said;
    if (!holder.empty()) {
      said = "rollup " + view + " is locked by prepared transaction '" + *holder[0][0] + "' (xid " + *holder[0][1] +
             ", owner " + *holder[0][2] + "): no refresh until COMMIT PREPARED or ROLLBACK PREPARED";
      if (NotedHolders()[id] != said) {
        pg::Call([&] { ereport(LOG, (errmsg("strata: %s", said.c_str()))); });
        jobs::RecordJob("rollup_refresh", view, "skipped", said, "{}", GetCurrentTimestamp());
      }
    }
    NotedHolders()[id] = said;
    pg::CommitWorkerTxn();
  } catch (...) {
    pg::LogCaught("looking up the holder of a rollup's lock");
    pg::AbortWorkerTxn();
  }
}

}  // namespace

int64_t WorkerPass() {
  std::vector<pg::Row> rollups;
  Oid configured_role = InvalidOid;
  pg::BeginWorkerTxn();
  if (config::role != nullptr && config::role[0] != '\0') {
    const char* rname = config::role;
    pg::Call([&] { configured_role = get_role_oid(rname, false); });
  }
  // A database still at an extension version without rollups has nothing to do here; one whose catalog
  // predates this library's (ALTER EXTENSION strata UPDATE not run yet) waits for the update.
  if (!RollupCatalogExists()) {
    pg::CommitWorkerTxn();
    return -1;
  }
  if (pg::Query("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = 'strata.rollup'::pg_catalog.regclass "
                "AND attname = 'failures' AND NOT attisdropped)")[0][0] != std::optional<std::string>("t")) {
    static bool said = false;
    if (!said)
      pg::Call([] {
        ereport(LOG, (errmsg("strata: rollups of this database wait for ALTER EXTENSION strata UPDATE"),
                      errdetail("Its rollup catalog is older than the strata library loaded.")));
      });
    said = true;
    pg::CommitWorkerTxn();
    return -1;
  }
  rollups = pg::Query(
      "SELECT r.id, c.relowner, r.view::text, r.last_refresh_at IS NULL OR r.last_refresh_at + r.refresh_interval <= "
      "pg_catalog.now(), GREATEST(0, (EXTRACT(epoch FROM r.last_refresh_at + r.refresh_interval - pg_catalog.now()) * "
      "1000)::bigint) FROM strata.rollup r JOIN pg_catalog.pg_class c ON c.oid = r.data_table WHERE r.enabled "
      "AND r.broken IS NULL AND (r.failures = 0 OR r.last_error_at + LEAST(interval '1 hour', "
      "GREATEST(r.refresh_interval, interval '1 second') * pg_catalog.power(2, LEAST(r.failures - 1, 20))) <= pg_catalog.now()) "
      "ORDER BY r.level, r.id");
  pg::CommitWorkerTxn();
  int64_t next_ms = -1;
  for (const auto& row : rollups) {
    if (*row[3] != "t") {
      const int64_t ms = std::stoll(*row[4]);
      next_ms = next_ms < 0 ? ms : std::min(next_ms, ms);
      continue;
    }
    const int id = std::stoi(*row[0]);
    const Oid run_as = OidIsValid(configured_role) ? configured_role : static_cast<Oid>(std::stoul(*row[1]));
    const std::string view = *row[2];
    const TimestampTz deadline = GetCurrentTimestamp() + int64_t(10) * 1000000;  // per rollup per pass
    for (int step = 1;; step++) {
      const TimestampTz t0 = GetCurrentTimestamp();
      StepResult res;
      try {
        pg::BeginWorkerTxn();
        const int level = pg::NewGucLevel();
        PinSessionForRollupSql();
        Rollup r = LoadRollup(id, true);
        pg::AsRole(run_as, [&] {
          bool hooked = true;
          if (step == 1) {
            ProtectLegacy(r);
            FollowSource(r);
            hooked = RepairHooks(r, &res);
          }
          if (hooked) {
            const std::string note = res.note;
            res = RefreshStep(r);
            if (res.note.empty()) res.note = note;
          } else {
            res.waited_out = true;
          }
          // A routine step (rows absorbed, buckets recomputed, nothing else) only moves the rollup's
          // counters; job_runs gets what an operator must see: skipped, a note, frozen buckets (failures
          // below). Recorded in the same transaction as its effect (as run_as).
          if (res.frozen || res.waited_out || !res.note.empty())
            jobs::RecordJob("rollup_refresh", view, res.waited_out ? "skipped" : "ok",
                                  res.waited_out ? res.note : std::to_string(res.rows) + " rows, " +
                                                                  std::to_string(res.buckets) + " buckets recomputed",
                                  StepJson(res, 1, MsSince(t0)), t0);
        });
        pg::AsExtensionOwner([&] {
          pg::Query("UPDATE strata.rollup SET last_duration_ms = $2::float8, refresh_steps = refresh_steps + 1 "
                    "WHERE id = $1::int",
                    {std::to_string(id), std::to_string(MsSince(t0))});
        });
        pg::RestoreGucs(level);
        pg::CommitWorkerTxn();
      } catch (...) {
        int code = 0;
        const std::string msg = pg::CurrentExceptionMessage(&code);
        pg::AbortWorkerTxn();
        if (code == ERRCODE_LOCK_NOT_AVAILABLE) {  // another refresh of it is running
          NoteLockHolder(id, view);
          break;
        }
        // A stored definition that no longer fits its source fails the same way at every try: the
        // rollup is marked broken (logged and recorded once) and left alone until its owner acts.
        // Other failures are retried after a backoff that doubles with each failure in a row (from the
        // refresh interval, at most an hour); the log and job_runs hear of an error when it changes.
        const bool broken = BreaksRollup(code);
        const std::string said = broken ? "rollup broken, no longer refreshed: " + std::string(msg) : std::string(msg);
        try {
          pg::BeginWorkerTxn();
          std::vector<pg::Row> before;
          pg::AsExtensionOwner([&] {
            before = pg::Query("UPDATE strata.rollup r SET last_error = $2, last_error_at = pg_catalog.now(), "
                               "last_refresh_at = pg_catalog.now(), failures = r.failures + 1, "
                               "broken = CASE WHEN $3::boolean THEN $2 END FROM strata.rollup o "
                               "WHERE r.id = $1::int AND o.id = r.id RETURNING o.last_error IS DISTINCT FROM $2, r.failures",
                               {std::to_string(id), said, broken ? "true" : "false"});
          });
          const bool changed = before.empty() || *before[0][0] == "t";
          if (changed) {
            const std::string again = broken || before.empty() ? std::string()
                                                                : " (failure " + *before[0][1] + " in a row; retried with backoff)";
            pg::Call([&] {
              ereport(LOG, (errcode(code), errmsg("strata: refresh of rollup %s failed: %s%s", view.c_str(), said.c_str(),
                                                  again.c_str()),
                            broken ? errhint("Fix the source or drop the rollup; strata.refresh_rollup() tries it again "
                                             "and clears the state once it succeeds.")
                                   : 0));
            });
            jobs::RecordJob("rollup_refresh", view, "failed", said, "{}", t0);
          }
          pg::CommitWorkerTxn();
        } catch (...) {
          pg::LogCaught("recording a failed rollup refresh");
          pg::AbortWorkerTxn();
        }
        break;
      }
      if (!res.more || res.waited_out || GetCurrentTimestamp() >= deadline) break;
    }
  }
  return next_ms;
}

std::vector<std::string> RollupsNotDone(Oid parent, const std::string& partition) {
  std::vector<std::string> out;
  if (!RollupCatalogExists())
    return out;
  // Names are built qualified here: this runs from partition maintenance with the session's search_path.
  const auto rows = pg::Query("SELECT r.view::text, r.order_column, r.watermark, r.backfill_cursor, "
                              "pg_catalog.format('%I.%I', n.nspname, c.relname) FROM strata.rollup r "
                              "JOIN pg_catalog.pg_class c ON c.oid = r.pending_table "
                              "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                              "WHERE r.source = $1::oid AND r.source_rollup IS NULL ORDER BY r.id",
                              {std::to_string(parent)});
  for (const auto& r : rows) {
    const std::string col = core::QuoteIdent(*r[1]);
    std::string sql = "SELECT EXISTS (SELECT 1 FROM " + partition + " WHERE " + col + " > $1::bigint) OR EXISTS (SELECT 1 FROM " +
                      *r[4] + ")";
    if (r[3]) sql += " OR EXISTS (SELECT 1 FROM " + partition + " WHERE " + col + " <= $2::bigint)";
    const auto e = pg::Query(sql, {r[2], r[3]});
    if (*e[0][0] == "t") out.push_back(*r[0]);
  }
  return out;
}

void MarkFrozenBefore(Oid parent, const std::string& bound_sql) {
  if (!RollupCatalogExists())
    return;
  pg::AsExtensionOwner([&] {
    pg::Query("UPDATE strata.rollup SET frozen_before = GREATEST(frozen_before, (" + bound_sql + ")::timestamptz) "
              "WHERE source = $1::oid AND source_rollup IS NULL",
              {std::to_string(parent)});
  });
}

int64_t SequenceValue(const std::string& sequence) {
  return std::stoll(*pg::Query("SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM " + sequence)
                         .at(0)
                         .at(0));
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

// strata.wait_for_writers(rel, timeout_ms): the refresh's writer wait, exposed for tests and tools.
STRATA_FUNCTION(strata_wait_for_writers) {
  const Oid rel = PG_GETARG_OID(0);
  const int timeout = PG_GETARG_INT32(1);
  if (timeout < 0) throw core::Error(ERRCODE_INVALID_PARAMETER_VALUE, "timeout_ms must not be negative");
  PG_RETURN_BOOL(WaitForWriters(rel, timeout, nullptr));
}
