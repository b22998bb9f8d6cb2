// The launcher: one per cluster, connected to no database. Every naptime (or when woken at the commit
// of CREATE EXTENSION strata, or when a worker ends) it lists databases and starts a worker for each one
// that has none, within strata.max_workers, respecting each database's restart backoff. Databases beyond
// max_workers wait in a queue; workers give their slot up after a pass while one waits (round robin).
#include <algorithm>
#include <string>
#include <vector>

#include "config.hpp"
#include "core/backoff.hpp"
#include "pg/guard.hpp"
#include "workers/shmem.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/tableam.h"
#include "utils/varlena.h"
}

namespace strata::workers {

void InitShmem();

namespace {

BackgroundWorkerHandle* handles[kMaxDatabases];

struct Db {
  Oid oid;
  char name[NAMEDATALEN];
};

// Databases that accept connections (pg_database is a shared catalog, readable with no database).
std::vector<Db> ListDatabases() {
  std::vector<Db> out;
  out.reserve(16);
  Db buf[kMaxDatabases];
  int n = 0;
  pg::Call([&] {
    StartTransactionCommand();
    Relation rel = table_open(DatabaseRelationId, AccessShareLock);
    TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
    HeapTuple tup;
    while ((tup = heap_getnext(scan, ForwardScanDirection)) != nullptr && n < kMaxDatabases) {
      Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
      if (!db->datallowconn || db->datistemplate) continue;
      buf[n].oid = db->oid;
      strlcpy(buf[n].name, NameStr(db->datname), NAMEDATALEN);
      n++;
    }
    table_endscan(scan);
    table_close(rel, AccessShareLock);
    CommitTransactionCommand();
  });
  out.assign(buf, buf + n);
  return out;
}

// strata.databases: comma-separated names; empty = all.
bool Wanted(const char* name) {
  if (config::databases == nullptr || config::databases[0] == '\0') return true;
  std::string list = config::databases;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string item = list.substr(start, end - start);
    const auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b != std::string::npos && item.substr(b, e - b + 1) == name) return true;
    start = end + 1;
  }
  return false;
}

// Notices workers that ended and schedules their next start.
void Reap(TimestampTz now) {
  const int64_t nap_ms = int64_t(config::naptime_s) * 1000;
  for (int i = 0; i < kMaxDatabases; i++) {
    if (handles[i] == nullptr) continue;
    pid_t pid;
    const BgwHandleStatus st = GetBackgroundWorkerPid(handles[i], &pid);
    if (st == BGWH_STARTED || st == BGWH_NOT_YET_STARTED) continue;
    pfree(handles[i]);
    handles[i] = nullptr;
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    DbSlot& s = shared->slots[i];
    s.pid = 0;
    if (s.state == SlotState::kWaiting) {
      // Gave its slot up to a waiting database after a pass: queued again, due at once.
      s.failures = 0;
      s.next_start = 0;
    } else if (s.state == SlotState::kNotInstalled || s.state == SlotState::kExited) {
      s.failures = 0;
      s.next_start = now + nap_ms * 1000;
    } else {
      // Ended without saying why (an error, SIGTERM or a crash): back off, 1 s doubling to 5 min.
      s.failures++;
      s.state = SlotState::kFailed;
      const core::Backoff b{1000, 300000};
      s.next_start = now + b.DelayMs(s.failures, s.dboid) * 1000;
    }
    LWLockRelease(shared->lock);
  }
}

// A database due for a worker, in the order it is served: those waiting (longest first), then those
// last found without the extension (probed only when a slot is idle: they never make a worker yield).
struct Due {
  DbSlot* slot;
  Db db;
  bool probe_only;
  TimestampTz since;
};

// Marks every database due for a worker as waiting and returns them in serving order. Caller holds
// shared->lock.
std::vector<Due> CollectDue(const std::vector<Db>& dbs, TimestampTz now) {
  std::vector<Due> due;
  for (const Db& db : dbs) {
    if (!Wanted(db.name)) continue;
    DbSlot* s = FindSlot(db.oid, true);
    if (s == nullptr || handles[s - shared->slots] != nullptr || now < s->next_start) continue;
    const bool probe_only = s->state == SlotState::kNotInstalled && !s->recheck;
    if (!probe_only && s->state != SlotState::kWaiting) {
      s->state = SlotState::kWaiting;
      s->waiting_since = now;
    }
    due.push_back({s, db, probe_only, s->waiting_since});
  }
  // A database dropped or no longer in strata.databases stops waiting (else workers would keep yielding).
  for (auto& s : shared->slots) {
    if (s.state != SlotState::kWaiting) continue;
    bool listed = false;
    for (const Due& d : due) listed |= d.slot == &s;
    if (!listed && handles[&s - shared->slots] == nullptr) s.state = SlotState::kExited;
  }
  std::stable_sort(due.begin(), due.end(), [](const Due& a, const Due& b) {
    return a.probe_only != b.probe_only ? b.probe_only : a.since < b.since;
  });
  return due;
}

bool StartWorker(const Db& db, DbSlot* s, TimestampTz now) {
  BackgroundWorker w;
  memset(&w, 0, sizeof w);
  w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  w.bgw_start_time = BgWorkerStart_RecoveryFinished;
  w.bgw_restart_time = BGW_NEVER_RESTART;  // the launcher restarts it, with backoff
  snprintf(w.bgw_library_name, BGW_MAXLEN, "strata");
  snprintf(w.bgw_function_name, BGW_MAXLEN, "strata_db_worker_main");
  snprintf(w.bgw_name, BGW_MAXLEN, "strata worker for database %s", db.name);
  snprintf(w.bgw_type, BGW_MAXLEN, "strata worker");
  w.bgw_main_arg = ObjectIdGetDatum(db.oid);
  w.bgw_notify_pid = MyProcPid;
  BackgroundWorkerHandle* h = nullptr;
  if (!RegisterDynamicBackgroundWorker(&w, &h)) {
    pg::Call([&] {
      ereport(LOG, (errmsg("strata launcher: no background worker slot free for database \"%s\"", db.name),
                    errhint("Increase max_worker_processes.")));
    });
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    s->state = SlotState::kExited;
    s->next_start = now + int64_t(config::naptime_s) * 1000000;
    LWLockRelease(shared->lock);
    return false;
  }
  handles[s - shared->slots] = h;
  return true;
}

// Starts workers for due databases within strata.max_workers, the longest waiting first. Databases left
// waiting are shown as such, and the running workers are woken: each gives its slot up at the end of
// its pass (round robin), so every database is served however many there are.
void StartDue(TimestampTz now) {
  int running = 0;
  for (auto* h : handles) running += h != nullptr;
  const std::vector<Db> dbs = ListDatabases();
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  std::vector<Due> due = CollectDue(dbs, now);
  std::vector<Due> start;
  for (const Due& d : due) {
    if (running + static_cast<int>(start.size()) >= config::max_workers) break;
    d.slot->state = SlotState::kStarting;
    d.slot->started_at = now;
    d.slot->waiting_since = 0;
    d.slot->recheck = false;
    start.push_back(d);
  }
  bool left_waiting = false;
  for (const auto& s : shared->slots) left_waiting |= s.state == SlotState::kWaiting;
  if (left_waiting)
    for (int i = 0; i < kMaxDatabases; i++)
      if (handles[i] != nullptr && shared->slots[i].state == SlotState::kRunning && shared->slots[i].latch != nullptr)
        SetLatch(shared->slots[i].latch);
  LWLockRelease(shared->lock);
  for (const Due& d : start) running += StartWorker(d.db, d.slot, now);
}

void ClearLauncher(int, Datum) {
  if (shared == nullptr) return;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  shared->launcher_pid = 0;
  shared->launcher_latch = nullptr;
  LWLockRelease(shared->lock);
}

void LauncherBody(Datum) {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
  pgstat_report_appname("strata launcher");
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  shared->launcher_pid = MyProcPid;
  shared->launcher_latch = MyLatch;
  // Slots left by an earlier launcher life (its workers are gone with it or will report again).
  for (auto& s : shared->slots)
    if (s.state == SlotState::kStarting || s.state == SlotState::kRunning) s.state = SlotState::kExited;
  LWLockRelease(shared->lock);
  before_shmem_exit(ClearLauncher, 0);
  ereport(LOG, (errmsg("strata launcher started")));
  for (;;) {
    pg::Call([] { CHECK_FOR_INTERRUPTS(); });
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      pg::Call([] { ProcessConfigFile(PGC_SIGHUP); });
    }
    const TimestampTz now = GetCurrentTimestamp();
    Reap(now);
    // A CREATE EXTENSION committed somewhere: databases found without strata are probed again now
    // (failed workers keep their backoff).
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    if (shared->rescan_requested) {
      shared->rescan_requested = false;
      for (auto& s : shared->slots) {
        if (s.state == SlotState::kNotInstalled || s.state == SlotState::kExited) s.next_start = 0;
        // Probed in turn even while every worker slot is busy (it may have the extension now).
        if (s.state == SlotState::kNotInstalled) s.recheck = true;
      }
    }
    LWLockRelease(shared->lock);
    if (config::enabled) StartDue(now);
    // Wake at the next due restart or after a naptime, whichever comes first.
    int64_t wait_ms = int64_t(config::naptime_s) * 1000;
    LWLockAcquire(shared->lock, LW_SHARED);
    for (int i = 0; i < kMaxDatabases; i++) {
      const DbSlot& s = shared->slots[i];
      if (s.state == SlotState::kFree || handles[i] != nullptr || s.next_start <= now) continue;
      wait_ms = std::min<int64_t>(wait_ms, (s.next_start - now) / 1000 + 1);
    }
    LWLockRelease(shared->lock);
    (void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, static_cast<long>(wait_ms),
                     PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
  }
}

}  // namespace

void Init() {
  InitShmem();
  BackgroundWorker w;
  memset(&w, 0, sizeof w);
  w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  // Started only once recovery is over: a hot standby never runs strata maintenance.
  w.bgw_start_time = BgWorkerStart_RecoveryFinished;
  w.bgw_restart_time = 5;
  snprintf(w.bgw_library_name, BGW_MAXLEN, "strata");
  snprintf(w.bgw_function_name, BGW_MAXLEN, "strata_launcher_main");
  snprintf(w.bgw_name, BGW_MAXLEN, "strata launcher");
  snprintf(w.bgw_type, BGW_MAXLEN, "strata launcher");
  RegisterBackgroundWorker(&w);
}

}  // namespace strata::workers

extern "C" PGDLLEXPORT void strata_launcher_main(Datum arg);
void strata_launcher_main(Datum arg) { strata::pg::GuardWorker(strata::workers::LauncherBody, arg); }
