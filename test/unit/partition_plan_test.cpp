// Unit tests of the partition-maintenance policy.
#include <gtest/gtest.h>

#include "core/backoff.hpp"
#include "core/error.hpp"
#include "core/partition_plan.hpp"

using namespace strata::core;

namespace {
int64_t Day(int64_t y, unsigned m, unsigned d) { return DaysFromCivil(y, m, d) * kUsecsPerDay; }

SetSpec DailySpec() {
  SetSpec s;
  s.schema = "public";
  s.parent = "events";
  s.kind = KeyKind::kTimestampTz;
  s.step = MakeTimeStep(s.kind, 0, 1, 0);
  s.premake = 4;
  return s;
}

// Applies a plan's actions to the state, as the glue would if every action succeeded.
void Apply(const Plan& plan, SetState* st) {
  for (const auto& a : plan.actions) {
    if (a.kind == ActionKind::kCreate) st->partitions.push_back({0, a.schema, a.name, a.range, false});
    if (a.kind == ActionKind::kDetach || a.kind == ActionKind::kFinalizeDetach)
      for (auto it = st->partitions.begin(); it != st->partitions.end(); ++it)
        if (it->name == a.name) {
          st->partitions.erase(it);
          break;
        }
  }
}

size_t Count(const Plan& p, ActionKind k) {
  size_t n = 0;
  for (const auto& a : p.actions) n += a.kind == k;
  return n;
}
}  // namespace

TEST(PartitionPlan, FreshSetGetsCurrentPlusPremake) {
  SetState st;
  st.reference = Day(2026, 11, 24) + 5 * kUsecsPerHour;
  const Plan p = PlanMaintenance(DailySpec(), st);
  ASSERT_EQ(Count(p, ActionKind::kCreate), 5u);
  EXPECT_EQ(p.actions.front().name, "events_p20261124");
  EXPECT_EQ(p.actions.back().name, "events_p20261128");
  EXPECT_EQ(p.actions.back().range.hi, Day(2026, 11, 29));
}

TEST(PartitionPlan, IdleWhenEverythingExists) {
  SetState st;
  st.reference = Day(2026, 11, 24);
  Apply(PlanMaintenance(DailySpec(), st), &st);
  EXPECT_TRUE(PlanMaintenance(DailySpec(), st).actions.empty());
  st.reference = Day(2026, 11, 25) + 1;  // one day later: exactly one partition is due
  const Plan p = PlanMaintenance(DailySpec(), st);
  ASSERT_EQ(p.actions.size(), 1u);
  EXPECT_EQ(p.actions[0].name, "events_p20261129");
}

TEST(PartitionPlan, MisalignedExistingPartitionIsNeverOverlapped) {
  SetState st;
  st.reference = Day(2026, 11, 24);
  st.partitions.push_back({0, "public", "legacy", Range{Day(2026, 11, 25) + kUsecsPerHour, Day(2026, 11, 27)}, false});
  const Plan p = PlanMaintenance(DailySpec(), st);
  for (const auto& a : p.actions) EXPECT_FALSE(a.range.Overlaps(st.partitions[0].range)) << a.name;
  EXPECT_EQ(Count(p, ActionKind::kCreate), 3u);  // 24th, 27th, 28th
}

TEST(PartitionPlan, RetentionDetachesOldestFirstAndNeverThePresent) {
  SetSpec spec = DailySpec();
  spec.retention = MakeTimeStep(spec.kind, 0, 3, 0);
  SetState st;
  for (int d = 1; d <= 10; d++) st.partitions.push_back({0, "public", "d" + std::to_string(d), Range{Day(2026, 11, d), Day(2026, 11, d + 1)}, false});
  st.reference = Day(2026, 11, 10) + kUsecsPerHour;
  const Plan p = PlanMaintenance(spec, st);
  std::vector<std::string> detached;
  for (const auto& a : p.actions)
    if (a.kind == ActionKind::kDetach) {
      detached.push_back(a.name);
      EXPECT_TRUE(a.drop);
      EXPECT_LE(a.range.hi, *p.retention_cutoff);
    }
  // cutoff = Nov 7 01:00: partitions ending at or before it are Nov 1..Nov 6.
  EXPECT_EQ(detached, (std::vector<std::string>{"d1", "d2", "d3", "d4", "d5", "d6"}));
  spec.keep_detached = true;
  for (const auto& a : PlanMaintenance(spec, st).actions)
    if (a.kind == ActionKind::kDetach) {
      EXPECT_FALSE(a.drop);
    }
}

TEST(PartitionPlan, PendingDetachIsFinalizedFirst) {
  SetState st;
  st.reference = Day(2026, 11, 24);
  Apply(PlanMaintenance(DailySpec(), st), &st);
  st.partitions[0].detach_pending = true;
  const Plan p = PlanMaintenance(DailySpec(), st);
  ASSERT_FALSE(p.actions.empty());
  EXPECT_EQ(p.actions[0].kind, ActionKind::kFinalizeDetach);
  EXPECT_EQ(p.actions[0].name, st.partitions[0].name);
}

TEST(PartitionPlan, IntegerSetFollowsItsData) {
  SetSpec spec = DailySpec();
  spec.kind = KeyKind::kInt64;
  spec.step = MakeIntStep(spec.kind, 1000);
  spec.premake = 2;
  SetState st;  // no rows yet: ranges start at zero
  Plan p = PlanMaintenance(spec, st);
  ASSERT_EQ(Count(p, ActionKind::kCreate), 3u);
  EXPECT_EQ(p.actions[0].name, "events_p0");
  Apply(p, &st);
  st.reference = 1500;  // data reached the second partition: one more is due
  p = PlanMaintenance(spec, st);
  ASSERT_EQ(Count(p, ActionKind::kCreate), 1u);
  EXPECT_EQ(p.actions[0].name, "events_p3000");
}

TEST(PartitionPlan, FarFutureKeysStayInDefaultInsteadOfCreatingThousands) {
  SetSpec spec = DailySpec();
  spec.default_partition = true;
  spec.retention = MakeTimeStep(spec.kind, 1, 0, 0);
  SetState st;
  st.reference = Day(2026, 11, 24);
  Apply(PlanMaintenance(spec, st), &st);
  EXPECT_EQ(DecideDefaultKey(spec, st, Day(2126, 1, 1)).verdict, DefaultVerdict::kBeyondHorizon);
  EXPECT_EQ(DecideDefaultKey(spec, st, Day(2026, 11, 29)).verdict, DefaultVerdict::kBeyondHorizon);
  EXPECT_EQ(DecideDefaultKey(spec, st, Day(2020, 1, 1)).verdict, DefaultVerdict::kBeforeRetention);
  const DefaultDecision late = DecideDefaultKey(spec, st, Day(2026, 11, 3) + 7);
  EXPECT_EQ(late.verdict, DefaultVerdict::kMove);
  EXPECT_EQ(late.name, "events_p20261103");
  EXPECT_EQ(late.range.lo, Day(2026, 11, 3));
  // A key inside an existing partition's range cannot be in the default; misaligned ones are reported.
  st.partitions.push_back({0, "public", "odd", Range{Day(2026, 11, 10) + 1, Day(2026, 11, 10) + 2}, false});
  EXPECT_EQ(DecideDefaultKey(spec, st, Day(2026, 11, 10)).verdict, DefaultVerdict::kOverlapsPartition);
}

TEST(PartitionPlan, IntegerHorizonCountsFromTheNewestPartition) {
  SetSpec spec = DailySpec();
  spec.kind = KeyKind::kInt32;
  spec.step = MakeIntStep(spec.kind, 100);
  spec.premake = 1;
  spec.default_partition = true;
  SetState st;
  st.reference = 150;
  Apply(PlanMaintenance(spec, st), &st);  // p0..p200 (p100 holds the data, p200 ahead)
  EXPECT_EQ(DecideDefaultKey(spec, st, 350).verdict, DefaultVerdict::kMove);
  EXPECT_EQ(DecideDefaultKey(spec, st, 350).name, "events_p300");
  EXPECT_EQ(DecideDefaultKey(spec, st, 400).verdict, DefaultVerdict::kBeyondHorizon);
  EXPECT_EQ(DecideDefaultKey(spec, st, 2000000000).verdict, DefaultVerdict::kBeyondHorizon);
}

TEST(PartitionPlan, SimulatedMonthsNeverLeaveAGapAndRespectRetention) {
  SetSpec spec = DailySpec();
  spec.retention = MakeTimeStep(spec.kind, 0, 30, 0);
  SetState st;
  int64_t t = Day(2026, 1, 1);
  size_t max_parts = 0;
  for (int hour = 0; hour < 24 * 200; hour++, t += kUsecsPerHour) {
    st.reference = t;
    Apply(PlanMaintenance(spec, st), &st);
    max_parts = std::max(max_parts, st.partitions.size());
    // The current key and the next premake days are always covered.
    for (int k = 0; k <= spec.premake; k++) {
      const int64_t key = t + k * kUsecsPerDay;
      bool covered = false;
      for (const auto& p : st.partitions) covered |= p.range.Contains(key);
      ASSERT_TRUE(covered) << "hour " << hour << " day +" << k;
    }
  }
  EXPECT_LE(max_parts, 30u + 1 + 4 + 1);
}

TEST(Backoff, GrowsCapsAndJittersDeterministically) {
  Backoff b{100, 1000};
  EXPECT_GE(b.DelayMs(1, 7), 100);
  EXPECT_LE(b.DelayMs(1, 7), 125);
  EXPECT_GE(b.DelayMs(3, 7), 400);
  EXPECT_LE(b.DelayMs(10, 7), 1250);
  EXPECT_EQ(b.DelayMs(4, 99), b.DelayMs(4, 99));
  EXPECT_TRUE(IsRetryableSqlstate(MakeSqlstate("55P03")));
  EXPECT_FALSE(IsRetryableSqlstate(MakeSqlstate("42501")));
}

TEST(ErrorGuard, ClassifiesExceptions) {
  auto describe = [](auto thrower) {
    try {
      thrower();
    } catch (...) {
      return DescribeCurrentException();
    }
    return ErrorInfo{};
  };
  ErrorInfo e = describe([] { throw Error(sqlstate::kInvalidParameterValue, "bad", "d", "h"); });
  EXPECT_EQ(e.sqlstate, sqlstate::kInvalidParameterValue);
  EXPECT_EQ(e.message, "bad");
  EXPECT_EQ(e.detail, "d");
  EXPECT_EQ(e.hint, "h");
  e = describe([] { throw std::bad_alloc(); });
  EXPECT_EQ(e.sqlstate, sqlstate::kOutOfMemory);
  e = describe([] { throw std::runtime_error("boom"); });
  EXPECT_EQ(e.sqlstate, sqlstate::kInternalError);
  EXPECT_NE(e.message.find("boom"), std::string::npos);
  e = describe([] { throw 42; });
  EXPECT_EQ(e.sqlstate, sqlstate::kInternalError);
  EXPECT_FALSE(e.message.empty());
  EXPECT_EQ(MakeSqlstate("22023"), 0x2 | (0x2 << 6) | (0x0 << 12) | (0x2 << 18) | (0x3 << 24));
}
