// The vacuum-scheduling policy (see vacuum_policy.hpp).
#include "core/vacuum_policy.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.hpp"

namespace strata::core::vacuum {
namespace {

// Class order of the plan: lower runs first. After wraparound, what hurts now (a parent planned
// without statistics, dead tuples bloating a table) comes before proactive work that many tables need
// at once (a thousand daily sets make a thousand cold freezes a day), so that work cannot starve it.
// Handovers come last: they take no budget of their own (see the decisions below).
int ClassRank(ActionKind k) {
  switch (k) {
    case ActionKind::kUrgentVacuum: return 0;
    case ActionKind::kAnalyzeParent: return 1;
    case ActionKind::kVacuumDead: return 2;
    case ActionKind::kFreezeCold: return 3;
    case ActionKind::kAnalyzeHot: return 4;
    case ActionKind::kFreezeHot: return 5;
    case ActionKind::kVacuumRollup: return 6;
    case ActionKind::kInsertHandover: return 7;
  }
  return 8;
}

std::string Fmt(const char* fmt, double a, double b = 0, double c = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a, b, c);
  return buf;
}

std::string Count(int64_t v) { return std::to_string(v); }

bool AnalyzedRecently(const TableFacts& f, const Config& cfg) {
  return f.seconds_since_analyze >= 0 && f.seconds_since_analyze < cfg.analyze_min_interval_s;
}

// Rule 8: a rollup table's dead index entries. Their readers are dashboards over its newest buckets,
// which is where the refresh's updates land; autovacuum waits for 20% of the table.
bool RollupVacuumDue(const TableFacts& f, const Config& cfg, std::string* reason) {
  if (!f.rollup || cfg.rollup_dead_min < 0 || f.dead_entries < 0) return false;
  const double needed = std::max<double>(double(cfg.rollup_dead_min), cfg.rollup_dead_fraction * f.live_tuples);
  if (double(f.dead_entries) < needed) return false;
  if (f.seconds_since_vacuum >= 0 && f.seconds_since_vacuum < cfg.rollup_min_interval_s) return false;
  *reason = Count(f.dead_entries) + " index entries of replaced or deleted rollup groups since strata's last vacuum of it "
            "(threshold " + Count(int64_t(needed)) + "): reads of their buckets step over each one until a vacuum";
  return true;
}

}  // namespace

double AgeFraction(const TableFacts& f, const Config& cfg) {
  const double x = cfg.freeze_max_age > 0 ? double(f.xid_age) / double(cfg.freeze_max_age) : 0;
  const double m = cfg.multixact_freeze_max_age > 0 ? double(f.mxid_age) / double(cfg.multixact_freeze_max_age) : 0;
  return std::max(x, m);
}

namespace {

// The actions of one fact, as they are added to the plan: every action of a rollup table that is due
// for its dead index entries removes them too (see Add).
struct FactPlan {
  const TableFacts& f;
  size_t index;                // of f in the facts given to PlanVacuum
  bool rollup_due;             // RollupVacuumDue
  std::string rollup_reason;
  std::vector<Action>* plan;

  Action& Add(ActionKind kind, double score, std::string reason) const {
    Action a;
    a.kind = kind;
    a.fact = index;
    a.relid = f.relid;
    a.urgent = kind == ActionKind::kUrgentVacuum;
    a.score = score;
    a.reason = std::move(reason);
    if (!f.ov.enabled) a.decision = Decision::kSkippedOverride;
    // Any VACUUM of a rollup table that is due for its dead index entries removes them, whatever
    // else it is for.
    const bool vacuum = kind == ActionKind::kUrgentVacuum || kind == ActionKind::kFreezeCold ||
                        kind == ActionKind::kFreezeHot || kind == ActionKind::kVacuumDead || kind == ActionKind::kVacuumRollup;
    if (vacuum && rollup_due) {
      a.index_cleanup = IndexCleanup::kOn;
      if (kind != ActionKind::kVacuumRollup) a.reason += "; " + rollup_reason;
    }
    plan->push_back(std::move(a));
    return plan->back();
  }

  void AddRollup() const {
    Add(ActionKind::kVacuumRollup, f.live_tuples > 0 ? double(f.dead_entries) / f.live_tuples : double(f.dead_entries),
        rollup_reason);
  }
};

// Rules for a parent (partitioned table). Its statistics come only from an ANALYZE of the parent
// itself; autovacuum never does it.
void PlanParent(const FactPlan& p, const Config& cfg) {
  const TableFacts& f = p.f;
  if (f.pages <= 0 && f.live_tuples <= 0 && f.changes <= 0) return;
  // Analyzed, yet without statistics: its last ANALYZE saw no committed rows (a load was still in
  // flight). Once its partitions changed since, it is analyzed again at once: neither the minimum
  // interval nor the change threshold applies, and nothing is repeated while nothing changes.
  if (!f.has_stats && f.seconds_since_analyze >= 0 && f.changes_at_analyze >= 0 && f.changes != f.changes_at_analyze) {
    p.Add(ActionKind::kAnalyzeParent, 1e17,
          "partitioned table has no statistics (its last analyze saw no committed rows) and its partitions "
          "changed since: plans on it run without statistics");
    return;
  }
  if (AnalyzedRecently(f, cfg)) return;
  const double fraction = f.ov.analyze_fraction.value_or(cfg.parent_analyze_fraction);
  if (f.seconds_since_analyze < 0) {
    p.Add(ActionKind::kAnalyzeParent, 1e18, "partitioned table has never been analyzed: plans on it run without statistics");
    return;
  }
  if (f.changes_at_analyze < 0) {
    // Analyzed by someone else; strata has no baseline yet. Its first ANALYZE sets one.
    p.Add(ActionKind::kAnalyzeParent, f.live_tuples,
          "no record of the partitions' changes at the last analyze; analyzing once to take a baseline");
    return;
  }
  const int64_t changed = std::llabs(f.changes - f.changes_at_analyze);
  const double needed = std::max<double>(double(cfg.parent_analyze_min_rows), fraction * f.live_tuples);
  if (double(changed) >= needed)
    p.Add(ActionKind::kAnalyzeParent, f.live_tuples > 0 ? changed / f.live_tuples : double(changed),
          Count(changed) + " rows changed in its partitions since the last analyze (threshold " + Count(int64_t(needed)) +
              ")");
}

// Rule 1 for a leaf: an urgent VACUUM (FREEZE) near autovacuum's forced one. True when added: it covers
// freezing and dead tuples, so no other rule applies.
bool PlanUrgent(const FactPlan& p, const Config& cfg) {
  const TableFacts& f = p.f;
  const double age = AgeFraction(f, cfg);
  // A leaf unchanged since strata froze it is all-frozen: its revisit reads only the visibility map
  // and takes seconds however large the table, so it needs less lead time and waits until halfway
  // between urgent_fraction and autovacuum's limit (fewer revisits over the table's life).
  const bool unchanged = f.changes_at_freeze >= 0 && f.changes == f.changes_at_freeze;
  const double urgent_at = unchanged ? cfg.urgent_fraction + (1 - cfg.urgent_fraction) / 2 : cfg.urgent_fraction;
  if (age < urgent_at) return false;
  Action& a = p.Add(ActionKind::kUrgentVacuum, age,
                    Fmt("xid age %.0f, multixact age %.0f: %.0f%% of the freeze max age, vacuuming before autovacuum forces it",
                        double(f.xid_age), double(f.mxid_age), age * 100) +
                        (unchanged ? "; unchanged since strata froze it: visibility map only, no index cleanup" : ""));
  if (unchanged) a.index_cleanup = IndexCleanup::kOff;
  return true;
}

// The insert-vacuum handover of a hot or empty insert-mostly leaf (see Config::insert_handover_scale).
void PlanHandover(const FactPlan& p, const Config& cfg, bool hot, bool hot_freezes, bool insert_mostly) {
  const TableFacts& f = p.f;
  // Handed over: a hot leaf, or an empty one (made ahead of need). A leaf with data that strata has
  // not seen written yet waits until it is (a cold one needs no handover).
  const bool fresh = f.pages <= 0 && f.live_tuples <= 0;
  if ((hot || fresh) && f.ov.enabled && hot_freezes && insert_mostly && cfg.insert_handover_scale > 0 && !f.insert_reloption &&
      f.av_insert_threshold >= 0) {
    p.Add(ActionKind::kInsertHandover, f.live_tuples,
          "autovacuum's insert vacuum comes at " + Count(f.av_insert_threshold) + " + " + Fmt("%g", f.av_insert_scale) +
              " x rows inserted; setting " + HandoverSetting(cfg) + " (a fallback behind strata's hot freeze at " +
              Fmt("%g", cfg.hot_freeze_fraction) + " x rows)");
  }
}

// The rules for a leaf below the urgent one: cold freeze; else hot analyze, handover and hot freeze;
// else a dead-tuple vacuum or the rollup rule.
void PlanLeaf(const FactPlan& p, const Config& cfg) {
  const TableFacts& f = p.f;
  if (PlanUrgent(p, cfg)) return;
  const double cold_after = f.ov.cold_after_s.value_or(cfg.cold_after_s);
  const bool cold = f.seconds_since_write >= 0 && f.seconds_since_write >= cold_after;
  const bool hot = f.seconds_since_write >= 0 && f.seconds_since_write < cold_after;
  if (cold && f.ov.freeze && (f.pages > 0 || f.live_tuples > 0) && f.changes != f.changes_at_freeze) {
    p.Add(ActionKind::kFreezeCold, AgeFraction(f, cfg),
          Fmt("no writes for %.0f s (cold after %.0f s): freezing it once so it never needs an anti-wraparound vacuum "
              "(xid age %.0f)", f.seconds_since_write, cold_after, double(f.xid_age)));
    return;
  }
  if (hot && !AnalyzedRecently(f, cfg)) {
    const double fraction = f.ov.analyze_fraction.value_or(cfg.hot_analyze_fraction);
    const double needed = std::max<double>(double(cfg.hot_analyze_min_rows), fraction * f.live_tuples);
    if (double(f.mod_since_analyze) >= needed)
      p.Add(ActionKind::kAnalyzeHot, f.live_tuples > 0 ? f.mod_since_analyze / f.live_tuples : 1.0,
            Count(f.mod_since_analyze) + " rows modified since the last analyze of this hot partition (threshold " +
                Count(int64_t(needed)) + ", autovacuum's would be " + Count(int64_t(50 + 0.1 * f.live_tuples)) + ")");
  }
  const bool insert_mostly = double(f.dead_tuples) <= cfg.hot_freeze_max_dead * std::max(f.live_tuples, 1.0);
  const bool hot_freezes = f.ov.freeze && cfg.hot_freeze_fraction > 0;
  PlanHandover(p, cfg, hot, hot_freezes, insert_mostly);
  // Autovacuum's insert trigger for this leaf as it stands (infinite when disabled).
  const double av_trigger = f.av_insert_threshold < 0 ? HUGE_VAL
                                                      : double(f.av_insert_threshold) + f.av_insert_scale * f.live_tuples;
  const double ins_needed = std::max<double>(double(cfg.hot_freeze_min_rows),
                                             std::min(cfg.hot_freeze_fraction * f.live_tuples, av_trigger));
  if (hot && hot_freezes && insert_mostly && double(f.ins_since_vacuum) >= ins_needed) {
    p.Add(ActionKind::kFreezeHot, double(f.ins_since_vacuum),
          Count(f.ins_since_vacuum) + " rows inserted since the last vacuum of this insert-mostly partition (threshold " +
              Count(int64_t(ins_needed)) + ", autovacuum's " +
              (f.av_insert_threshold < 0 ? std::string("disabled") : Count(int64_t(av_trigger))) +
              "): freezing the new pages in the same pass that sets them all-visible");
    return;
  }
  const double dead_needed = std::max<double>(double(cfg.dead_min), cfg.dead_fraction * f.live_tuples);
  if (double(f.dead_tuples) >= dead_needed) {
    p.Add(ActionKind::kVacuumDead, double(f.dead_tuples),
          Count(f.dead_tuples) + " dead tuples (threshold " + Count(int64_t(dead_needed)) + ")");
  } else if (p.rollup_due) {
    p.AddRollup();
  }
}

// The plan's order: by class (ClassRank), then by score, higher first; stable for equal ones.
void SortPlan(std::vector<Action>* plan) {
  std::stable_sort(plan->begin(), plan->end(), [](const Action& a, const Action& b) {
    const int ra = ClassRank(a.kind), rb = ClassRank(b.kind);
    if (ra != rb) return ra < rb;
    return a.score > b.score;
  });
}

// Decisions: overrides, windows (non-urgent only), then the per-pass budget in plan order. A
// handover (a reloption set on a table, no read of it) counts against its own budget, never the
// actions' or pages': thousands of them cannot hold back a vacuum or an analyze.
void Decide(const std::vector<TableFacts>& facts, const Config& cfg, std::vector<Action>* plan) {
  const bool in_window = InWindow(cfg.windows, cfg.minute_of_day);
  int run = 0;
  int handovers = 0;
  int64_t pages = 0;
  for (Action& a : *plan) {
    if (a.decision == Decision::kSkippedOverride) {
      a.reason += "; skipped: the table's vacuum policy says never touch it";
      continue;
    }
    if (!a.urgent && !in_window) {
      a.decision = Decision::kDeferredWindow;
      a.reason += "; deferred: outside the maintenance window";
      continue;
    }
    if (a.kind == ActionKind::kInsertHandover) {
      if (handovers >= cfg.max_handovers) {
        a.decision = Decision::kDeferredBudget;
        a.reason += "; deferred: this pass's handover budget (" + Count(cfg.max_handovers) + ") is spent";
      } else {
        handovers++;
      }
      continue;
    }
    // ANALYZE reads a sample (300 x statistics target rows), not the whole table.
    const bool analyze = a.kind == ActionKind::kAnalyzeParent || a.kind == ActionKind::kAnalyzeHot;
    const int64_t p = analyze ? std::min<int64_t>(facts[a.fact].pages, 30000) : facts[a.fact].pages;
    const bool over_pages = cfg.max_pages > 0 && run > 0 && pages + p > cfg.max_pages;
    if (run >= cfg.max_actions || over_pages) {
      a.decision = Decision::kDeferredBudget;
      a.reason += over_pages ? "; deferred: this pass's page budget is spent" : "; deferred: this pass's action budget is spent";
      continue;
    }
    run++;
    pages += p;
  }
}

}  // namespace

std::vector<Action> PlanVacuum(const std::vector<TableFacts>& facts, const Config& cfg) {
  std::vector<Action> plan;
  for (size_t i = 0; i < facts.size(); i++) {
    FactPlan p{facts[i], i, false, {}, &plan};
    p.rollup_due = RollupVacuumDue(p.f, cfg, &p.rollup_reason);
    if (!p.f.in_tree) {
      if (p.rollup_due && !p.f.is_parent) p.AddRollup();
    } else if (p.f.is_parent) {
      PlanParent(p, cfg);
    } else {
      PlanLeaf(p, cfg);
    }
  }
  SortPlan(&plan);
  Decide(facts, cfg, &plan);
  return plan;
}

bool InWindow(const std::vector<Window>& windows, int minute) {
  if (windows.empty()) return true;
  for (const Window& w : windows) {
    if (w.start <= w.end ? (minute >= w.start && minute < w.end) : (minute >= w.start || minute < w.end)) return true;
  }
  return false;
}

std::vector<Window> ParseWindows(const std::string& text) {
  std::vector<Window> out;
  size_t pos = 0;
  auto bad = [&](const std::string& part) {
    return Error(sqlstate::kInvalidParameterValue, "invalid maintenance window \"" + part + "\"",
                 "A window is HH:MM-HH:MM on a 24-hour clock.",
                 "Use for example '01:00-05:00, 22:00-23:30'; a window may wrap past midnight ('22:00-04:00').");
  };
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    std::string part = text.substr(pos, comma - pos);
    const size_t b = part.find_first_not_of(" \t");
    const size_t e = part.find_last_not_of(" \t");
    part = b == std::string::npos ? "" : part.substr(b, e - b + 1);
    pos = comma + 1;
    if (part.empty()) {
      if (comma == text.size() && out.empty() && text.find_first_not_of(" \t") == std::string::npos) break;
      throw bad(text);  // an empty entry: show the whole list
    }
    int h1, m1, h2, m2;
    char tail;
    if (std::sscanf(part.c_str(), "%d:%d-%d:%d%c", &h1, &m1, &h2, &m2, &tail) != 4) throw bad(part);
    auto ok = [](int h, int m, bool end) { return m >= 0 && m < 60 && h >= 0 && (h < 24 || (end && h == 24 && m == 0)); };
    if (!ok(h1, m1, false) || !ok(h2, m2, true)) throw bad(part);
    const Window w{h1 * 60 + m1, (h2 * 60 + m2) % 1440};
    if (w.start == w.end && !(h2 == 24 || (h1 == 0 && m1 == 0 && h2 == 0 && m2 == 0))) throw bad(part);
    out.push_back(w.start == w.end ? Window{0, 1440} : w);
    if (comma == text.size()) break;
  }
  return out;
}

const char* KindName(ActionKind k) {
  switch (k) {
    case ActionKind::kUrgentVacuum: return "vacuum_urgent";
    case ActionKind::kFreezeCold: return "vacuum_freeze";
    case ActionKind::kAnalyzeParent: return "analyze_parent";
    case ActionKind::kAnalyzeHot: return "analyze_hot";
    case ActionKind::kFreezeHot: return "vacuum_freeze_hot";
    case ActionKind::kVacuumDead: return "vacuum_dead";
    case ActionKind::kInsertHandover: return "insert_handover";
    case ActionKind::kVacuumRollup: return "vacuum_rollup";
  }
  return "?";
}

std::string HandoverSetting(const Config& cfg) {
  return "autovacuum_vacuum_insert_threshold = " + Count(2 * cfg.hot_freeze_min_rows) +
         Fmt(", autovacuum_vacuum_insert_scale_factor = %g", cfg.insert_handover_scale);
}

const char* DecisionName(Decision d) {
  switch (d) {
    case Decision::kRun: return "run";
    case Decision::kDeferredWindow: return "deferred: window";
    case Decision::kDeferredBudget: return "deferred: budget";
    case Decision::kSkippedOverride: return "skipped: override";
  }
  return "?";
}

}  // namespace strata::core::vacuum
