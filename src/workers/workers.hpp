// Background workers: one launcher per cluster, one worker per database with the extension.
// See README.md in this folder for the state machine.
#pragma once

#include "pg/postgres.hpp"

namespace strata::workers {

// Requests shared memory and registers the launcher (only from shared_preload_libraries).
void Init();
// Wakes the launcher when the current transaction commits (CREATE EXTENSION, create_partition_set).
void WakeLauncherAtCommit();
// Installs the utility hook that stops a database's worker for commands that need the database to
// themselves (DROP DATABASE, ALTER DATABASE ... RENAME / SET TABLESPACE, CREATE DATABASE ... TEMPLATE).
void InitDatabaseCommands();
// Whether strata.databases lists the database (empty: every database).
bool Wanted(const char* dbname);

// kWaiting: due for a worker while strata.max_workers are busy; served in the order it began waiting.
// kHeld: stopped while a DROP/ALTER ... RENAME/CREATE ... TEMPLATE of the database runs (not restarted until
// that command's transaction ends). kStandby: a worker on a hot standby, idle until promotion.
enum class SlotState : int {
  kFree = 0, kStarting, kRunning, kNotInstalled, kExited, kFailed, kWaiting, kHeld, kStandby
};
const char* SlotStateName(SlotState s);

}  // namespace strata::workers
