// Background workers: one launcher per cluster, one worker per database with the extension.
// See README.md in this folder for the state machine.
#pragma once

#include "pg/postgres.hpp"

namespace strata::workers {

// Requests shared memory and registers the launcher (only from shared_preload_libraries).
void Init();
// Wakes the launcher when the current transaction commits (CREATE EXTENSION, create_partition_set).
void WakeLauncherAtCommit();

// kWaiting: due for a worker while strata.max_workers are busy; served in the order it began waiting.
enum class SlotState : int { kFree = 0, kStarting, kRunning, kNotInstalled, kExited, kFailed, kWaiting };
const char* SlotStateName(SlotState s);

}  // namespace strata::workers
