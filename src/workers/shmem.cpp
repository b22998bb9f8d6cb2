// Shared memory of the workers, the commit-time launcher wake-up and the worker_status() function.
#include "workers/shmem.hpp"

#include "pg/guard.hpp"

namespace strata::workers {

Shared* shared = nullptr;

namespace {

shmem_request_hook_type prev_shmem_request = nullptr;
shmem_startup_hook_type prev_shmem_startup = nullptr;
bool wake_registered = false;
bool wake_pending = false;

void ShmemRequest() {
  if (prev_shmem_request) prev_shmem_request();
  RequestAddinShmemSpace(MAXALIGN(sizeof(Shared)));
  RequestNamedLWLockTranche("strata", 1);
}

void ShmemStartup() {
  if (prev_shmem_startup) prev_shmem_startup();
  bool found;
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  shared = static_cast<Shared*>(ShmemInitStruct("strata", sizeof(Shared), &found));
  if (!found) {
    memset(shared, 0, sizeof(Shared));
    shared->lock = &(GetNamedLWLockTranche("strata"))->lock;
  }
  LWLockRelease(AddinShmemInitLock);
}

void XactCallback(XactEvent event, void*) {
  // Runs at commit/abort: only flags and SetLatch, which cannot fail.
  if (event == XACT_EVENT_COMMIT && wake_pending && shared != nullptr) {
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    shared->rescan_requested = true;
    if (shared->launcher_latch) SetLatch(shared->launcher_latch);
    LWLockRelease(shared->lock);
  }
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT) wake_pending = false;
}

}  // namespace

void InitShmem() {
  prev_shmem_request = shmem_request_hook;
  shmem_request_hook = ShmemRequest;
  prev_shmem_startup = shmem_startup_hook;
  shmem_startup_hook = ShmemStartup;
}

DbSlot* FindSlot(Oid dboid, bool create) {
  DbSlot* free_slot = nullptr;
  for (auto& s : shared->slots) {
    if (s.state != SlotState::kFree && s.dboid == dboid) return &s;
    if (s.state == SlotState::kFree && free_slot == nullptr) free_slot = &s;
  }
  if (create && free_slot) {
    // The generation survives reuse: a stale worker of the slot's previous life never matches again.
    const uint32 generation = free_slot->generation;
    memset(free_slot, 0, sizeof(DbSlot));
    free_slot->generation = generation;
    free_slot->dboid = dboid;
    free_slot->state = SlotState::kExited;
    return free_slot;
  }
  return nullptr;
}

bool Held(const DbSlot& s, TimestampTz now) {
  return s.held_by != 0 && now < s.held_until;
}

bool OthersWaiting(const DbSlot* self, TimestampTz now) {
  for (const auto& s : shared->slots)
    if (s.state == SlotState::kWaiting && &s != self && s.next_start <= now) return true;
  return false;
}

void WakeLauncherAtCommit() {
  if (shared == nullptr) return;
  if (!wake_registered) {
    RegisterXactCallback(XactCallback, nullptr);
    wake_registered = true;
  }
  wake_pending = true;
}

const char* SlotStateName(SlotState s) {
  switch (s) {
    case SlotState::kFree: return "free";
    case SlotState::kStarting: return "starting";
    case SlotState::kRunning: return "running";
    case SlotState::kNotInstalled: return "extension not installed";
    case SlotState::kExited: return "stopped";
    case SlotState::kFailed: return "failed, restarting with backoff";
    case SlotState::kWaiting: return "waiting for a worker slot";
    case SlotState::kHeld: return "paused for a command on the database";
    case SlotState::kStandby: return "standby";
  }
  return "?";
}

}  // namespace strata::workers

using namespace strata;

// strata._wake_launcher(): asks the launcher to look for databases now (after commit).
STRATA_FUNCTION(strata_wake_launcher) {
  workers::WakeLauncherAtCommit();
  PG_RETURN_VOID();
}

// strata.worker_status() and strata._worker_slots(): one row per database the launcher knows; the
// second (behind the strata.workers view) also has waiting_since (0.9.0) and the last pass's durations
// (0.14.0; 10 columns before). One C function serves every width of the declared result.
STRATA_FUNCTION(strata_worker_status) {
  pg::Call([&] {
    InitMaterializedSRF(fcinfo, 0);
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    if (workers::shared == nullptr) return;
    workers::Shared snap;
    LWLockAcquire(workers::shared->lock, LW_SHARED);
    memcpy(&snap, workers::shared, sizeof snap);
    LWLockRelease(workers::shared->lock);
    const int natts = rsinfo->setDesc->natts;
    if (natts != 9 && natts != 10 && natts != 12) elog(ERROR, "worker_status: unexpected result width %d", natts);
    for (const auto& s : snap.slots) {
      if (s.state == workers::SlotState::kFree) continue;
      Datum v[12];
      bool n[12] = {false, false, false, false, false, false, false, false, false, false, false, false};
      char* dbname = get_database_name(s.dboid);
      n[0] = dbname == nullptr;
      v[0] = dbname ? CStringGetTextDatum(dbname) : 0;
      v[1] = Int32GetDatum(s.pid);
      n[1] = s.pid == 0;
      v[2] = CStringGetTextDatum(workers::SlotStateName(s.state));
      v[3] = TimestampTzGetDatum(s.started_at);
      n[3] = s.started_at == 0;
      v[4] = TimestampTzGetDatum(s.last_pass_at);
      n[4] = s.last_pass_at == 0;
      v[5] = Int64GetDatum(s.passes);
      v[6] = Int32GetDatum(s.naptime_ms);
      n[6] = s.naptime_ms == 0;
      v[7] = Int32GetDatum(s.failures);
      v[8] = CStringGetTextDatum(s.last_error);
      n[8] = s.last_error[0] == '\0';
      v[9] = TimestampTzGetDatum(s.waiting_since);
      n[9] = s.state != workers::SlotState::kWaiting || s.waiting_since == 0;
      v[10] = Float8GetDatum(double(s.last_pass_us) / 1000.0);
      n[10] = s.last_pass_at == 0;
      v[11] = Float8GetDatum(double(s.last_health_us) / 1000.0);
      n[11] = s.last_pass_at == 0;
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
    }
  });
  return (Datum) 0;
}
