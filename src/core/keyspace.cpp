// Interval math for range partition keys; see keyspace.hpp for the terms.
#include "core/keyspace.hpp"

#include <cinttypes>
#include <cstdio>
#include <limits>

#include "core/error.hpp"

namespace strata::core {
namespace {

// Monday 2000-01-03, the origin of fixed-width time steps.
constexpr int64_t kFixedOrigin = 2 * kUsecsPerDay;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

// Month index (years*12 + month-1) of the civil date of a time key.
int64_t MonthIndex(int64_t key) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(FloorDiv(key, kUsecsPerDay), &y, &m, &d);
  return y * 12 + (m - 1);
}

int64_t KeyFromMonthIndex(int64_t idx) {
  int64_t y = FloorDiv(idx, 12);
  unsigned m = static_cast<unsigned>(idx - y * 12) + 1;
  return DaysFromCivil(y, m, 1) * kUsecsPerDay;
}

[[noreturn]] void OutOfRange(KeyKind kind) {
  throw Error(IsTimeKind(kind) ? sqlstate::kDatetimeFieldOverflow : sqlstate::kNumericValueOutOfRange,
              "partition bound out of range",
              IsTimeKind(kind) ? "strata creates time partitions for years 1 to 9999 only."
                               : "The bound does not fit the key column's type.");
}

}  // namespace

bool IsTimeKind(KeyKind kind) {
  return kind == KeyKind::kTimestampTz || kind == KeyKind::kTimestamp || kind == KeyKind::kDate;
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's days_from_civil, shifted from 1970-01-01 to 2000-01-01 (10957 days).
  y -= m <= 2;
  const int64_t era = FloorDiv(y, 400);
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468 - 10957;
}

void CivilFromDays(int64_t days, int64_t* y, unsigned* m, unsigned* d) {
  int64_t z = days + 10957 + 719468;
  const int64_t era = FloorDiv(z, 146097);
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

namespace {
// The hint for a step that is not positive: what the argument means, with an example of its kind.
std::string PositiveHint(const std::string& param, bool time) {
  if (param == "retention")
    return time ? "retention is how far behind now partitions are kept, for example '90 days'."
                : "retention is how far below the largest key partitions are kept, for example 1000000.";
  return time ? "Use an interval such as '1 day', '1 hour' or '1 month'."
              : "Give the number of key values per partition, for example 100000.";
}
}  // namespace

Step MakeTimeStep(KeyKind kind, int32_t months, int32_t days, int64_t usecs, const std::string& param) {
  if (!IsTimeKind(kind))
    throw Error(sqlstate::kInvalidParameterValue, param + " of an integer column must be a number, not an interval",
                {}, param == "retention" ? "Give retention as a number of key values, for example 1000000."
                                          : "Give the partition width as a number, for example 100000.");
  if (months < 0 || days < 0 || usecs < 0 || (months == 0 && days == 0 && usecs == 0))
    throw Error(sqlstate::kInvalidParameterValue, param + " must be greater than zero", {}, PositiveHint(param, true));
  if (months > 0 && (days > 0 || usecs > 0))
    throw Error(sqlstate::kInvalidParameterValue, param + " must be whole months or a fixed length, not both",
                {}, "Use for example '1 month' or '30 days', not '1 month 2 days'.");
  Step s;
  if (months > 0) {
    if (months > 12 * 100)
      throw Error(sqlstate::kInvalidParameterValue, param + " is too long", {}, "Use at most 100 years.");
    s.months = months;
    return s;
  }
  if (usecs > std::numeric_limits<int64_t>::max() - int64_t(days) * kUsecsPerDay) OutOfRange(kind);
  s.units = int64_t(days) * kUsecsPerDay + usecs;
  if (kind == KeyKind::kDate && s.units % kUsecsPerDay != 0)
    throw Error(sqlstate::kInvalidParameterValue, param + " of a date column must be whole days or months", {},
                "Use for example '1 day', '7 days' or '1 month'.");
  if (s.units < kUsecsPerMinute)
    throw Error(sqlstate::kInvalidParameterValue, param + " must be at least one minute", {},
                param == "retention" ? "Keep partitions for minutes, days or months, for example '90 days'."
                                     : "Partitions narrower than a minute would create far too many tables.");
  if (s.units > 100 * 366 * kUsecsPerDay)
    throw Error(sqlstate::kInvalidParameterValue, param + " is too long", {}, "Use at most 100 years.");
  return s;
}

Step MakeIntStep(KeyKind kind, int64_t units, const std::string& param) {
  if (IsTimeKind(kind))
    throw Error(sqlstate::kInvalidParameterValue, param + " of a time column must be an interval, not a number", {},
                param == "retention" ? "Give retention as an interval, for example '90 days'."
                                     : "Give the partition width as an interval, for example '1 day'.");
  if (units <= 0)
    throw Error(sqlstate::kInvalidParameterValue, param + " must be greater than zero", {}, PositiveHint(param, false));
  if (kind == KeyKind::kInt32 && units > std::numeric_limits<int32_t>::max())
    throw Error(sqlstate::kInvalidParameterValue, param + " is too large for an integer column");
  Step s;
  s.units = units;
  return s;
}

int64_t MinKey(KeyKind kind) {
  switch (kind) {
    case KeyKind::kInt32: return std::numeric_limits<int32_t>::min();
    case KeyKind::kInt64: return std::numeric_limits<int64_t>::min();
    default: return DaysFromCivil(1, 1, 1) * kUsecsPerDay;
  }
}

int64_t MaxKey(KeyKind kind) {
  switch (kind) {
    case KeyKind::kInt32: return std::numeric_limits<int32_t>::max();
    case KeyKind::kInt64: return std::numeric_limits<int64_t>::max();
    default: return DaysFromCivil(10000, 1, 1) * kUsecsPerDay;
  }
}

int64_t AlignDown(KeyKind kind, const Step& step, int64_t key) {
  if (step.months > 0) return KeyFromMonthIndex(FloorDiv(MonthIndex(key), step.months) * step.months);
  if (IsTimeKind(kind)) return kFixedOrigin + FloorDiv(key - kFixedOrigin, step.units) * step.units;
  // Integer keys: FloorDiv(key, units) * units cannot overflow for |result| <= |key| except near
  // INT64_MIN, where the product may fall below the domain.
  const int64_t q = FloorDiv(key, step.units);
  if (q < std::numeric_limits<int64_t>::min() / step.units) OutOfRange(kind);
  return q * step.units;
}

int64_t AddSteps(KeyKind kind, const Step& step, int64_t key, int64_t n) {
  int64_t out;
  if (step.months > 0) {
    // Calendar arithmetic like Postgres's timestamp + interval: the day of month is clamped to the
    // length of the target month (Mar 31 - 1 month = Feb 28/29), the time of day kept.
    if (n > 12 * 20000 || n < -12 * 20000) OutOfRange(kind);
    const int64_t days = FloorDiv(key, kUsecsPerDay);
    const int64_t tod = key - days * kUsecsPerDay;
    int64_t y;
    unsigned m, d;
    CivilFromDays(days, &y, &m, &d);
    const int64_t idx = y * 12 + (m - 1) + n * step.months;
    const int64_t ny = FloorDiv(idx, 12);
    const unsigned nm = static_cast<unsigned>(idx - ny * 12) + 1;
    const int64_t first = DaysFromCivil(ny, nm, 1);
    const int64_t next_first = nm == 12 ? DaysFromCivil(ny + 1, 1, 1) : DaysFromCivil(ny, nm + 1, 1);
    const unsigned dim = static_cast<unsigned>(next_first - first);
    out = (first + (d < dim ? d : dim) - 1) * kUsecsPerDay + tod;
  } else {
    int64_t delta;
    if (__builtin_mul_overflow(step.units, n, &delta) || __builtin_add_overflow(key, delta, &out))
      OutOfRange(kind);
  }
  if (out < MinKey(kind) || out > MaxKey(kind)) OutOfRange(kind);
  return out;
}

Range RangeFor(KeyKind kind, const Step& step, int64_t key) {
  const int64_t lo = AlignDown(kind, step, key);
  if (lo < MinKey(kind)) OutOfRange(kind);
  return Range{lo, AddSteps(kind, step, lo, 1)};
}

std::string KeyLiteral(KeyKind kind, int64_t key) {
  char buf[64];
  if (!IsTimeKind(kind)) {
    std::snprintf(buf, sizeof buf, "%" PRId64, key);
    return buf;
  }
  if (key < MinKey(kind) || key > MaxKey(kind)) OutOfRange(kind);
  const int64_t days = FloorDiv(key, kUsecsPerDay);
  int64_t usec = key - days * kUsecsPerDay;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  if (kind == KeyKind::kDate) {
    std::snprintf(buf, sizeof buf, "%04" PRId64 "-%02u-%02u", y, m, d);
    return buf;
  }
  const int64_t hh = usec / kUsecsPerHour, mi = usec / kUsecsPerMinute % 60,
                ss = usec / kUsecsPerSecond % 60, frac = usec % kUsecsPerSecond;
  int n = std::snprintf(buf, sizeof buf, "%04" PRId64 "-%02u-%02u %02" PRId64 ":%02" PRId64 ":%02" PRId64,
                        y, m, d, hh, mi, ss);
  if (frac != 0) n += std::snprintf(buf + n, sizeof buf - n, ".%06" PRId64, frac);
  if (kind == KeyKind::kTimestampTz) std::snprintf(buf + n, sizeof buf - n, "+00");
  return buf;
}

std::string PartitionSuffix(KeyKind kind, const Step& step, int64_t lo) {
  char buf[64];
  if (!IsTimeKind(kind)) {
    if (lo < 0)
      std::snprintf(buf, sizeof buf, "pm%" PRIu64, static_cast<uint64_t>(0) - static_cast<uint64_t>(lo));
    else
      std::snprintf(buf, sizeof buf, "p%" PRId64, lo);
    return buf;
  }
  const int64_t days = FloorDiv(lo, kUsecsPerDay);
  const int64_t usec = lo - days * kUsecsPerDay;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  if (step.months > 0 && step.months % 12 == 0 && m == 1)
    std::snprintf(buf, sizeof buf, "p%04" PRId64, y);
  else if (step.months > 0)
    std::snprintf(buf, sizeof buf, "p%04" PRId64 "%02u", y, m);
  else if (step.units % kUsecsPerDay == 0 && usec == 0)
    std::snprintf(buf, sizeof buf, "p%04" PRId64 "%02u%02u", y, m, d);
  else if (step.units % kUsecsPerMinute == 0 && usec % kUsecsPerMinute == 0)
    std::snprintf(buf, sizeof buf, "p%04" PRId64 "%02u%02u_%02" PRId64 "%02" PRId64, y, m, d,
                  usec / kUsecsPerHour, usec / kUsecsPerMinute % 60);
  else
    std::snprintf(buf, sizeof buf, "p%04" PRId64 "%02u%02u_%02" PRId64 "%02" PRId64 "%02" PRId64, y, m,
                  d, usec / kUsecsPerHour, usec / kUsecsPerMinute % 60, usec / kUsecsPerSecond % 60);
  return buf;
}

std::string StepText(KeyKind kind, const Step& step) {
  char buf[64];
  if (!IsTimeKind(kind)) {
    std::snprintf(buf, sizeof buf, "%" PRId64, step.units);
  } else if (step.months > 0) {
    if (step.months % 12 == 0)
      std::snprintf(buf, sizeof buf, "%d year%s", step.months / 12, step.months == 12 ? "" : "s");
    else
      std::snprintf(buf, sizeof buf, "%d mon%s", step.months, step.months == 1 ? "" : "s");
  } else if (step.units % kUsecsPerDay == 0) {
    const int64_t n = step.units / kUsecsPerDay;
    std::snprintf(buf, sizeof buf, "%" PRId64 " day%s", n, n == 1 ? "" : "s");
  } else if (step.units % kUsecsPerHour == 0) {
    const int64_t n = step.units / kUsecsPerHour;
    std::snprintf(buf, sizeof buf, "%" PRId64 " hour%s", n, n == 1 ? "" : "s");
  } else if (step.units % kUsecsPerMinute == 0) {
    const int64_t n = step.units / kUsecsPerMinute;
    std::snprintf(buf, sizeof buf, "%" PRId64 " min%s", n, n == 1 ? "" : "s");
  } else {
    std::snprintf(buf, sizeof buf, "%" PRId64 " microseconds", step.units);
  }
  return buf;
}

}  // namespace strata::core
