// Shared state of the launcher and database workers. One slot per database the launcher has seen (freed
// when the database is gone; a slot of a database without strata is reused when a new database needs
// one); protected by `lock` except the fields a worker owns while running (written only by that worker).
// A slot is a worker's own while its `generation` is the one the launcher started it with: a worker
// whose slot was restarted, freed or reused exits at its next loop (so there is never a second worker).
// LWLockAcquire/Release and SetLatch are called outside pg::Call: they raise no ERROR short of holding more
// than the fixed number of LWLocks at once, and strata never holds more than this one.
#pragma once

#include "workers/workers.hpp"

namespace strata::workers {

inline constexpr int kMaxDatabases = 256;

struct DbSlot {
  Oid dboid;
  SlotState state;
  pid_t pid;
  uint32 generation;         // launcher: bumped at every start; the worker checks it is still its own
  pid_t held_by;             // a backend running DROP/ALTER ... RENAME/CREATE ... TEMPLATE of this database
  TimestampTz held_until;    // ... whose hold ends then at the latest (ended sooner at its transaction end)
  int failures;              // consecutive failed runs (for the launcher's backoff)
  TimestampTz next_start;    // launcher: not before this
  TimestampTz started_at;
  TimestampTz waiting_since;  // kWaiting: when it joined the queue (the longest waiting is served first)
  bool recheck;               // kNotInstalled: a CREATE EXTENSION committed somewhere, probe it in turn
  bool yielded;               // kWaiting: its worker gave the slot up after a pass (the next one starts quietly)
  Latch* latch;               // worker-owned while running: set by the launcher when a database waits
  TimestampTz last_pass_at;  // worker-owned
  int64 passes;              // worker-owned
  int64 last_pass_us;        // worker-owned: how long the last pass took, its health pass included
  int64 last_health_us;      // worker-owned: how long the last pass's health pass took
  int naptime_ms;            // worker-owned: the naptime in force
  char last_error[256];      // worker-owned
};

struct Shared {
  LWLock* lock;
  pid_t launcher_pid;
  Latch* launcher_latch;
  bool rescan_requested;  // set at the commit of CREATE EXTENSION: probe every database again now
  int worker_limit;       // launcher: database workers at once (strata.max_workers within the share
                          // of max_worker_processes strata may take)
  DbSlot slots[kMaxDatabases];
};

extern Shared* shared;

// The slot of a database, or nullptr; with create, claims a free slot.
DbSlot* FindSlot(Oid dboid, bool create);
// Whether a hold on the slot (see db_commands.cpp) is in force. Caller holds `lock`.
bool Held(const DbSlot& s, TimestampTz now);
// What a worker passes in bgw_extra: its slot and the generation it was started for.
struct WorkerIdentity {
  int slot;
  uint32 generation;
};
// Whether a database other than `self` waits for a worker slot and is due (a database that gave its slot
// up waits until its naptime is over before it is due again). Caller holds `lock`.
bool OthersWaiting(const DbSlot* self, TimestampTz now);

}  // namespace strata::workers
