// A database worker: connects to one database, exits at once if strata is not installed there, then
// runs a maintenance pass every strata.naptime. Passes are split into short transactions (see
// src/partitions/README.md); an error that escapes a pass is logged, shown in strata.workers, and the
// next pass waits with backoff. A fatal error ends only this worker; the launcher restarts it, and
// strata.workers.last_error says why it ended. Each loop the worker checks that it should still run: its
// slot is still its own (same generation), no DROP/RENAME/TEMPLATE of its database holds it, the
// database is still in strata.databases; on a hot standby it idles (state standby) until promotion.
#include <string>

#include "config.hpp"
#include "core/backoff.hpp"
#include "core/json.hpp"
#include "core/naming.hpp"
#include "analytics/heartbeat.hpp"
#include "health/health.hpp"
#include "partitions/maintenance.hpp"
#include "rollups/worker.hpp"
#include "vacuum/scheduler.hpp"
#include "columnar/policy.hpp"
#include "pg/spi.hpp"
#include "workers/shmem.hpp"
#include "pg/xact.hpp"
#include "pg/security.hpp"
#include "jobs/job_runs.hpp"

namespace strata::workers {
namespace {

DbSlot* my_slot = nullptr;
WorkerIdentity my_id;

// Whether the slot is still this worker's: the launcher did not start another worker for it since
// (a launcher restart, a slot freed and reused). Caller holds shared->lock.
bool SlotIsMine() {
  return my_slot != nullptr && my_slot->generation == my_id.generation && my_slot->dboid == MyDatabaseId &&
         my_slot->state != SlotState::kFree;
}

// At exit (any exit): the slot no longer names this process, so a DROP DATABASE waiting for it and a
// new launcher see it gone. LWLock calls at shmem exit cannot ERROR.
void ClearSlotPid(int, Datum) {
  if (my_slot == nullptr) return;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  if (SlotIsMine() && my_slot->pid == MyProcPid) {
    my_slot->pid = 0;
    my_slot->latch = nullptr;
  }
  LWLockRelease(shared->lock);
}

void SetSlotError(const char* msg) {
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  if (SlotIsMine()) strlcpy(my_slot->last_error, msg, sizeof my_slot->last_error);
  LWLockRelease(shared->lock);
}

void SetSlotState(SlotState st) {
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  if (SlotIsMine()) {
    my_slot->state = st;
    if (st != SlotState::kRunning && st != SlotState::kStandby) my_slot->latch = nullptr;
  }
  LWLockRelease(shared->lock);
}

// Leaves when this worker should no longer run (checked every loop and when its latch is set): its
// slot belongs to a newer worker (it exits quietly, touching nothing), or a command that needs the
// database to itself holds it (DROP DATABASE ...; see db_commands.cpp). Holds no transaction here.
void LeaveIfNotMine() {
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  const bool mine = SlotIsMine();
  const bool held = mine && Held(*my_slot, GetCurrentTimestamp());
  if (held) {
    my_slot->state = SlotState::kHeld;
    my_slot->latch = nullptr;
  }
  LWLockRelease(shared->lock);
  if (!mine) {
    pg::Call([] { ereport(LOG, (errmsg("strata worker: another worker took this database's slot, exiting"))); });
    my_slot = nullptr;
    proc_exit(0);
  }
  if (held) {
    pg::Call([] { ereport(LOG, (errmsg("strata worker: exiting for a command that needs the database to itself"))); });
    proc_exit(0);
  }
}

// After a pass: when another database waits for a worker slot (strata.max_workers are busy), this worker
// queues its own database behind it and exits, so the launcher starts the waiting one (round robin).
// Between passes the worker holds no transaction and no lock, so leaving here loses nothing.
void YieldIfOthersWait() {
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  const TimestampTz now = GetCurrentTimestamp();
  const bool yield = SlotIsMine() && OthersWaiting(my_slot, now);
  if (yield) {
    // Due again after a naptime, as if it had slept here: turns never come faster than passes would.
    my_slot->state = SlotState::kWaiting;
    my_slot->waiting_since = now;
    my_slot->next_start = now + int64_t(config::naptime_s) * 1000000;
    my_slot->yielded = true;
    my_slot->latch = nullptr;
  }
  LWLockRelease(shared->lock);
  if (!yield) return;
  pg::Call([] { ereport(DEBUG1, (errmsg("strata worker: giving the worker slot to a waiting database"))); });
  proc_exit(0);
}

// Session settings of the worker: a pinned search_path, strata.lock_timeout on every DDL, and READ
// COMMITTED read-write transactions whatever the database or role sets (ALTER DATABASE/ROLE ... SET
// default_transaction_isolation or default_transaction_read_only): the override source outranks them and
// a configuration reload. Transactions Postgres starts itself (VACUUM, DETACH CONCURRENTLY) take these
// defaults; the ones strata starts also set them per transaction (pg::BeginWorkerTxn).
// Also pinned, because each would change what the worker does: session_replication_role (replica would
// skip ordinary triggers and event triggers on its writes and DDL), statement and idle timeouts (a long
// refresh or VACUUM is not a runaway query), standard_conforming_strings (how the SQL strata generates
// reads its literals), and the text forms of values strata passes through text (DateStyle,
// IntervalStyle, extra_float_digits, bytea_output). TimeZone and work_mem stay the database's: buckets
// follow the zone the database's own sessions use, and memory is the operator's call.
void ApplySessionSettings() {
  const std::string lt = std::to_string(config::lock_timeout_ms) + "ms";
  const char* ltc = lt.c_str();
  static const char* const kPinned[][2] = {
      {"search_path", "pg_catalog, pg_temp"},
      {"default_transaction_isolation", "read committed"},
      {"default_transaction_read_only", "off"},
      {"default_transaction_deferrable", "off"},
      {"session_replication_role", "origin"},
      {"statement_timeout", "0"},
      {"idle_in_transaction_session_timeout", "0"},
      {"idle_session_timeout", "0"},
      {"standard_conforming_strings", "on"},
      {"DateStyle", "ISO, YMD"},
      {"IntervalStyle", "postgres"},
      {"extra_float_digits", "1"},
      {"bytea_output", "hex"},
  };
  pg::Call([&] {
    for (const auto& p : kPinned) SetConfigOption(p[0], p[1], PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("lock_timeout", ltc, PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("application_name", "strata worker", PGC_USERSET, PGC_S_SESSION);
  });
}

// What the worker checks each loop in one short transaction: the extension is still installed, and the
// database (by its current name) is still in strata.databases.
struct DbCheck {
  bool installed = false;
  bool wanted = true;
};
DbCheck CheckDatabase() {
  DbCheck c;
  pg::Call([&] {
    StartTransactionCommand();
    c.installed = OidIsValid(get_extension_oid("strata", true));
    char* name = get_database_name(MyDatabaseId);
    c.wanted = name == nullptr || Wanted(name);
    CommitTransactionCommand();
  });
  return c;
}

// Claims the slot the launcher started this worker for; false when it is no longer this worker's (the
// launcher that registered it ended and a newer start took the slot, or the slot was freed).
bool AttachSlot(Oid dboid) {
  memcpy(&my_id, MyBgworkerEntry->bgw_extra, sizeof my_id);
  if (my_id.slot < 0 || my_id.slot >= kMaxDatabases) return false;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  my_slot = &shared->slots[my_id.slot];
  bool mine = SlotIsMine() && my_slot->dboid == dboid && my_slot->pid == 0;
  if (mine && Held(*my_slot, GetCurrentTimestamp())) {
    // Started just before a DROP/RENAME/TEMPLATE took hold of the database: leave it to that command.
    my_slot->state = SlotState::kHeld;
    mine = false;
  }
  if (mine) {
    my_slot->pid = MyProcPid;
    my_slot->state = SlotState::kRunning;
    my_slot->started_at = GetCurrentTimestamp();
    my_slot->passes = 0;
    my_slot->last_pass_us = 0;
    my_slot->last_health_us = 0;
    my_slot->waiting_since = 0;
    my_slot->latch = MyLatch;
  }
  LWLockRelease(shared->lock);
  if (!mine) my_slot = nullptr;
  return mine;
}

void WorkerLoop(Oid dboid);

void DbWorkerBody(Datum arg) {
  const Oid dboid = DatumGetObjectId(arg);
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  // Connects as the bootstrap superuser to read strata's catalog; user DDL runs as strata.role or the
  // table's owner (pg::AsRole), never as this superuser.
  BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
  if (!AttachSlot(dboid)) proc_exit(0);
  before_shmem_exit(ClearSlotPid, 0);
  try {
    WorkerLoop(dboid);
  } catch (...) {
    // Whatever ends the worker with an error says why in strata.workers (not only errors inside a
    // pass): the message is copied into the slot here, then the guard reports the error itself.
    int code = 0;
    const char* msg = pg::CurrentExceptionMessage(&code);
    SetSlotError(msg);
    throw;
  }
}

// Says that the worker started: once per database (LOG), not at every turn taken (round robin when
// databases wait for slots: DEBUG1).
void AnnounceStart() {
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  const bool turn = my_slot->yielded;
  my_slot->yielded = false;
  LWLockRelease(shared->lock);
  pg::Call([&] { ereport(turn ? DEBUG1 : LOG, (errmsg("%s started", MyBgworkerEntry->bgw_name))); });
}

// At the top of each loop: a pending configuration reload, then the database check; exits when the
// extension was dropped or the database left strata.databases.
void ReloadAndCheck() {
  if (ConfigReloadPending) {
    ConfigReloadPending = false;
    pg::Call([] { ProcessConfigFile(PGC_SIGHUP); });
    ApplySessionSettings();
  }
  const DbCheck check = CheckDatabase();
  if (!check.installed) {
    pg::Call([] { ereport(LOG, (errmsg("strata worker: extension dropped in this database, exiting"))); });
    SetSlotState(SlotState::kNotInstalled);
    proc_exit(0);
  }
  if (!check.wanted) {
    pg::Call([] { ereport(LOG, (errmsg("strata worker: database no longer in strata.databases, exiting"))); });
    SetSlotState(SlotState::kExited);
    proc_exit(0);
  }
}

// The partition pass, and its job_runs row when it did something (idle passes show in strata.workers
// only).
void PartitionPass() {
  const TimestampTz t0 = GetCurrentTimestamp();
  const partitions::PassSummary sum = partitions::WorkerPass();
  if (sum.actions == 0) return;
  const long ms = static_cast<long>((GetCurrentTimestamp() - t0) / 1000);
  core::JsonObject details;
  details.Int("sets", sum.sets).Int("actions", sum.actions).Int("failed", sum.failed).Int("skipped", sum.skipped);
  details.Int("duration_ms", ms);
  pg::BeginWorkerTxn();
  jobs::RecordJob("maintenance_pass", "database", sum.failed ? "failed" : (sum.skipped ? "skipped" : "ok"), sum.Message(),
                  details.Text(), t0);
  pg::CommitWorkerTxn();
}

// Inside a catch block: logs "strata worker: <what> failed: <error>" and rolls the worker's transaction back.
void LogFailureAndAbort(const char* what) {
  int code = 0;
  const char* msg = pg::CurrentExceptionMessage(&code);
  pg::Call([&] { ereport(LOG, (errcode(code), errmsg("strata worker: %s failed: %s", what, msg))); });
  pg::AbortWorkerTxn();
}

// When the next heartbeat is due (0: this database publishes no strata.heartbeat; looked at each pass).
TimestampTz next_beat = 0;

// The heartbeat of a publishing primary (src/analytics/), on its own: a failure is logged and the worker
// goes on (the next pass looks again).
void HeartbeatSafely() {
  try {
    const int64_t ms = analytics::Beat();
    next_beat = ms < 0 ? 0 : GetCurrentTimestamp() + ms * 1000;
  } catch (...) {
    LogFailureAndAbort("heartbeat");
    next_beat = 0;
  }
}

// One maintenance pass: heartbeat, partitions, health, rollups, vacuum. Returns how long to sleep after it, given the
// naptime: shorter when rollups or vacuum have work due soon, longer with backoff after an error (the
// pass's error is logged and shown in strata.workers). The health pass follows the partition pass (it
// reuses the layouts that pass read) and runs on its own: a failure of the others (a lock timeout behind
// the very DDL queue it is to report) does not stop it, and its own failure is logged and the pass goes on.
int64_t MaintenancePass(Oid dboid, int* consecutive_errors) {
  int64_t sleep_ms = int64_t(config::naptime_s) * 1000;
  const TimestampTz t0 = GetCurrentTimestamp();
  HeartbeatSafely();
  int64 health_us = 0;
  auto health = [&] {
    const TimestampTz h0 = GetCurrentTimestamp();
    try {
      health::WorkerPass();
    } catch (...) {
      LogFailureAndAbort("health pass");
    }
    health_us = GetCurrentTimestamp() - h0;
  };
  bool health_done = false;
  try {
    PartitionPass();
    health();
    health_done = true;
    const int64_t next_rollup_ms = rollups::WorkerPass();
    if (next_rollup_ms >= 0) sleep_ms = std::min(sleep_ms, std::max<int64_t>(next_rollup_ms, 100));
    // Vacuum scheduling last: its actions are the longest. Work left by the per-pass budget
    // continues after a short nap, so partitions and rollups still get their turn in between.
    // Compression of old partitions (src/columnar/): a few conversions per pass, more after a short nap.
    if (columnar::WorkerPass()) sleep_ms = std::min<int64_t>(sleep_ms, 1000);
    if (vacuum::WorkerPass()) sleep_ms = std::min<int64_t>(sleep_ms, 1000);
    *consecutive_errors = 0;
    SetSlotError("");
  } catch (...) {
    int code = 0;
    const char* msg = pg::CurrentExceptionMessage(&code);
    pg::Call([&] { ereport(LOG, (errcode(code), errmsg("strata worker: maintenance pass failed: %s", msg))); });
    SetSlotError(msg);
    pg::AbortWorkerTxn();
    ++*consecutive_errors;
    const core::Backoff b{1000, int64_t(config::naptime_s) * 1000 * 10};
    sleep_ms = std::max<int64_t>(sleep_ms, b.DelayMs(*consecutive_errors, dboid));
  }
  if (!health_done) health();
  // A worker has no idle loop that flushes its statistics: do it once per pass.
  pg::Call([] { pgstat_report_stat(false); });
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  my_slot->last_pass_at = GetCurrentTimestamp();
  my_slot->last_pass_us = my_slot->last_pass_at - t0;
  my_slot->last_health_us = health_us;
  my_slot->passes++;
  my_slot->naptime_ms = config::naptime_s * 1000;
  LWLockRelease(shared->lock);
  return sleep_ms;
}

// Sleeps for sleep_ms: the latch is also set by Postgres's own signals (sinval catch-up under heavy
// DDL, for one), which must not turn into extra passes, so the wait runs to its deadline. SIGHUP and
// SIGTERM end it; the launcher sets the latch when a database starts waiting for a slot, which this
// one then gives up.
void Nap(int64_t sleep_ms) {
  const TimestampTz deadline = GetCurrentTimestamp() + sleep_ms * 1000;
  for (;;) {
    const TimestampTz now = GetCurrentTimestamp();
    const long remaining = static_cast<long>((deadline - now) / 1000);
    if (remaining <= 0 || ConfigReloadPending) break;
    // A publishing primary beats between passes too (strata.heartbeat_interval is seconds, the naptime
    // a minute by default).
    if (next_beat != 0 && now >= next_beat && config::enabled) {
      HeartbeatSafely();
      continue;
    }
    const long wait = next_beat != 0 ? std::min<long>(remaining, std::max<long>(1, (next_beat - now) / 1000)) : remaining;
    (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait, PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    pg::Call([] { CHECK_FOR_INTERRUPTS(); });
    LeaveIfNotMine();
    YieldIfOthersWait();
  }
}

void WorkerLoop(Oid dboid) {
  ApplySessionSettings();
  if (!CheckDatabase().installed) {
    SetSlotState(SlotState::kNotInstalled);
    proc_exit(0);
  }
  AnnounceStart();
  bool crashed_jobs_marked = false;
  int consecutive_errors = 0;
  for (;;) {
    pg::Call([] { CHECK_FOR_INTERRUPTS(); });
    LeaveIfNotMine();
    ReloadAndCheck();
    int64_t sleep_ms = int64_t(config::naptime_s) * 1000;
    bool in_recovery = false;
    pg::Call([&] { in_recovery = RecoveryInProgress(); });
    // On a hot standby: no writes at all (no pass, no job_runs trim); checked again every naptime, so
    // the worker takes over within a naptime of a promotion.
    SetSlotState(in_recovery ? SlotState::kStandby : SlotState::kRunning);
    if (!in_recovery && !crashed_jobs_marked) {
      jobs::MarkCrashedJobs();
      crashed_jobs_marked = true;
    }
    if (config::enabled && !in_recovery) sleep_ms = MaintenancePass(dboid, &consecutive_errors);
    YieldIfOthersWait();
    Nap(sleep_ms);
  }
}

}  // namespace
}  // namespace strata::workers

extern "C" PGDLLEXPORT void strata_db_worker_main(Datum arg);
void strata_db_worker_main(Datum arg) { strata::pg::GuardWorker(strata::workers::DbWorkerBody, arg); }
