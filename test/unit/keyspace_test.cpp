// Unit tests of interval math: alignment, calendar steps, literals and names.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/keyspace.hpp"

using namespace strata::core;

namespace {
int64_t Ts(int64_t y, unsigned m, unsigned d, int64_t h = 0, int64_t mi = 0) {
  return DaysFromCivil(y, m, d) * kUsecsPerDay + h * kUsecsPerHour + mi * kUsecsPerMinute;
}
}  // namespace

TEST(Keyspace, CivilRoundTripAcrossEras) {
  EXPECT_EQ(DaysFromCivil(2000, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), -10957);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 60);  // 2000 is a leap year
  for (int64_t days = -800000; days < 3000000; days += 997) {
    int64_t y;
    unsigned m, d;
    CivilFromDays(days, &y, &m, &d);
    ASSERT_EQ(DaysFromCivil(y, m, d), days);
  }
}

TEST(Keyspace, DailyAlignsToMidnightUtc) {
  const Step day = MakeTimeStep(KeyKind::kTimestampTz, 0, 1, 0);
  const Range r = RangeFor(KeyKind::kTimestampTz, day, Ts(2026, 11, 24, 13, 37));
  EXPECT_EQ(r.lo, Ts(2026, 11, 24));
  EXPECT_EQ(r.hi, Ts(2026, 11, 25));
  EXPECT_EQ(KeyLiteral(KeyKind::kTimestampTz, r.lo), "2026-11-24 00:00:00+00");
  EXPECT_EQ(PartitionSuffix(KeyKind::kTimestampTz, day, r.lo), "p20261124");
}

TEST(Keyspace, WeeklyStartsOnMonday) {
  const Step week = MakeTimeStep(KeyKind::kDate, 0, 7, 0);
  const Range r = RangeFor(KeyKind::kDate, week, Ts(2026, 11, 26));  // a Thursday
  EXPECT_EQ(r.lo, Ts(2026, 11, 23));                                 // Monday
  EXPECT_EQ(KeyLiteral(KeyKind::kDate, r.lo), "2026-11-23");
  // Keys before the origin align the same way.
  EXPECT_EQ(RangeFor(KeyKind::kDate, week, Ts(1999, 12, 30)).lo, Ts(1999, 12, 27));
}

TEST(Keyspace, HourlyAndSubHourNames) {
  const Step hour = MakeTimeStep(KeyKind::kTimestamp, 0, 0, kUsecsPerHour);
  const Range r = RangeFor(KeyKind::kTimestamp, hour, Ts(2026, 1, 2, 6, 59));
  EXPECT_EQ(r.lo, Ts(2026, 1, 2, 6));
  EXPECT_EQ(PartitionSuffix(KeyKind::kTimestamp, hour, r.lo), "p20260102_0600");
  EXPECT_EQ(KeyLiteral(KeyKind::kTimestamp, r.hi), "2026-01-02 07:00:00");
  const Step q = MakeTimeStep(KeyKind::kTimestamp, 0, 0, 15 * kUsecsPerMinute);
  EXPECT_EQ(RangeFor(KeyKind::kTimestamp, q, Ts(2026, 1, 2, 6, 44)).lo, Ts(2026, 1, 2, 6, 30));
}

TEST(Keyspace, MonthlyQuarterlyYearly) {
  const Step month = MakeTimeStep(KeyKind::kTimestampTz, 1, 0, 0);
  Range r = RangeFor(KeyKind::kTimestampTz, month, Ts(2024, 2, 29, 23));
  EXPECT_EQ(r.lo, Ts(2024, 2, 1));
  EXPECT_EQ(r.hi, Ts(2024, 3, 1));
  EXPECT_EQ(PartitionSuffix(KeyKind::kTimestampTz, month, r.lo), "p202402");
  const Step quarter = MakeTimeStep(KeyKind::kTimestampTz, 3, 0, 0);
  r = RangeFor(KeyKind::kTimestampTz, quarter, Ts(2026, 11, 24));
  EXPECT_EQ(r.lo, Ts(2026, 10, 1));
  EXPECT_EQ(r.hi, Ts(2027, 1, 1));
  const Step year = MakeTimeStep(KeyKind::kDate, 12, 0, 0);
  r = RangeFor(KeyKind::kDate, year, Ts(2026, 11, 24));
  EXPECT_EQ(r.lo, Ts(2026, 1, 1));
  EXPECT_EQ(PartitionSuffix(KeyKind::kDate, year, r.lo), "p2026");
  EXPECT_EQ(StepText(KeyKind::kDate, year), "1 year");
}

TEST(Keyspace, CalendarSubtractionClampsDay) {
  const Step month = MakeTimeStep(KeyKind::kTimestampTz, 1, 0, 0);
  EXPECT_EQ(AddSteps(KeyKind::kTimestampTz, month, Ts(2026, 3, 31, 5), -1), Ts(2026, 2, 28, 5));
  EXPECT_EQ(AddSteps(KeyKind::kTimestampTz, month, Ts(2024, 3, 31), -1), Ts(2024, 2, 29));
  EXPECT_EQ(AddSteps(KeyKind::kTimestampTz, month, Ts(2026, 1, 31), 13), Ts(2027, 2, 28));
}

TEST(Keyspace, IntegerRangesIncludingNegatives) {
  const Step s = MakeIntStep(KeyKind::kInt64, 1000);
  EXPECT_EQ(RangeFor(KeyKind::kInt64, s, 1999).lo, 1000);
  EXPECT_EQ(RangeFor(KeyKind::kInt64, s, -1).lo, -1000);
  EXPECT_EQ(RangeFor(KeyKind::kInt64, s, -1000).lo, -1000);
  EXPECT_EQ(PartitionSuffix(KeyKind::kInt64, s, -1000), "pm1000");
  EXPECT_EQ(PartitionSuffix(KeyKind::kInt64, s, 5000), "p5000");
  EXPECT_EQ(KeyLiteral(KeyKind::kInt64, -42), "-42");
}

TEST(Keyspace, OverflowIsAnErrorNotWraparound) {
  const Step s = MakeIntStep(KeyKind::kInt32, 1000000000);
  EXPECT_THROW(AddSteps(KeyKind::kInt32, s, 2000000000, 1), Error);
  const Step big = MakeIntStep(KeyKind::kInt64, INT64_MAX / 2);
  EXPECT_THROW(AddSteps(KeyKind::kInt64, big, INT64_MAX - 5, 1), Error);
  const Step day = MakeTimeStep(KeyKind::kTimestampTz, 0, 1, 0);
  EXPECT_THROW(AddSteps(KeyKind::kTimestampTz, day, Ts(9999, 12, 31), 2), Error);
}

TEST(Keyspace, InvalidStepsAreRefusedWithCodes) {
  auto code_of = [](auto fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.sqlstate();
    }
    return 0;
  };
  const int invalid = sqlstate::kInvalidParameterValue;
  EXPECT_EQ(code_of([] { MakeTimeStep(KeyKind::kTimestampTz, 0, 0, 0); }), invalid);
  EXPECT_EQ(code_of([] { MakeTimeStep(KeyKind::kTimestampTz, 0, -1, 0); }), invalid);
  EXPECT_EQ(code_of([] { MakeTimeStep(KeyKind::kTimestampTz, 1, 2, 0); }), invalid);
  EXPECT_EQ(code_of([] { MakeTimeStep(KeyKind::kDate, 0, 0, kUsecsPerHour); }), invalid);
  EXPECT_EQ(code_of([] { MakeTimeStep(KeyKind::kTimestamp, 0, 0, kUsecsPerSecond); }), invalid);
  EXPECT_EQ(code_of([] { MakeTimeStep(KeyKind::kInt64, 0, 1, 0); }), invalid);
  EXPECT_EQ(code_of([] { MakeIntStep(KeyKind::kInt64, 0); }), invalid);
  EXPECT_EQ(code_of([] { MakeIntStep(KeyKind::kInt64, -5); }), invalid);
  EXPECT_EQ(code_of([] { MakeIntStep(KeyKind::kDate, 5); }), invalid);
  EXPECT_EQ(code_of([] { MakeIntStep(KeyKind::kInt32, int64_t(1) << 40); }), invalid);
}
