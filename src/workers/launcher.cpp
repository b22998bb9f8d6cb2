// The launcher: one per cluster, connected to no database. Every naptime (or when woken at the commit
// of CREATE EXTENSION strata, or when a worker ends) it lists databases and starts a worker for each one
// that has none, within strata.max_workers, respecting each database's restart backoff. Databases beyond
// max_workers wait in a queue; workers give their slot up after a pass while one waits (round robin).
// A new launcher (after the old one ended) adopts the workers still running; slots of databases that
// are gone are freed; strata takes at most half of max_worker_processes (see WorkerLimit).
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
// Workers started by an earlier launcher life and still running: this launcher has no handle for them
// (handles are per process), so it watches their pid in the proc array instead.
bool adopted[kMaxDatabases];
// Databases already said to wait for want of a shared slot (said once each); whether a shortage of
// max_worker_processes slots was already logged (once until a start succeeds again).
std::vector<Oid> told_no_slot;
bool told_shortage = false;

// Whether slot i has a worker this launcher knows of.
bool Live(int i) { return handles[i] != nullptr || adopted[i]; }

// Whether pid is a live backend connected to dboid. BackendPidGetProc takes ProcArrayLock shared and
// cannot ERROR.
bool ProcAlive(pid_t pid, Oid dboid) {
  if (pid == 0) return false;
  PGPROC* proc = BackendPidGetProc(pid);
  return proc != nullptr && proc->databaseId == dboid;
}

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

}  // namespace

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

namespace {

// Notices workers that ended and schedules their next start.
void Reap(TimestampTz now) {
  const int64_t nap_ms = int64_t(config::naptime_s) * 1000;
  for (int i = 0; i < kMaxDatabases; i++) {
    if (handles[i] != nullptr) {
      pid_t pid;
      const BgwHandleStatus st = GetBackgroundWorkerPid(handles[i], &pid);
      if (st == BGWH_STARTED || st == BGWH_NOT_YET_STARTED) continue;
      pfree(handles[i]);
      handles[i] = nullptr;
    } else if (adopted[i]) {
      LWLockAcquire(shared->lock, LW_SHARED);
      const bool alive = ProcAlive(shared->slots[i].pid, shared->slots[i].dboid);
      LWLockRelease(shared->lock);
      if (alive) continue;
      adopted[i] = false;
    } else {
      continue;
    }
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    DbSlot& s = shared->slots[i];
    s.pid = 0;
    if (s.state == SlotState::kHeld) {
      // Stopped for a DROP/RENAME/TEMPLATE: started again once the hold ends, no failure counted.
      s.failures = 0;
      s.next_start = 0;
    } else if (s.state == SlotState::kWaiting) {
      // Gave its slot up to a waiting database after a pass: queued again, due after its naptime (the
      // worker set next_start).
      s.failures = 0;
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
// The slot of a listed database; claims a free one, else reuses the slot of a database last found
// without strata (the longest idle), else says once that the database waits. Caller holds shared->lock.
DbSlot* ClaimSlot(const Db& db) {
  DbSlot* s = FindSlot(db.oid, true);
  if (s == nullptr) {
    DbSlot* victim = nullptr;
    for (int i = 0; i < kMaxDatabases; i++) {
      DbSlot& c = shared->slots[i];
      if (c.state != SlotState::kNotInstalled || Live(i) || c.pid != 0 || c.held_by != 0) continue;
      if (victim == nullptr || c.next_start < victim->next_start) victim = &c;
    }
    if (victim != nullptr) {
      victim->state = SlotState::kFree;
      s = FindSlot(db.oid, true);
    }
  }
  const auto told = std::find(told_no_slot.begin(), told_no_slot.end(), db.oid);
  if (s == nullptr && told == told_no_slot.end()) {
    told_no_slot.push_back(db.oid);
    // ereport(LOG) under an LWLock: LOG does not longjmp (an out-of-memory ERROR would, and the error
    // path releases LWLocks).
    ereport(LOG, (errmsg("strata launcher: database \"%s\" waits: all %d shared worker slots are taken", db.name,
                         kMaxDatabases),
                  errdetail("Every slot belongs to a database with strata or one a worker runs in."),
                  errhint("Drop the extension in databases that do not need it, or narrow strata.databases.")));
  } else if (s != nullptr && told != told_no_slot.end()) {
    told_no_slot.erase(told);
  }
  return s;
}

// Frees the slots of databases that are gone (dropped, or no longer accepting connections) and whose
// worker has ended, and ends holds whose command is over. Caller holds shared->lock.
void FreeGoneSlots(const std::vector<Db>& dbs, TimestampTz now) {
  for (int i = 0; i < kMaxDatabases; i++) {
    DbSlot& s = shared->slots[i];
    if (s.state == SlotState::kFree) continue;
    if (s.held_by != 0 && (!Held(s, now) || BackendPidGetProc(s.held_by) == nullptr)) {
      s.held_by = 0;
      s.held_until = 0;
    }
    if (Live(i) || s.pid != 0 || Held(s, now)) continue;
    bool listed = false;
    for (const Db& db : dbs) listed |= db.oid == s.dboid;
    if (!listed) s.state = SlotState::kFree;
  }
}

std::vector<Due> CollectDue(const std::vector<Db>& dbs, TimestampTz now) {
  std::vector<Due> due;
  std::vector<DbSlot*> present;
  FreeGoneSlots(dbs, now);
  for (const Db& db : dbs) {
    if (!Wanted(db.name)) continue;
    DbSlot* s = ClaimSlot(db);
    if (s == nullptr) continue;
    present.push_back(s);
    if (Live(s - shared->slots) || now < s->next_start) continue;
    if (Held(*s, now)) {
      s->state = SlotState::kHeld;
      continue;
    }
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
    const bool listed = std::find(present.begin(), present.end(), &s) != present.end();
    if (!listed && !Live(&s - shared->slots)) s.state = SlotState::kExited;
  }
  std::stable_sort(due.begin(), due.end(), [](const Due& a, const Due& b) {
    return a.probe_only != b.probe_only ? b.probe_only : a.since < b.since;
  });
  return due;
}

// Starts the worker of a slot the caller marked kStarting. The slot's generation is bumped first: a
// worker of an earlier generation (registered by a launcher that has since ended) exits when it sees it.
bool StartWorker(const Db& db, DbSlot* s, TimestampTz now) {
  WorkerIdentity id;
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  id.slot = static_cast<int>(s - shared->slots);
  id.generation = ++s->generation;
  LWLockRelease(shared->lock);
  BackgroundWorker w;
  memset(&w, 0, sizeof w);
  w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  // Also on a hot standby, where it idles (state standby) until promotion.
  w.bgw_start_time = BgWorkerStart_ConsistentState;
  w.bgw_restart_time = BGW_NEVER_RESTART;  // the launcher restarts it, with backoff
  snprintf(w.bgw_library_name, BGW_MAXLEN, "strata");
  snprintf(w.bgw_function_name, BGW_MAXLEN, "strata_db_worker_main");
  snprintf(w.bgw_name, BGW_MAXLEN, "strata worker for database %s", db.name);
  snprintf(w.bgw_type, BGW_MAXLEN, "strata worker");
  w.bgw_main_arg = ObjectIdGetDatum(db.oid);
  static_assert(sizeof id <= BGW_EXTRALEN, "bgw_extra too small");
  memcpy(w.bgw_extra, &id, sizeof id);
  w.bgw_notify_pid = MyProcPid;
  BackgroundWorkerHandle* h = nullptr;
  if (!RegisterDynamicBackgroundWorker(&w, &h)) {
    // Every max_worker_processes slot is taken (parallel query, replication, other extensions): the
    // database waits in the queue and is tried again after a naptime; the shortage is said once.
    if (!told_shortage)
      pg::Call([&] {
        ereport(LOG, (errmsg("strata launcher: no background worker slot free, database \"%s\" waits", db.name),
                      errdetail("max_worker_processes = %d; strata's workers wait until slots free up.",
                                max_worker_processes),
                      errhint("Increase max_worker_processes.")));
      });
    told_shortage = true;
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    s->state = SlotState::kWaiting;
    s->waiting_since = s->started_at;
    s->next_start = now + int64_t(config::naptime_s) * 1000000;
    LWLockRelease(shared->lock);
    return false;
  }
  if (told_shortage)
    pg::Call([] { ereport(LOG, (errmsg("strata launcher: background worker slots are free again"))); });
  told_shortage = false;
  handles[s - shared->slots] = h;
  return true;
}

// Database workers at once: strata.max_workers, but never more than half of max_worker_processes with
// the launcher counted (at least one worker): the other half is left to parallel query and logical
// replication, which draw from the same slots.
int WorkerLimit() {
  return std::min(config::max_workers, std::max(1, max_worker_processes / 2 - 1));
}

// Starts workers for due databases within strata.max_workers, the longest waiting first. Databases left
// waiting are shown as such, and the running workers are woken: each gives its slot up at the end of
// its pass (round robin), so every database is served however many there are.
void StartDue(TimestampTz now) {
  int running = 0;
  for (int i = 0; i < kMaxDatabases; i++) running += Live(i);
  const std::vector<Db> dbs = ListDatabases();
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  std::vector<Due> due = CollectDue(dbs, now);
  std::vector<Due> start;
  for (const Due& d : due) {
    if (running + static_cast<int>(start.size()) >= shared->worker_limit) break;
    d.slot->state = SlotState::kStarting;
    d.slot->started_at = d.slot->waiting_since ? d.slot->waiting_since : now;
    d.slot->waiting_since = 0;
    d.slot->recheck = false;
    start.push_back(d);
  }
  bool left_waiting = false;
  for (const auto& s : shared->slots) left_waiting |= s.state == SlotState::kWaiting && s.next_start <= now;
  if (left_waiting)
    for (int i = 0; i < kMaxDatabases; i++)
      if (Live(i) && shared->slots[i].state == SlotState::kRunning && shared->slots[i].latch != nullptr)
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
  shared->worker_limit = WorkerLimit();
  // Slots left by an earlier launcher life: a worker still running is adopted (watched by its pid);
  // a start it registered that has not begun yet is made stale by a new generation (it exits when it
  // begins), so the database is started again here, once.
  int adopted_count = 0;
  for (int i = 0; i < kMaxDatabases; i++) {
    DbSlot& s = shared->slots[i];
    if (s.state == SlotState::kFree) continue;
    if (ProcAlive(s.pid, s.dboid)) {
      adopted[i] = true;
      adopted_count++;
    } else if (s.state == SlotState::kStarting || s.state == SlotState::kRunning || s.state == SlotState::kStandby) {
      s.generation++;
      s.pid = 0;
      s.state = SlotState::kExited;
      s.next_start = 0;
    }
  }
  LWLockRelease(shared->lock);
  before_shmem_exit(ClearLauncher, 0);
  ereport(LOG, (errmsg("strata launcher started"),
                adopted_count ? errdetail("Adopted %d running database workers.", adopted_count) : 0));
  if (shared->worker_limit < config::max_workers)
    ereport(LOG, (errmsg("strata launcher: at most %d database workers at once (strata.max_workers = %d)",
                         shared->worker_limit, config::max_workers),
                  errdetail("strata leaves half of max_worker_processes (%d) to parallel query and logical "
                            "replication; more databases take turns.", max_worker_processes),
                  errhint("Raise max_worker_processes to %d for strata.max_workers to apply.",
                          2 * (config::max_workers + 1))));
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
      if (s.state == SlotState::kFree || Live(i) || s.next_start <= now) continue;
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
  InitDatabaseCommands();
  BackgroundWorker w;
  memset(&w, 0, sizeof w);
  w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  // Also on a hot standby: its workers idle there (strata.workers says standby) and take over at
  // promotion without waiting for a restart.
  w.bgw_start_time = BgWorkerStart_ConsistentState;
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
