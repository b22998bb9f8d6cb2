// Unit tests of the vacuum-scheduling policy, and a simulation of months of daily partitions aging
// under insert load, with and without the scheduler, over a model of Postgres 15's autovacuum.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "core/error.hpp"
#include "core/vacuum_policy.hpp"

using namespace strata::core::vacuum;
using strata::core::Error;

namespace {

TableFacts Leaf(uint32_t id, int64_t xid_age, double since_write = 0) {
  TableFacts f;
  f.relid = id;
  f.name = "p" + std::to_string(id);
  f.pages = 1000;
  f.live_tuples = 100000;
  f.xid_age = xid_age;
  f.changes = 100000;
  f.seconds_since_write = since_write;
  f.seconds_since_analyze = 1e6;
  f.insert_reloption = true;  // handed over already (HandoverOfInsertVacuums covers the handover)
  return f;
}

TableFacts Parent(uint32_t id) {
  TableFacts f;
  f.relid = id;
  f.name = "parent" + std::to_string(id);
  f.is_parent = true;
  f.live_tuples = 1e6;
  f.changes = 1e6;
  return f;
}

Config Cfg() {
  Config c;
  c.max_actions = 100;
  return c;
}

}  // namespace

TEST(VacuumPolicy, UrgentFirstOldestFirst) {
  Config c = Cfg();
  std::vector<TableFacts> f{Leaf(1, 170000000), Leaf(2, 190000000), Leaf(3, 10000000, 7200), Parent(9)};
  const auto plan = PlanVacuum(f, c);
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0].relid, 2u);
  EXPECT_EQ(plan[0].kind, ActionKind::kUrgentVacuum);
  EXPECT_EQ(plan[1].relid, 1u);
  EXPECT_EQ(plan[2].kind, ActionKind::kAnalyzeParent);
  EXPECT_NE(plan[2].reason.find("never been analyzed"), std::string::npos);
  EXPECT_EQ(plan[3].kind, ActionKind::kFreezeCold);
}

TEST(VacuumPolicy, UrgentRevisitOfUnchangedFrozenLeafSkipsIndexes) {
  Config c = Cfg();
  TableFacts f = Leaf(1, 170000000, 90000);
  auto plan = PlanVacuum({f}, c);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].index_cleanup, IndexCleanup::kAuto);
  f.changes_at_freeze = f.changes;
  // Unchanged and all-frozen: the cheap revisit waits until halfway to autovacuum's limit (0.9).
  EXPECT_TRUE(PlanVacuum({f}, c).empty());
  f.xid_age = 181000000;
  plan = PlanVacuum({f}, c);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].index_cleanup, IndexCleanup::kOff);
  EXPECT_NE(plan[0].reason.find("no index cleanup"), std::string::npos);
}

// A rollup table: only its dead index entries count (a plain one is autovacuum's for everything else),
// from max(min, fraction x rows) on, never within the minimum interval of its last vacuum, with index
// cleanup forced; a leaf of a rollup partition set gets it on top of the other rules.
TEST(VacuumPolicy, RollupTableDeadIndexEntries) {
  Config c = Cfg();
  TableFacts plain = Leaf(1, 170000000, 90000);  // old and cold: rules 1-2 would fire in a tree
  plain.in_tree = false;
  plain.rollup = true;
  plain.live_tuples = 712000;
  plain.dead_tuples = 30000;
  plain.dead_entries = 7000;  // < 1% of 712,000
  EXPECT_TRUE(PlanVacuum({plain}, c).empty());
  plain.dead_entries = 7120;
  auto plan = PlanVacuum({plain}, c);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].kind, ActionKind::kVacuumRollup);
  EXPECT_STREQ(KindName(plan[0].kind), "vacuum_rollup");
  EXPECT_EQ(plan[0].index_cleanup, IndexCleanup::kOn);
  EXPECT_EQ(plan[0].decision, Decision::kRun);
  EXPECT_NE(plan[0].reason.find("7120 index entries"), std::string::npos) << plan[0].reason;
  EXPECT_NE(plan[0].reason.find("threshold 7120"), std::string::npos) << plan[0].reason;
  // The minimum: small tables wait for rollup_dead_min entries.
  TableFacts small = plain;
  small.live_tuples = 5000;
  small.dead_entries = 999;
  EXPECT_TRUE(PlanVacuum({small}, c).empty());
  small.dead_entries = 1000;
  EXPECT_EQ(PlanVacuum({small}, c).size(), 1u);
  // Not within the minimum interval of any vacuum of it; unknown counts never; off with min < 0.
  plain.seconds_since_vacuum = 59;
  EXPECT_TRUE(PlanVacuum({plain}, c).empty());
  plain.seconds_since_vacuum = 60;
  EXPECT_EQ(PlanVacuum({plain}, c).size(), 1u);
  TableFacts unknown = plain;
  unknown.dead_entries = -1;
  EXPECT_TRUE(PlanVacuum({unknown}, c).empty());
  Config off = c;
  off.rollup_dead_min = -1;
  EXPECT_TRUE(PlanVacuum({plain}, off).empty());
  // Not a rollup table: nothing.
  TableFacts other = plain;
  other.rollup = false;
  EXPECT_TRUE(PlanVacuum({other}, c).empty());
  // Overrides and windows apply as to every non-urgent action.
  TableFacts skipped = plain;
  skipped.ov.enabled = false;
  plan = PlanVacuum({skipped}, c);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].decision, Decision::kSkippedOverride);
  Config window = c;
  window.windows = ParseWindows("01:00-02:00");
  window.minute_of_day = 12 * 60;
  plan = PlanVacuum({plain}, window);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].decision, Decision::kDeferredWindow);
  // A leaf of a rollup partition set: the urgent vacuum it needs anyway also cleans the indexes, and
  // says why; a leaf with no other need gets the rollup vacuum, after every other kind.
  TableFacts leaf = plain;
  leaf.in_tree = true;
  TableFacts quiet = Leaf(2, 1000, 10);
  quiet.rollup = true;
  quiet.dead_entries = 5000;
  quiet.live_tuples = 10000;
  quiet.dead_tuples = 5000;  // < dead_min: no dead-tuple vacuum
  TableFacts hot_dead = Leaf(3, 1000, 10);
  hot_dead.dead_tuples = 50000;
  plan = PlanVacuum({quiet, leaf, hot_dead}, c);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].kind, ActionKind::kUrgentVacuum);
  EXPECT_EQ(plan[0].relid, 1u);
  EXPECT_EQ(plan[0].index_cleanup, IndexCleanup::kOn);
  EXPECT_NE(plan[0].reason.find("index entries of replaced or deleted rollup groups"), std::string::npos);
  EXPECT_EQ(plan[1].kind, ActionKind::kVacuumDead);
  EXPECT_EQ(plan[1].relid, 3u);
  EXPECT_EQ(plan[1].index_cleanup, IndexCleanup::kAuto);
  EXPECT_EQ(plan[2].kind, ActionKind::kVacuumRollup);
  EXPECT_EQ(plan[2].relid, 2u);
}

TEST(VacuumPolicy, MultixactAgeCountsToo) {
  Config c = Cfg();
  TableFacts f = Leaf(1, 1000);
  f.mxid_age = 350000000;  // 87.5% of 400M
  const auto plan = PlanVacuum({f}, c);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].kind, ActionKind::kUrgentVacuum);
  EXPECT_NEAR(AgeFraction(f, c), 0.875, 1e-9);
}

TEST(VacuumPolicy, ColdDetectionAndNoRepeat) {
  Config c = Cfg();
  c.cold_after_s = 3600;
  TableFacts warm = Leaf(1, 5000000, 1800);
  TableFacts unknown = Leaf(2, 5000000, -1);  // first seen now: not cold yet
  TableFacts cold = Leaf(3, 5000000, 4000);
  TableFacts frozen = Leaf(4, 5000000, 90000);
  frozen.changes_at_freeze = frozen.changes;  // frozen by strata, no write since
  TableFacts empty = Leaf(5, 5000000, 90000);
  empty.pages = 0;
  empty.live_tuples = 0;
  const auto plan = PlanVacuum({warm, unknown, cold, frozen, empty}, c);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].relid, 3u);
  EXPECT_EQ(plan[0].kind, ActionKind::kFreezeCold);
  // A write after the freeze makes it a candidate again once it is cold again.
  frozen.changes += 10;
  EXPECT_EQ(PlanVacuum({frozen}, c).size(), 1u);
}

TEST(VacuumPolicy, ParentAnalyzeOnlyWhenChangedEnough) {
  Config c = Cfg();
  TableFacts p = Parent(1);
  p.seconds_since_analyze = 600;
  p.changes_at_analyze = p.changes - 1000;  // 0.1% of 1M rows
  EXPECT_TRUE(PlanVacuum({p}, c).empty());
  p.changes_at_analyze = p.changes - 60000;  // 6%
  auto plan = PlanVacuum({p}, c);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].kind, ActionKind::kAnalyzeParent);
  // Not more often than analyze_min_interval, however much changed.
  p.seconds_since_analyze = 10;
  EXPECT_TRUE(PlanVacuum({p}, c).empty());
  // A detached partition (changes went down) counts as a change.
  p.seconds_since_analyze = 600;
  p.changes_at_analyze = p.changes + 200000;
  EXPECT_EQ(PlanVacuum({p}, c).size(), 1u);
  // Analyzed while a load was uncommitted: no statistics. Once the partitions changed, analyzed again
  // at once (no minimum interval, no threshold); not while nothing changed.
  p.has_stats = false;
  p.seconds_since_analyze = 5;
  p.changes_at_analyze = p.changes;
  EXPECT_TRUE(PlanVacuum({p}, c).empty());
  p.changes_at_analyze = p.changes - 10;
  plan = PlanVacuum({p}, c);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].kind, ActionKind::kAnalyzeParent);
  EXPECT_NE(plan[0].reason.find("no statistics"), std::string::npos);
  p.has_stats = true;
  EXPECT_TRUE(PlanVacuum({p}, c).empty());
  // An empty parent is left alone.
  TableFacts e = Parent(2);
  e.live_tuples = 0;
  e.changes = 0;
  EXPECT_TRUE(PlanVacuum({e}, c).empty());
}

TEST(VacuumPolicy, HotAnalyzeBeforeAutovacuum) {
  Config c = Cfg();
  TableFacts hot = Leaf(1, 1000, 5);
  hot.mod_since_analyze = 3000;  // 3% of 100k: autovacuum waits for 10%
  auto plan = PlanVacuum({hot}, c);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].kind, ActionKind::kAnalyzeHot);
  hot.mod_since_analyze = 1000;
  EXPECT_TRUE(PlanVacuum({hot}, c).empty());
}

TEST(VacuumPolicy, HandoverOfInsertVacuums) {
  Config c = Cfg();
  TableFacts hot = Leaf(1, 1000, 5);
  hot.insert_reloption = false;
  hot.ins_since_vacuum = 21000;  // autovacuum's trigger: 1000 + 0.2 x 100,000
  auto plan = PlanVacuum({hot}, c);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[1].kind, ActionKind::kInsertHandover);
  EXPECT_NE(plan[1].reason.find("autovacuum_vacuum_insert_threshold = 20000, autovacuum_vacuum_insert_scale_factor = 1"),
            std::string::npos) << plan[1].reason;
  // Until the handover is done, the hot freeze comes no later than autovacuum's insert trigger.
  EXPECT_EQ(plan[0].kind, ActionKind::kFreezeHot);
  EXPECT_EQ(HandoverSetting(c), "autovacuum_vacuum_insert_threshold = 20000, autovacuum_vacuum_insert_scale_factor = 1");
  // Handed over (autovacuum now at 20000 + 1.0 x rows): strata's own threshold, 0.5 x rows, applies.
  hot.insert_reloption = true;
  hot.av_insert_threshold = 20000;
  hot.av_insert_scale = 1.0;
  EXPECT_TRUE(PlanVacuum({hot}, c).empty());
  hot.ins_since_vacuum = 50000;
  plan = PlanVacuum({hot}, c);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].kind, ActionKind::kFreezeHot);
  // A reloption someone else set is respected, and strata still comes before it.
  hot.av_insert_threshold = 1000;
  hot.av_insert_scale = 0.1;
  hot.ins_since_vacuum = 11000;
  plan = PlanVacuum({hot}, c);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].kind, ActionKind::kFreezeHot);
  // An empty partition (made ahead of need) is handed over before its first row, quiet or not.
  TableFacts fresh = Leaf(2, 10, 90000);
  fresh.insert_reloption = false;
  fresh.pages = 0;
  fresh.live_tuples = 0;
  plan = PlanVacuum({fresh}, c);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].kind, ActionKind::kInsertHandover);
  EXPECT_EQ(plan[0].decision, Decision::kRun);
  // No handover: cold, not insert-mostly, proactive freezing off, disabled, insert vacuums off, or
  // handover or hot freezes turned off.
  TableFacts unseen = Leaf(4, 10, -1);  // has data, no write seen yet: waits until one is
  unseen.insert_reloption = false;
  EXPECT_TRUE(PlanVacuum({unseen}, c).empty());
  auto none = [&](TableFacts f, Config cc) {
    for (const Action& a : PlanVacuum({f}, cc)) EXPECT_NE(a.kind, ActionKind::kInsertHandover);
  };
  TableFacts base = Leaf(3, 10, 5);
  base.insert_reloption = false;
  TableFacts x = base;
  x.seconds_since_write = 90000;
  x.changes_at_freeze = x.changes;
  none(x, c);
  x = base;
  x.dead_tuples = 5000;
  none(x, c);
  x = base;
  x.ov.freeze = false;
  none(x, c);
  x = base;
  x.ov.enabled = false;
  none(x, c);
  x = base;
  x.av_insert_threshold = -1;
  none(x, c);
  Config off = c;
  off.insert_handover_scale = 0;
  none(base, off);
  off = c;
  off.hot_freeze_fraction = 0;
  none(base, off);
}

TEST(VacuumPolicy, DeadTuples) {
  Config c = Cfg();
  TableFacts t = Leaf(1, 1000, 5);
  t.dead_tuples = 20000;
  auto plan = PlanVacuum({t}, c);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].kind, ActionKind::kVacuumDead);
}

TEST(VacuumPolicy, BudgetsDeferInOrder) {
  Config c = Cfg();
  c.max_actions = 2;
  std::vector<TableFacts> f{Leaf(1, 10, 9000), Leaf(2, 20, 9000), Leaf(3, 30, 9000)};
  auto plan = PlanVacuum(f, c);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].relid, 3u);  // oldest first
  EXPECT_EQ(plan[0].decision, Decision::kRun);
  EXPECT_EQ(plan[1].decision, Decision::kRun);
  EXPECT_EQ(plan[2].decision, Decision::kDeferredBudget);
  // A page budget: the first action always fits, the next one only within the budget.
  c.max_actions = 10;
  c.max_pages = 1500;
  plan = PlanVacuum(f, c);
  EXPECT_EQ(plan[0].decision, Decision::kRun);
  EXPECT_EQ(plan[1].decision, Decision::kDeferredBudget);
  EXPECT_NE(plan[1].reason.find("page budget"), std::string::npos);
}

// A thousand daily sets: ~5,000 empty premade partitions to hand over, a thousand cold ones to freeze,
// a parent never analyzed and a partition with 200,000 dead tuples, one action per pass. Handovers
// use their own budget, after everything else; nothing cheap or plentiful comes before the parent's
// ANALYZE or the dead-tuple VACUUM.
TEST(VacuumPolicy, HandoversTakeNoActionBudgetAndNothingStarvesAnalyzeOrDeadVacuum) {
  Config c = Cfg();
  c.max_actions = 1;
  c.max_pages = 1500;
  std::vector<TableFacts> f;
  for (uint32_t i = 0; i < 5000; i++) {
    TableFacts e = Leaf(1000 + i, 10, 90000);
    e.insert_reloption = false;
    e.pages = 0;
    e.live_tuples = 0;
    f.push_back(e);
  }
  for (uint32_t i = 0; i < 1000; i++) f.push_back(Leaf(10000 + i, 1000 + i, 9000));  // cold, never frozen
  TableFacts dead = Leaf(2, 1000, 5);
  dead.dead_tuples = 200000;
  dead.live_tuples = 1000000;
  f.push_back(dead);
  f.push_back(Parent(1));
  auto plan = PlanVacuum(f, c);
  ASSERT_EQ(plan.size(), 5000u + 1000u + 2u);
  EXPECT_EQ(plan[0].kind, ActionKind::kAnalyzeParent);
  EXPECT_EQ(plan[0].decision, Decision::kRun);
  EXPECT_EQ(plan[1].kind, ActionKind::kVacuumDead);
  EXPECT_EQ(plan[1].decision, Decision::kDeferredBudget);
  int handovers_run = 0, other_run = 0;
  for (const Action& a : plan) {
    if (a.kind == ActionKind::kInsertHandover) {
      if (a.decision == Decision::kRun) {
        handovers_run++;
      } else {
        EXPECT_NE(a.reason.find("handover budget (100) is spent"), std::string::npos) << a.reason;
      }
    } else if (a.decision == Decision::kRun) {
      other_run++;
    }
  }
  EXPECT_EQ(handovers_run, c.max_handovers);  // over the budget, and not counted against it
  EXPECT_EQ(other_run, 1);
  // Handovers come after every budgeted action in the plan (the worker runs them last).
  const auto first_handover = std::find_if(plan.begin(), plan.end(),
                                           [](const Action& a) { return a.kind == ActionKind::kInsertHandover; });
  EXPECT_TRUE(std::all_of(first_handover, plan.end(), [](const Action& a) { return a.kind == ActionKind::kInsertHandover; }));
  // The next pass, with the parent analyzed: the dead-tuple VACUUM runs before any cold freeze.
  f.back().seconds_since_analyze = 10;
  f.back().changes_at_analyze = f.back().changes;
  plan = PlanVacuum(f, c);
  EXPECT_EQ(plan[0].kind, ActionKind::kVacuumDead);
  EXPECT_EQ(plan[0].decision, Decision::kRun);
  EXPECT_EQ(plan[1].kind, ActionKind::kFreezeCold);
  EXPECT_EQ(plan[1].decision, Decision::kDeferredBudget);
  // A handover budget of 0 hands over nothing; urgent work still comes first of all.
  c.max_handovers = 0;
  f.push_back(Leaf(3, 190000000, 9000));
  plan = PlanVacuum(f, c);
  EXPECT_EQ(plan[0].kind, ActionKind::kUrgentVacuum);
  for (const Action& a : plan) {
    if (a.kind == ActionKind::kInsertHandover) {
      EXPECT_EQ(a.decision, Decision::kDeferredBudget);
    }
  }
}

TEST(VacuumPolicy, WindowsDeferOnlyNonUrgentWork) {
  Config c = Cfg();
  c.windows = ParseWindows("01:00-05:00");
  c.minute_of_day = 12 * 60;
  std::vector<TableFacts> f{Leaf(1, 190000000), Leaf(2, 10, 9000)};
  auto plan = PlanVacuum(f, c);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].decision, Decision::kRun);
  EXPECT_EQ(plan[1].decision, Decision::kDeferredWindow);
  c.minute_of_day = 2 * 60;
  plan = PlanVacuum(f, c);
  EXPECT_EQ(plan[1].decision, Decision::kRun);
}

TEST(VacuumPolicy, OverridesHonoured) {
  Config c = Cfg();
  TableFacts never = Leaf(1, 190000000);
  never.ov.enabled = false;
  TableFacts nofreeze = Leaf(2, 10, 9000);
  nofreeze.ov.freeze = false;
  TableFacts slow = Leaf(3, 10, 9000);
  slow.ov.cold_after_s = 86400;  // this one is not cold yet
  auto plan = PlanVacuum({never, nofreeze, slow}, c);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].decision, Decision::kSkippedOverride);
  EXPECT_EQ(plan[0].relid, 1u);
  TableFacts p = Parent(4);
  p.seconds_since_analyze = 600;
  p.changes_at_analyze = p.changes - 60000;
  p.ov.analyze_fraction = 0.5;
  EXPECT_TRUE(PlanVacuum({p}, c).empty());
}

TEST(VacuumPolicy, ParseWindows) {
  auto w = ParseWindows("01:00-05:00, 22:00-02:30");
  ASSERT_EQ(w.size(), 2u);
  EXPECT_TRUE(InWindow(w, 60));
  EXPECT_FALSE(InWindow(w, 300));
  EXPECT_TRUE(InWindow(w, 23 * 60));
  EXPECT_TRUE(InWindow(w, 2 * 60 + 29));
  EXPECT_FALSE(InWindow(w, 2 * 60 + 30 + 600));
  EXPECT_TRUE(ParseWindows("").empty());
  EXPECT_TRUE(ParseWindows("  ").empty());
  EXPECT_TRUE(InWindow({}, 700));
  EXPECT_TRUE(InWindow(ParseWindows("00:00-24:00"), 1439));
  for (const char* bad : {"1-2", "25:00-26:00", "01:00-05:00,", "01:00-01:00", "01:60-02:00", "01:00-05:00x", ","})
    EXPECT_THROW(ParseWindows(bad), Error) << bad;
}

// ---------------------------------------------------------------------------------------------------
// Simulation. Time advances in hours; each hour consumes xids and appends pages to the hot daily
// partition. Pages are kept as per-hour chunks with their insert xid and visibility-map bits.
// Autovacuum (both runs) follows Postgres 15: an insert-triggered vacuum when inserts since the last
// vacuum exceed 1000 + 0.2 * reltuples (non-aggressive: scans pages not all-visible, freezes tuples
// older than vacuum_freeze_min_age), an anti-wraparound aggressive vacuum when the age exceeds
// autovacuum_freeze_max_age; tables in catalog order (no priority), within a page throughput per hour
// (its cost limit); its insert trigger uses the partition's insert scale factor (0.2, or what a handover
// set). The scheduler run adds strata's policy each hour before autovacuum, within the same page
// throughput; its freezes are VACUUM (FREEZE): aggressive with a freeze limit of "now"; a handover
// changes the partition's insert scale factor and reads nothing.
namespace sim {

struct Chunk {
  int64_t pages;
  int64_t xmin;
  bool all_visible = false;
  bool all_frozen = false;
};

struct Part {
  std::vector<Chunk> chunks;
  int64_t relfrozenxid = 0;
  int64_t ins_since_vacuum = 0;  // rows
  int64_t rows = 0;
  int64_t changes = 0;
  int64_t last_write_hour = -1;
  int64_t created_hour = 0;
  int64_t changes_at_freeze = -1;
  double insert_scale = 0.2;  // autovacuum_vacuum_insert_scale_factor and _threshold (a handover raises them)
  int64_t insert_threshold = 1000;
  bool insert_reloption = false;
};

struct Result {
  int64_t max_age = 0;
  int64_t vacuums = 0;           // every vacuum, by anyone
  int64_t vacuums_with_pages = 0;
  int64_t antiwrap = 0;          // autovacuum's forced anti-wraparound vacuums
  int64_t pages_scanned = 0;
  int64_t peak_pages_per_hour = 0;
  int64_t by_kind[9] = {};       // strata's actions by ActionKind; [7] autovacuum insert-triggered, [8] anti-wraparound
};

struct Params {
  int days = 180;
  int backfill_days = 90;          // history loaded in one go at the start (one xid range)
  int64_t xids_per_hour = 400000;  // ~10M a day: 1.7 billion over the run
  int64_t pages_per_hour = 400;
  int64_t rows_per_page = 100;
  int64_t freeze_max_age = 200000000;
  int64_t freeze_min_age = 50000000;
  int64_t freeze_table_age = 150000000;
  int64_t autovacuum_pages_per_hour = 20000;
  int64_t strata_pages_per_hour = 20000;
  bool scheduler = false;
};

class Model {
 public:
  explicit Model(const Params& p) : p_(p) {}

  Result Run() {
    // Backfill: history partitions filled at xid ~1M, all in the same few transactions.
    for (int d = 0; d < p_.backfill_days; d++) {
      Part part;
      part.relfrozenxid = xid_;
      part.chunks.push_back({p_.pages_per_hour * 24, xid_});
      part.rows = part.ins_since_vacuum = part.changes = p_.pages_per_hour * 24 * p_.rows_per_page;
      part.last_write_hour = 0;
      parts_.push_back(part);
      xid_ += 10;
    }
    for (int64_t h = 0; h < int64_t(p_.days) * 24; h++) {
      hour_ = h;
      if (h % 24 == 0) {  // the day's partition (created just in time here; premade ones age alike)
        Part part;
        part.relfrozenxid = xid_;
        part.created_hour = h;
        parts_.push_back(part);
      }
      Part& hot = parts_.back();
      hot.chunks.push_back({p_.pages_per_hour, xid_ + p_.xids_per_hour / 2});
      const int64_t rows = p_.pages_per_hour * p_.rows_per_page;
      hot.rows += rows;
      hot.ins_since_vacuum += rows;
      hot.changes += rows;
      hot.last_write_hour = h;
      xid_ += p_.xids_per_hour;
      pages_this_hour_ = 0;
      if (p_.scheduler) Scheduler();
      Autovacuum();
      for (const Part& x : parts_) res_.max_age = std::max(res_.max_age, xid_ - x.relfrozenxid);
      res_.peak_pages_per_hour = std::max(res_.peak_pages_per_hour, pages_this_hour_);
    }
    return res_;
  }

 private:
  // One vacuum: scans pages not all-frozen (aggressive) or not all-visible; freezes tuples older than
  // the freeze limit; relfrozenxid advances to the oldest unfrozen xmin when every page that could hold
  // one was scanned.
  void Vacuum(Part& t, bool aggressive, int64_t freeze_limit) {
    int64_t scanned = 0;
    bool skipped_unfrozen = false;
    for (Chunk& c : t.chunks) {
      const bool scan = aggressive ? !c.all_frozen : !c.all_visible;
      if (!scan) {
        if (!c.all_frozen) skipped_unfrozen = true;
        continue;
      }
      scanned += c.pages;
      if (c.xmin < freeze_limit) c.all_frozen = true;
      c.all_visible = true;
    }
    if (!skipped_unfrozen) {
      int64_t oldest = xid_;
      for (const Chunk& c : t.chunks)
        if (!c.all_frozen) oldest = std::min(oldest, c.xmin);
      t.relfrozenxid = oldest;
    }
    t.ins_since_vacuum = 0;
    res_.vacuums++;
    if (scanned > 0) res_.vacuums_with_pages++;
    res_.pages_scanned += scanned;
    pages_this_hour_ += scanned;
  }

  // Runs vacuums while the hour's page throughput lasts; an overrun is paid from the next hour.
  void Autovacuum() {
    av_budget_ += p_.autovacuum_pages_per_hour;
    for (Part& t : parts_) {
      if (av_budget_ <= 0) break;
      const int64_t age = xid_ - t.relfrozenxid;
      const int64_t before = res_.pages_scanned;
      if (age > p_.freeze_max_age) {
        res_.antiwrap++;
        res_.by_kind[8]++;
        Vacuum(t, true, xid_ - p_.freeze_min_age);
      } else if (double(t.ins_since_vacuum) > double(t.insert_threshold) + t.insert_scale * double(t.rows)) {
        res_.by_kind[7]++;
        Vacuum(t, age > p_.freeze_table_age, xid_ - p_.freeze_min_age);
      }
      av_budget_ -= res_.pages_scanned - before;
    }
    av_budget_ = std::min<int64_t>(av_budget_, 0);
  }

  void Scheduler() {
    Config c;
    c.freeze_max_age = p_.freeze_max_age;
    c.cold_after_s = 6 * 3600;
    c.max_actions = 1000;
    std::vector<TableFacts> facts;
    for (size_t i = 0; i < parts_.size(); i++) {
      const Part& t = parts_[i];
      TableFacts f;
      f.relid = uint32_t(i);
      int64_t pages = 0;
      for (const Chunk& ch : t.chunks) pages += ch.pages;
      f.pages = pages;
      f.live_tuples = double(t.rows);
      f.xid_age = xid_ - t.relfrozenxid;
      f.changes = t.changes;
      f.ins_since_vacuum = t.ins_since_vacuum;
      f.changes_at_freeze = t.changes_at_freeze;
      f.seconds_since_write = t.last_write_hour < 0 ? double(hour_ - t.created_hour) * 3600
                                                    : double(hour_ - t.last_write_hour) * 3600;
      f.seconds_since_analyze = 1e9;  // analyze is not modelled here
      f.av_insert_scale = t.insert_scale;
      f.av_insert_threshold = t.insert_threshold;
      f.insert_reloption = t.insert_reloption;
      facts.push_back(f);
    }
    sched_budget_ += p_.strata_pages_per_hour;
    for (const Action& a : PlanVacuum(facts, c)) {
      if (a.decision != Decision::kRun) continue;
      if (sched_budget_ <= 0 && a.kind != ActionKind::kInsertHandover) continue;  // handovers read no pages
      if (a.kind == ActionKind::kAnalyzeHot || a.kind == ActionKind::kAnalyzeParent) continue;  // not modelled
      Part& t = parts_[a.relid];
      if (a.kind == ActionKind::kInsertHandover) {
        res_.by_kind[int(a.kind)]++;
        t.insert_scale = c.insert_handover_scale;
        t.insert_threshold = 2 * c.hot_freeze_min_rows;
        t.insert_reloption = true;
        continue;
      }
      const int64_t before = res_.pages_scanned;
      res_.by_kind[int(a.kind)]++;
      Vacuum(t, true, xid_);
      t.changes_at_freeze = t.changes;
      sched_budget_ -= res_.pages_scanned - before;
    }
    sched_budget_ = std::min<int64_t>(sched_budget_, 0);
  }

  Params p_;
  std::vector<Part> parts_;
  int64_t xid_ = 1000000;
  int64_t hour_ = 0;
  int64_t pages_this_hour_ = 0;
  int64_t av_budget_ = 0;
  int64_t sched_budget_ = 0;
  Result res_;
};

}  // namespace sim

TEST(VacuumSimulation, MonthsOfPartitionsUnderInsertLoad) {
  sim::Params p;
  const sim::Result base = sim::Model(p).Run();
  p.scheduler = true;
  const sim::Result sched = sim::Model(p).Run();
  std::printf("simulation (%d days, %d backfilled, %lld xids/hour, freeze_max_age %lld):\n", p.days, p.backfill_days,
              (long long) p.xids_per_hour, (long long) p.freeze_max_age);
  auto show = [](const char* what, const sim::Result& r) {
    std::printf("  %-16s max age %lld  anti-wraparound %lld  vacuums %lld (%lld scanning pages)  pages %lld  "
                "peak pages/hour %lld\n",
                what, (long long) r.max_age, (long long) r.antiwrap, (long long) r.vacuums,
                (long long) r.vacuums_with_pages, (long long) r.pages_scanned, (long long) r.peak_pages_per_hour);
  };
  auto kinds = [](const sim::Result& r) {
    std::printf("    by kind: urgent %lld  freeze_cold %lld  freeze_hot %lld  handovers %lld  autovacuum insert %lld  "
                "anti-wraparound %lld\n",
                (long long) r.by_kind[0], (long long) r.by_kind[1], (long long) r.by_kind[4], (long long) r.by_kind[6],
                (long long) r.by_kind[7], (long long) r.by_kind[8]);
  };
  show("autovacuum only", base);
  kinds(base);
  kinds(sched);
  show("with strata", sched);
  // Without the scheduler the backfilled history hits the threshold together and the storm outlasts it.
  EXPECT_GT(base.max_age, p.freeze_max_age);
  EXPECT_GT(base.antiwrap, 0);
  // With it: the maximum age stays below autovacuum's threshold; no forced anti-wraparound vacuum.
  EXPECT_LT(sched.max_age, p.freeze_max_age);
  EXPECT_EQ(sched.antiwrap, 0);
  // Fewer and smaller vacuums: hot partitions are handed over (autovacuum's insert trigger raised to
  // 1.0 x rows, a fallback) and frozen by strata at 0.5 x rows, each freeze reading only new pages and
  // freezing them in that read, so no aggressive vacuum reads them again. The revisits of frozen
  // partitions read only the visibility map.
  EXPECT_LT(sched.vacuums, base.vacuums);
  EXPECT_LT(sched.vacuums_with_pages, base.vacuums_with_pages);
  EXPECT_LT(sched.pages_scanned, base.pages_scanned);
  EXPECT_LT(sched.pages_scanned * base.vacuums, base.pages_scanned * sched.vacuums);  // pages per vacuum
  EXPECT_GT(sched.by_kind[int(ActionKind::kInsertHandover)], 0);
}
