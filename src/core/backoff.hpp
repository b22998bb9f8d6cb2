// Retry pacing, free of Postgres: exponential backoff with a cap and deterministic jitter, used for DDL
// that lost a lock_timeout race and for per-database worker restarts.
#pragma once
#include "core/no_postgres.hpp"

#include <cstdint>

namespace strata::core {

struct Backoff {
  int64_t base_ms = 100;
  int64_t cap_ms = 60000;
  // Delay before retry number `attempt` (1-based): base * 2^(attempt-1), capped, plus up to 25% jitter
  // derived from `seed` so concurrent retriers spread out but tests stay repeatable.
  int64_t DelayMs(int attempt, uint32_t seed) const;
};

// True when a SQLSTATE means "try again later" (lock not available, deadlock, serialization failure,
// query canceled by lock_timeout/statement_timeout).
bool IsRetryableSqlstate(int sqlstate);

}  // namespace strata::core
