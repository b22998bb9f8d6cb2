// The refresh's writer wait: rows below a new watermark are read only once every transaction that could
// still be writing them has ended.
#pragma once

#include <string>

#include "pg/guard.hpp"

namespace strata::rollups {

// Waits by polling (never queueing on a lock) until every transaction holding a lock that conflicts
// with ShareLock on rel or any partition of it has ended; false on timeout. Autovacuum is not waited for.
bool WaitForWriters(Oid rel, int timeout_ms, std::string* waiting_for);

}  // namespace strata::rollups
