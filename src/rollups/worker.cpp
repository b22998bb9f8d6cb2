// The worker's pass over due rollups, sources before dependents; see worker.hpp. Each refresh step is
// its own transaction, run as strata.role or else as the rollup table's owner.
#include <algorithm>
#include <cctype>
#include <climits>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "config.hpp"
#include "core/backoff.hpp"
#include "core/error.hpp"
#include "core/naming.hpp"
#include "jobs/job_runs.hpp"
#include "pg/guc.hpp"
#include "pg/names.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "pg/xact.hpp"
#include "rollups/capture.hpp"
#include "rollups/catalog.hpp"
#include "rollups/hooks.hpp"
#include "rollups/refresh.hpp"
#include "rollups/shared_read.hpp"
#include "rollups/worker.hpp"
#include "rollups/writers.hpp"

namespace strata::rollups {
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

namespace {

// One due rollup, as the worker's pass lists it.
struct Due {
  int id = 0;
  Oid run_as = InvalidOid;
  std::string view;
  Oid source = InvalidOid;  // shareable (a raw source's rollup on its capture, with a definition view)
  std::string order_column;
};

// Lists the rollups to refresh now (sources before dependents) and sets *next_ms to the milliseconds
// until the next one not yet due (-1: none). Empty while this database's catalog cannot be served: no
// rollups in its extension version, or a catalog older than this library (ALTER EXTENSION strata UPDATE
// not run yet: said once in the log). Runs its own transaction.
std::vector<Due> DueRollups(int64_t* next_ms) {
  *next_ms = -1;
  std::vector<Due> due;
  Oid configured_role = InvalidOid;
  pg::BeginWorkerTxn();
  if (config::role != nullptr && config::role[0] != '\0') {
    const char* rname = config::role;
    pg::Call([&] { configured_role = get_role_oid(rname, false); });
  }
  if (!RollupCatalogExists()) {
    pg::CommitWorkerTxn();
    return due;
  }
  if (pg::Query("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = 'strata.rollup'::pg_catalog.regclass "
                "AND attname = 'grain' AND NOT attisdropped)")[0][0] != std::optional<std::string>("t")) {
    static bool said = false;
    if (!said)
      pg::Call([] {
        ereport(LOG, (errmsg("strata: rollups of this database wait for ALTER EXTENSION strata UPDATE"),
                      errdetail("Its rollup catalog is older than the strata library loaded.")));
      });
    said = true;
    pg::CommitWorkerTxn();
    return due;
  }
  const auto rows = pg::Query(
      "SELECT r.id, c.relowner, r.view::text, r.last_refresh_at IS NULL OR r.last_refresh_at + r.refresh_interval <= "
      "pg_catalog.now(), GREATEST(0, (EXTRACT(epoch FROM r.last_refresh_at + r.refresh_interval - pg_catalog.now()) * "
      "1000)::bigint), CASE WHEN r.source_rollup IS NULL AND r.grain IS NOT NULL AND r.definition IS NOT NULL "
      "THEN r.source::pg_catalog.oid END, r.order_column "
      "FROM strata.rollup r JOIN pg_catalog.pg_class c ON c.oid = r.data_table WHERE r.enabled "
      "AND r.broken IS NULL AND (r.failures = 0 OR r.last_error_at + LEAST(interval '1 hour', "
      "GREATEST(r.refresh_interval, interval '1 second') * pg_catalog.power(2, LEAST(r.failures - 1, 20))) <= pg_catalog.now()) "
      "ORDER BY r.level, r.id");
  pg::CommitWorkerTxn();
  for (const auto& row : rows) {
    if (*row[3] != "t") {
      const int64_t ms = std::stoll(*row[4]);
      *next_ms = *next_ms < 0 ? ms : std::min(*next_ms, ms);
      continue;
    }
    const Oid owner = static_cast<Oid>(std::stoul(*row[1]));
    due.push_back({std::stoi(*row[0]), OidIsValid(configured_role) ? configured_role : owner, *row[2],
                   row[5] ? static_cast<Oid>(std::stoul(*row[5])) : InvalidOid, row[6].value_or("")});
  }
  return due;
}

// Records a step's outcome: job_runs only for what an operator must see (skipped, a note, frozen
// buckets; failures are recorded by RecordFailure), as run_as, in the step's transaction.
void RecordStep(const Due& d, const StepResult& res, TimestampTz t0, double ms) {
  if (res.frozen || res.waited_out || !res.note.empty())
    jobs::RecordJob("rollup_refresh", d.view, res.waited_out ? "skipped" : "ok",
                    res.waited_out ? res.note
                                   : std::to_string(res.rows) + " rows, " + std::to_string(res.buckets) + " buckets recomputed",
                    StepJson(res, 1, ms), t0);
}

// Counts a committed step of rollup id that took ms (strata.rollups: last_duration_ms, refresh_steps).
void CountStep(int id, double ms) {
  pg::AsExtensionOwner([&] {
    pg::Query("UPDATE strata.rollup SET last_duration_ms = $2::float8, refresh_steps = refresh_steps + 1 "
              "WHERE id = $1::int",
              {std::to_string(id), std::to_string(ms)});
  });
}

// One refresh step of a due rollup in its own transaction, as d.run_as; the first step of a pass also
// brings the rollup up to date with its source (legacy protection, renamed columns, missing triggers).
// Throws what the step threw, with the transaction still to be aborted.
StepResult RunStep(const Due& d, int step, TimestampTz t0) {
  StepResult res;
  pg::BeginWorkerTxn();
  const int level = pg::NewGucLevel();
  PinSessionForRollupSql();
  Rollup r = LoadRollup(d.id, true);
  pg::AsRole(d.run_as, [&] {
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
    // counters. Recorded in the same transaction as its effect (as run_as).
    RecordStep(d, res, t0, MsSince(t0));
  });
  CountStep(d.id, MsSince(t0));
  pg::RestoreGucs(level);
  pg::CommitWorkerTxn();
  return res;
}

// After a failed step (its transaction aborted): a stored definition that no longer fits its source
// fails the same way at every try, so the rollup is marked broken (logged and recorded once) and left
// alone until its owner acts. Other failures are retried after a backoff that doubles with each failure
// in a row (from the refresh interval, at most an hour); the log and job_runs hear of an error when it
// changes. Runs its own transaction; a failure here is logged, never thrown.
void RecordFailure(const Due& d, int code, const std::string& msg, TimestampTz t0) {
  const bool broken = BreaksRollup(code);
  const std::string said = broken ? "rollup broken, no longer refreshed: " + msg : msg;
  try {
    pg::BeginWorkerTxn();
    std::vector<pg::Row> before;
    pg::AsExtensionOwner([&] {
      before = pg::Query("UPDATE strata.rollup r SET last_error = $2, last_error_at = pg_catalog.now(), "
                         "last_refresh_at = pg_catalog.now(), failures = r.failures + 1, "
                         "broken = CASE WHEN $3::boolean THEN $2 END FROM strata.rollup o "
                         "WHERE r.id = $1::int AND o.id = r.id RETURNING o.last_error IS DISTINCT FROM $2, r.failures",
                         {std::to_string(d.id), said, broken ? "true" : "false"});
    });
    const bool changed = before.empty() || *before[0][0] == "t";
    if (changed) {
      const std::string again = broken || before.empty() ? std::string()
                                                          : " (failure " + *before[0][1] + " in a row; retried with backoff)";
      pg::Call([&] {
        ereport(LOG, (errcode(code), errmsg("strata: refresh of rollup %s failed: %s%s", d.view.c_str(), said.c_str(),
                                            again.c_str()),
                      broken ? errhint("Fix the source or drop the rollup; strata.refresh_rollup() tries it again "
                                       "and clears the state once it succeeds.")
                             : 0));
      });
      jobs::RecordJob("rollup_refresh", d.view, "failed", said, "{}", t0);
    }
    pg::CommitWorkerTxn();
  } catch (...) {
    pg::LogCaught("recording a failed rollup refresh");
    pg::AbortWorkerTxn();
  }
}

// Refreshes one due rollup step by step until caught up, waiting for writers, failed, or past its share
// of the pass (kPerRollupPass).
void RefreshDue(const Due& d) {
  constexpr int64_t kPerRollupPass = int64_t(10) * 1000000;  // microseconds per rollup per pass
  const TimestampTz deadline = GetCurrentTimestamp() + kPerRollupPass;
  for (int step = 1;; step++) {
    const TimestampTz t0 = GetCurrentTimestamp();
    StepResult res;
    try {
      res = RunStep(d, step, t0);
    } catch (...) {
      int code = 0;
      const std::string msg = pg::CurrentExceptionMessage(&code);
      pg::AbortWorkerTxn();
      if (code == ERRCODE_LOCK_NOT_AVAILABLE)  // another refresh of it is running
        NoteLockHolder(d.id, d.view);
      else
        RecordFailure(d, code, msg, t0);
      return;
    }
    if (!res.more || res.waited_out || GetCurrentTimestamp() >= deadline) return;
  }
}

// One shared pass over the due rollups of one source (same order column, same role), in one
// transaction: the catalog rows locked (busy ones skipped), the source's hooks repaired once, both high
// marks read, one writer wait, the new rows of every rollup's batch staged once, then each rollup's
// step reading the staged rows. Sets *more to the rollups with work left. Returns false (transaction
// aborted) when anything failed: the caller then refreshes each rollup on its own, which isolates the
// failing one.
bool SharedPass(const std::vector<Due>& group, int pass, std::vector<Due>* more) {
  std::vector<Due> busy;  // locked by another session: said once if a prepared transaction holds it
  const TimestampTz t0 = GetCurrentTimestamp();
  const Due& head = group[0];
  try {
    pg::BeginWorkerTxn();
    const int level = pg::NewGucLevel();
    PinSessionForRollupSql();
    std::string ids;
    for (const auto& d : group) ids += (ids.empty() ? "" : ",") + std::to_string(d.id);
    std::vector<pg::Row> locked;
    pg::AsExtensionOwner([&] {
      locked = pg::Query("SELECT id FROM strata.rollup WHERE id = ANY (('{' || $1 || '}')::int[]) AND enabled "
                         "AND broken IS NULL ORDER BY id FOR UPDATE SKIP LOCKED",
                         {ids});
    });
    std::vector<Rollup> rs;
    std::vector<Due> ds;
    for (const auto& row : locked) {
      const int id = std::stoi(*row[0]);
      rs.push_back(LoadRollup(id, false));
      ds.push_back(*std::find_if(group.begin(), group.end(), [&](const Due& d) { return d.id == id; }));
    }
    for (const auto& d : group)
      if (std::none_of(ds.begin(), ds.end(), [&](const Due& x) { return x.id == d.id; })) busy.push_back(d);
    std::vector<StepResult> results(rs.size());
    int64_t staged = 0;
    pg::AsRole(head.run_as, [&] {
      if (rs.empty()) return;
      if (pass == 1)
        for (auto& r : rs) {
          ProtectLegacy(r);
          FollowSource(r);
        }
      SharedRead shared;
      std::string note;
      bool go = RepairHooks(rs[0], &results[0]);
      note = results[0].note;
      int64_t top = 0, lo = INT64_MAX, hi = INT64_MIN;
      bool work = false;
      if (go) {
        for (const auto& r : rs) top = std::max(top, r.watermark);
        shared.upper = NewRowsUpper(rs[0], top);
        shared.log_end = ChangeLogEnd();
        for (const auto& r : rs) {
          const int64_t h = std::min(shared.upper, r.watermark + r.batch_size);
          if (h > r.watermark) {
            lo = std::min(lo, r.watermark);
            hi = std::max(hi, h);
            work = true;
          }
          work = work || HasChanges(r, shared.log_end);
        }
        if (work && !WaitForWriters(rs[0].source_oid, config::rollup_wait_ms, &note)) go = false;
        shared.waited = work && go;
      }
      for (size_t i = 0; i < rs.size(); i++) {
        const TimestampTz ts = GetCurrentTimestamp();
        if (!go) {
          results[i].waited_out = true;
          results[i].note = note;
        } else {
          if (work && hi > lo && shared.from.empty()) staged = StageNewRows(rs, lo, hi, &shared.from);
          results[i] = RefreshStep(rs[i], &shared);
          if (results[i].note.empty()) results[i].note = i == 0 ? note : "";
        }
        RecordStep(ds[i], results[i], ts, MsSince(ts));
        CountStep(rs[i].id, MsSince(ts));
      }
      ReleaseStagedRows();
    });
    pg::AsExtensionOwner([&] {
      pg::Query("UPDATE strata.rollup_source SET passes = passes + 1, rows_read = rows_read + $2::bigint, "
                "last_pass_at = pg_catalog.now(), last_pass_rows = $2::bigint, last_pass_rollups = $3::int, "
                "last_pass_ms = $4::float8 WHERE source = $1::pg_catalog.oid",
                {std::to_string(head.source), std::to_string(staged), std::to_string(rs.size()), std::to_string(MsSince(t0))});
    });
    pg::RestoreGucs(level);
    pg::CommitWorkerTxn();
    for (size_t i = 0; i < rs.size(); i++)
      if (results[i].more && !results[i].waited_out) more->push_back(ds[i]);
    for (const Due& d : busy) NoteLockHolder(d.id, d.view);
    return true;
  } catch (...) {
    int code = 0;
    const std::string msg = pg::CurrentExceptionMessage(&code);
    pg::AbortWorkerTxn();
    pg::Call([&] {
      ereport(DEBUG1, (errmsg("strata: shared refresh pass over %s failed, refreshing its rollups one by one: %s",
                              head.view.c_str(), msg.c_str())));
    });
    return false;
  }
}

// Shared passes over one source's due rollups until each is caught up, waiting for writers, or past
// the pass's time; on a failed pass each rollup left is refreshed on its own.
void RefreshShared(const std::vector<Due>& group) {
  constexpr int64_t kSharedPass = int64_t(10) * 1000000;  // microseconds
  const TimestampTz deadline = GetCurrentTimestamp() + kSharedPass;
  std::vector<Due> todo = group;
  for (int pass = 1; !todo.empty(); pass++) {
    std::vector<Due> more;
    if (!SharedPass(todo, pass, &more)) {
      for (const Due& d : todo) RefreshDue(d);
      return;
    }
    if (GetCurrentTimestamp() >= deadline) return;
    todo = std::move(more);
  }
}

}  // namespace

int64_t WorkerPass() {
  int64_t next_ms = -1;
  const std::vector<Due> due = DueRollups(&next_ms);
  // Due rollups of one raw source (same order column and role) share one read of its new rows; the
  // others, and a source with one due rollup, are refreshed one by one. Sources come before their
  // dependents (level order): shareable rollups are all level 0.
  std::map<std::tuple<Oid, std::string, Oid>, std::vector<Due>> groups;
  for (const Due& d : due)
    if (OidIsValid(d.source)) groups[{d.source, d.order_column, d.run_as}].push_back(d);
  for (const Due& d : due) {
    if (!OidIsValid(d.source)) {
      RefreshDue(d);
      continue;
    }
    auto g = groups.find({d.source, d.order_column, d.run_as});
    if (g == groups.end()) continue;  // refreshed with its group
    if (g->second.size() == 1)
      RefreshDue(d);
    else
      RefreshShared(g->second);
    groups.erase(g);
  }
  return next_ms;
}

}  // namespace strata::rollups
