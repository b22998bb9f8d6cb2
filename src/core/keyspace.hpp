// Interval math for range partition keys, free of Postgres.
// Terms: a "key" is a partition-key value as int64: microseconds since 2000-01-01 00:00 (Postgres's epoch)
// for timestamptz/timestamp/date keys, the value itself for integer keys. A "step" is the partition
// width: whole months, or a fixed number of microseconds (time) or units (integers). A "range" is a
// half-open [lo, hi) of keys. Time ranges are aligned in UTC (timestamptz) or on the wall clock
// (timestamp, date): months to month starts (and multiples from January), fixed steps to
// multiples from Monday 2000-01-03, so weekly partitions start on Mondays and daily ones at midnight.
#pragma once
#include "core/no_postgres.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace strata::core {

enum class KeyKind { kTimestampTz, kTimestamp, kDate, kInt32, kInt64 };

inline constexpr int64_t kUsecsPerSecond = 1000000;
inline constexpr int64_t kUsecsPerMinute = 60 * kUsecsPerSecond;
inline constexpr int64_t kUsecsPerHour = 60 * kUsecsPerMinute;
inline constexpr int64_t kUsecsPerDay = 24 * kUsecsPerHour;

bool IsTimeKind(KeyKind kind);

struct Step {
  int32_t months = 0;  // calendar months (time kinds only)
  int64_t units = 0;   // microseconds (time kinds) or key units (integer kinds)
  bool operator==(const Step& o) const { return months == o.months && units == o.units; }
};

struct Range {
  int64_t lo = 0;
  int64_t hi = 0;
  bool Overlaps(const Range& o) const { return lo < o.hi && o.lo < hi; }
  bool Contains(int64_t k) const { return lo <= k && k < hi; }
  bool operator==(const Range& o) const { return lo == o.lo && hi == o.hi; }
};

// Builds and validates a step for a key kind from Postgres interval fields (months, days, time in
// microseconds); throws core::Error with a hint when it cannot partition that kind. `param` is the name
// of the argument the step came from ("partition_interval" or "retention"); every message names it.
Step MakeTimeStep(KeyKind kind, int32_t months, int32_t days, int64_t usecs,
                  const std::string& param = "partition_interval");
// Builds and validates an integer step; throws core::Error (naming `param`) when it is not positive.
Step MakeIntStep(KeyKind kind, int64_t units, const std::string& param = "partition_interval");

// Civil date helpers (proleptic Gregorian), exposed for tests.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);  // days since 2000-01-01
void CivilFromDays(int64_t days, int64_t* y, unsigned* m, unsigned* d);

// Start of the aligned range containing key.
int64_t AlignDown(KeyKind kind, const Step& step, int64_t key);
// key advanced (n > 0) or moved back (n < 0) by n steps; throws on overflow of the key's domain.
int64_t AddSteps(KeyKind kind, const Step& step, int64_t key, int64_t n);
// The aligned range containing key.
Range RangeFor(KeyKind kind, const Step& step, int64_t key);

// SQL literal (without quotes) for a key: '2026-11-24 00:00:00+00', '2026-11-24', '42'.
std::string KeyLiteral(KeyKind kind, int64_t key);
// Name suffix for a range starting at lo: p20261124, p202611, p2026, p20261124_0600, p1000, pm1000.
std::string PartitionSuffix(KeyKind kind, const Step& step, int64_t lo);
// Human text of a step ("1 day", "3 mons", "100000"), as stored in the catalog.
std::string StepText(KeyKind kind, const Step& step);

// The smallest and largest key strata will create partitions for (years 1..9999 for time kinds).
int64_t MinKey(KeyKind kind);
int64_t MaxKey(KeyKind kind);

}  // namespace strata::core
