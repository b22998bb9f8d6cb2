// Retry pacing; see backoff.hpp.
#include "core/backoff.hpp"

#include "core/error.hpp"

namespace strata::core {

int64_t Backoff::DelayMs(int attempt, uint32_t seed) const {
  if (attempt < 1) attempt = 1;
  int64_t d = base_ms;
  for (int i = 1; i < attempt && d < cap_ms; i++) d *= 2;
  if (d > cap_ms) d = cap_ms;
  // xorshift of the seed and attempt: cheap, deterministic spread.
  uint32_t x = seed ^ (0x9E3779B9u * static_cast<uint32_t>(attempt));
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return d + static_cast<int64_t>(x % static_cast<uint32_t>(d / 4 + 1));
}

bool IsRetryableSqlstate(int s) {
  return s == MakeSqlstate("55P03")     // lock_not_available (lock_timeout, NOWAIT)
         || s == MakeSqlstate("40P01")  // deadlock_detected
         || s == MakeSqlstate("40001")  // serialization_failure
         || s == MakeSqlstate("57014"); // query_canceled (statement_timeout)
}

}  // namespace strata::core
