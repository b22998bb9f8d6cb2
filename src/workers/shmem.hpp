// Shared state of the launcher and database workers. One slot per database the launcher has seen;
// protected by `lock` except the fields a worker owns while running (written only by that worker).
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
  int failures;              // consecutive failed runs (for the launcher's backoff)
  TimestampTz next_start;    // launcher: not before this
  TimestampTz started_at;
  TimestampTz waiting_since;  // kWaiting: when it joined the queue (the longest waiting is served first)
  bool recheck;               // kNotInstalled: a CREATE EXTENSION committed somewhere, probe it in turn
  Latch* latch;               // worker-owned while running: set by the launcher when a database waits
  TimestampTz last_pass_at;  // worker-owned
  int64 passes;              // worker-owned
  int naptime_ms;            // worker-owned: the naptime in force
  char last_error[256];      // worker-owned
};

struct Shared {
  LWLock* lock;
  pid_t launcher_pid;
  Latch* launcher_latch;
  bool rescan_requested;  // set at the commit of CREATE EXTENSION: probe every database again now
  DbSlot slots[kMaxDatabases];
};

extern Shared* shared;

// The slot of a database, or nullptr; with create, claims a free slot.
DbSlot* FindSlot(Oid dboid, bool create);
// Whether a database other than `self` waits for a worker slot. Caller holds `lock`.
bool OthersWaiting(const DbSlot* self);

}  // namespace strata::workers
