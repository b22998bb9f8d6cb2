// The health pass (health.hpp, README.md): the watched tables' counters from the statistics, a sample
// written only for those that moved, and the alert state in SQL (strata._health_alerts) only when there
// is something to record or clear.
#include "health/health.hpp"

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "config.hpp"
#include "partitions/figures.hpp"
#include "pg/guard.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "pg/xact.hpp"

namespace strata::health {
namespace {

using partitions::TableCounters;
using Counters = std::map<Oid, TableCounters>;

// Worker-lifetime: each watched table's counters as its newest sample holds them (loaded from
// strata.ingest_sample at the first pass; a sample written by hand since only costs one more sample).
Counters written;
bool written_loaded = false;
TimestampTz last_trim = 0;
// Samples older than six hours (and those of tables no longer watched) go at most this often.
constexpr int64 kTrimEveryUs = int64(10) * 60 * USECS_PER_SEC;

Counters NewestSamples() {
  Counters out;
  for (const auto& r : pg::Query("SELECT DISTINCT ON (s.relid) s.relid, s.inserted, s.updated, s.deleted, s.dead "
                                 "FROM strata.ingest_sample s ORDER BY s.relid, s.sampled_at DESC")) {
    TableCounters c;
    c.inserted = std::stoll(*r[1]);
    c.updated = std::stoll(*r[2]);
    c.deleted = std::stoll(*r[3]);
    c.dead = std::stoll(*r[4]);
    out[static_cast<Oid>(std::stoul(*r[0]))] = c;
  }
  return out;
}

// Rollups' raw sources that are not partition sets (watched by their first rollup's time column).
std::vector<Oid> RollupSources() {
  std::vector<Oid> out;
  for (const auto& r : pg::Query("SELECT DISTINCT r.source::oid FROM strata.rollup r WHERE r.source_rollup IS NULL "
                                 "AND NOT EXISTS (SELECT FROM strata.partition_set s WHERE s.parent = r.source)"))
    out.push_back(static_cast<Oid>(std::stoul(*r[0])));
  return out;
}

template <typename T>
std::string ArrayLiteral(const std::vector<T>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); i++) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "}";
}

// Does a session of this database wait for a heavyweight lock now? (PGPROC's wait event, read without a
// lock as pg_stat_activity reads it.) Only then are pg_locks and the blocking chains read.
bool AnyLockWaiter() {
  bool any = false;
  pg::Call([&] {
    for (uint32 i = 0; i < ProcGlobal->allProcCount && !any; i++) {
      const PGPROC* p = &ProcGlobal->allProcs[i];
      if (p->pid == 0 || p->databaseId != MyDatabaseId) continue;
      const uint32 w = *reinterpret_cast<const volatile uint32*>(&p->wait_event_info);
      any = (w & 0xFF000000) == PG_WAIT_LOCK;
    }
  });
  return any;
}

// Can anything hold back the horizon as strata.horizon_holders defines it? A client session of this
// database with an xid or snapshot in a transaction older than strata.health_horizon_age, a prepared
// transaction that old, or a replication slot with an xmin. Only then is the view read.
bool MaybeHorizonHolders() {
  bool maybe = false;
  pg::Call([&] {
    const TimestampTz cutoff = GetCurrentTransactionStartTimestamp() - int64(config::health_horizon_age_s) * USECS_PER_SEC;
    const int n = pgstat_fetch_stat_numbackends();
    for (int i = 1; i <= n && !maybe; i++) {
#if PG_VERSION_NUM >= 160000
      LocalPgBackendStatus* l = pgstat_get_local_beentry_by_index(i);
#else
      LocalPgBackendStatus* l = pgstat_fetch_stat_local_beentry(i);
#endif
      if (l == nullptr) continue;
      const PgBackendStatus& b = l->backendStatus;
      if (b.st_databaseid != MyDatabaseId || b.st_procpid == MyProcPid || b.st_backendType != B_BACKEND) continue;
      if (!TransactionIdIsValid(l->backend_xid) && !TransactionIdIsValid(l->backend_xmin)) continue;
      maybe = b.st_xact_start_timestamp != 0 && b.st_xact_start_timestamp < cutoff;
    }
    if (!maybe) {
      TransactionId xmin = InvalidTransactionId, catalog_xmin = InvalidTransactionId;
      ProcArrayGetReplicationSlotXmin(&xmin, &catalog_xmin);
      maybe = TransactionIdIsValid(xmin) || TransactionIdIsValid(catalog_xmin);
    }
  });
  if (!maybe && max_prepared_xacts > 0) {
    const auto r = pg::Query("SELECT EXISTS (SELECT FROM pg_catalog.pg_prepared_xacts p WHERE p.database = "
                             "pg_catalog.current_database() AND p.prepared < pg_catalog.now() - "
                             "pg_catalog.make_interval(secs => $1::int))",
                             {std::to_string(config::health_horizon_age_s)});
    maybe = r[0][0] == "t";
  }
  return maybe;
}

// Has this database a logical replication slot or a subscription (an analytics node's either side)?
// Only then is strata.replication_health read.
bool AnyReplication() {
  bool any = false;
  pg::Call([&] {
    if (max_replication_slots <= 0 || ReplicationSlotCtl == nullptr) return;
    LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
    for (int i = 0; i < max_replication_slots && !any; i++) {
      const ReplicationSlot* s = &ReplicationSlotCtl->replication_slots[i];
      any = s->in_use && s->data.database == MyDatabaseId;
    }
    LWLockRelease(ReplicationSlotControlLock);
  });
  if (!any)
    any = pg::Query("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_subscription s WHERE s.subdbid = "
                    "(SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()))")[0][0] == "t";
  return any;
}

struct PassResult {
  std::vector<std::pair<std::string, std::string>> alerts;  // condition, message
  Counters written;                                         // the newest samples after this pass
};

// One pass inside the caller's transaction (SPI connected). `worker`: the partition pass's layouts are
// reused and the worker's memory of the newest samples; else everything is read afresh.
PassResult RunPass(bool worker) {
  PassResult out;
  std::vector<Oid> left_out;
  const std::vector<partitions::SetFigures> figs = partitions::ReadFigures(worker, &left_out);
  std::vector<std::pair<Oid, TableCounters>> now;
  now.reserve(figs.size());
  for (const auto& f : figs) now.emplace_back(f.parent, f.counters);
  for (Oid src : RollupSources()) now.emplace_back(src, partitions::TreeCounters(src));

  // A sample per table whose counters moved since its newest (an idle table costs no write).
  out.written = worker && written_loaded ? written : NewestSamples();
  std::vector<int64_t> oids, ins, upd, del, dead;
  for (const auto& [relid, c] : now) {
    const auto it = out.written.find(relid);
    if (it != out.written.end() && it->second == c) continue;
    oids.push_back(relid);
    ins.push_back(c.inserted);
    upd.push_back(c.updated);
    del.push_back(c.deleted);
    dead.push_back(c.dead);
    out.written[relid] = c;
  }
  if (!oids.empty())
    pg::Query("INSERT INTO strata.ingest_sample (relid, sampled_at, inserted, updated, deleted, dead) "
              "SELECT u.relid, pg_catalog.now(), u.i, u.u, u.d, u.dead "
              "FROM ROWS FROM (pg_catalog.unnest($1::oid[]), pg_catalog.unnest($2::int8[]), pg_catalog.unnest($3::int8[]), "
              "pg_catalog.unnest($4::int8[]), pg_catalog.unnest($5::int8[])) AS u(relid, i, u, d, dead) "
              "ON CONFLICT DO NOTHING",
              {ArrayLiteral(oids), ArrayLiteral(ins), ArrayLiteral(upd), ArrayLiteral(del), ArrayLiteral(dead)});

  // Six hours kept (and each table's newest always); samples of tables no longer watched go (an oid can
  // be reused).
  TimestampTz ts = 0;
  pg::Call([&] { ts = GetCurrentTimestamp(); });
  if (!worker || ts - last_trim >= kTrimEveryUs) {
    std::vector<int64_t> watched;
    for (const auto& n : now) watched.push_back(n.first);
    pg::Query("DELETE FROM strata.ingest_sample s WHERE s.sampled_at < pg_catalog.now() - interval '6 hours' "
              "AND s.sampled_at < (SELECT max(l.sampled_at) FROM strata.ingest_sample l WHERE l.relid = s.relid)");
    // A left-out set (behind a lock queue) keeps its samples.
    for (Oid o : left_out) watched.push_back(o);
    pg::Query("DELETE FROM strata.ingest_sample s USING (SELECT DISTINCT i.relid FROM strata.ingest_sample i EXCEPT "
              "SELECT pg_catalog.unnest($1::oid[])) gone WHERE s.relid = gone.relid",
              {ArrayLiteral(watched)});
    if (worker) {
      last_trim = ts;
      std::set<Oid> keep(watched.begin(), watched.end());
      keep.insert(left_out.begin(), left_out.end());
      for (auto it = out.written.begin(); it != out.written.end();) it = keep.count(it->first) ? std::next(it) : out.written.erase(it);
    }
  }

  // The conditions of the sets (from the figures), lock waits and horizon holders (when there may be
  // any), and the alert state: read and written in SQL only when there is something to record or clear.
  std::vector<int64_t> ahead_sets, ahead_n, default_sets, default_n, left;
  for (const auto& f : figs) {
    if (f.partitions_ahead && *f.partitions_ahead < std::min(config::health_min_partitions_ahead, f.premake)) {
      ahead_sets.push_back(f.parent);
      ahead_n.push_back(*f.partitions_ahead);
    }
    if (f.default_rows && *f.default_rows > config::health_max_default_rows) {
      default_sets.push_back(f.parent);
      default_n.push_back(*f.default_rows);
    }
  }
  for (Oid o : left_out) left.push_back(o);
  const bool locks = AnyLockWaiter();
  const bool holders = MaybeHorizonHolders();
  const bool replication = AnyReplication();
  bool run = locks || holders || replication || !ahead_sets.empty() || !default_sets.empty();
  if (!run) run = pg::Query("SELECT EXISTS (SELECT FROM strata.health_alert)")[0][0] == "t";
  if (run)
    for (const auto& r : pg::Query("SELECT condition, message FROM strata._health_alerts($1::oid[], $2::int[], "
                                   "$3::oid[], $4::int8[], $5::oid[], $6::bool, $7::bool, $8::bool)",
                                   {ArrayLiteral(ahead_sets), ArrayLiteral(ahead_n), ArrayLiteral(default_sets),
                                    ArrayLiteral(default_n), ArrayLiteral(left), locks ? "t" : "f", holders ? "t" : "f",
                                    replication ? "t" : "f"}))
      out.alerts.emplace_back(r[0].value_or(""), r[1].value_or(""));
  return out;
}

// A database whose extension predates this health pass has no _health_alerts: nothing to do until updated.
bool Installed() {
  bool present = false;
  pg::Call([&] {
    present = OidIsValid(LookupFuncName(list_make2(makeString(pstrdup("strata")), makeString(pstrdup("_health_alerts"))),
                                        -1, nullptr, true));
  });
  return present;
}

}  // namespace

int WorkerPass() {
  if (!config::health) {
    partitions::ForgetPassLayouts();
    return 0;
  }
  PassResult result;
  pg::BeginWorkerTxn();
  if (Installed()) pg::AsExtensionOwner([&] { result = RunPass(true); });
  pg::CommitWorkerTxn();
  written = std::move(result.written);
  written_loaded = true;
  // Logged after the commit: the alert state that says they were logged is saved.
  for (const auto& [condition, message] : result.alerts)
    pg::Call([&] {
      ereport(WARNING, (errmsg_internal("%s", message.c_str()),
                        errdetail_internal("strata.health_alerts condition %s; logged again when it changes or after "
                                           "strata.health_alert_repeat.", condition.c_str())));
    });
  return static_cast<int>(result.alerts.size());
}

}  // namespace strata::health

// strata._health_pass(): the worker's health pass run by hand in the caller's transaction (everything read
// afresh); returns the alerts the worker would log now. Not granted to PUBLIC.
STRATA_FUNCTION(strata_health_pass) {
  strata::pg::Call([&] { InitMaterializedSRF(fcinfo, 0); });
  strata::pg::SpiConnect();
  const auto result = strata::health::RunPass(false);
  strata::pg::Call([&] {
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    for (const auto& [condition, message] : result.alerts) {
      Datum values[2] = {CStringGetTextDatum(condition.c_str()), CStringGetTextDatum(message.c_str())};
      bool nulls[2] = {false, false};
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
  });
  strata::pg::SpiFinish();
  return (Datum)0;
}

// strata._health_setting(name, fallback): a threshold setting's value in its base unit (no unit text, as
// pg_settings.setting shows it), or the fallback when strata is not loaded.
STRATA_FUNCTION(strata_health_setting) {
  const auto arg = strata::pg::TextArg(fcinfo, 0);
  if (!arg) PG_RETURN_NULL();
  const std::string name = "strata." + *arg;
  const char* v = nullptr;
  strata::pg::Call([&] { v = GetConfigOption(name.c_str(), true, false); });
  if (v == nullptr || v[0] == '\0') {
    if (PG_ARGISNULL(1)) PG_RETURN_NULL();
    PG_RETURN_DATUM(PG_GETARG_DATUM(1));
  }
  PG_RETURN_INT64(std::stoll(v));
}
