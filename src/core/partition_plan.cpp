// The partition-maintenance policy; see partition_plan.hpp.
#include "core/partition_plan.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/naming.hpp"

namespace strata::core {
namespace {

bool OverlapsAny(const SetState& state, const Range& r) {
  for (const auto& p : state.partitions)
    if (p.range.Overlaps(r)) return true;
  return false;
}

// reference - retention, or nullopt when the set has no retention.
std::optional<int64_t> RetentionCutoff(const SetSpec& spec, int64_t reference) {
  if (!spec.retention) return std::nullopt;
  if (spec.retention->months > 0 || IsTimeKind(spec.kind)) {
    const int64_t floor = MinKey(spec.kind);
    // A retention reaching before year 1 keeps everything.
    try {
      return AddSteps(spec.kind, *spec.retention, reference, -1);
    } catch (const Error&) {
      return floor;
    }
  }
  int64_t cutoff;
  if (__builtin_sub_overflow(reference, spec.retention->units, &cutoff)) return MinKey(spec.kind);
  return cutoff;
}

// First key of the range containing the reference and the end of the last premade range.
Range PremadeSpan(const SetSpec& spec, int64_t reference) {
  const Range cur = RangeFor(spec.kind, spec.step, reference);
  int64_t horizon;
  try {
    horizon = AddSteps(spec.kind, spec.step, cur.lo, int64_t(spec.premake) + 1);
  } catch (const Error&) {
    horizon = MaxKey(spec.kind);  // near the end of the domain: premake what fits
  }
  return Range{cur.lo, horizon};
}

int64_t ReferenceOf(const SetState& state) {
  if (state.reference) return *state.reference;
  return kEmptyIntReference;
}

}  // namespace

std::string PartitionNameFor(const SetSpec& spec, const Range& r) {
  return PartitionName(spec.parent, PartitionSuffix(spec.kind, spec.step, r.lo));
}

std::string DefaultPartitionName(const SetSpec& spec) { return PartitionName(spec.parent, "default"); }

Plan PlanMaintenance(const SetSpec& spec, const SetState& state) {
  Plan plan;
  // 1. A detach interrupted between its two transactions is finished first: Postgres allows only one
  //    pending detach per parent, and the partition no longer takes rows.
  for (const auto& p : state.partitions)
    if (p.detach_pending)
      plan.actions.push_back({ActionKind::kFinalizeDetach, p.id, p.schema, p.name, p.range, !spec.keep_detached,
                              "a concurrent detach was interrupted; finishing it"});

  const int64_t reference = ReferenceOf(state);

  // 2. Premake: the range holding the reference and `premake` ranges after it.
  const Range span = PremadeSpan(spec, reference);
  plan.premade = span;
  for (int64_t lo = span.lo; lo < span.hi;) {
    int64_t hi;
    try {
      hi = AddSteps(spec.kind, spec.step, lo, 1);
    } catch (const Error&) {
      break;
    }
    const Range r{lo, hi};
    if (!OverlapsAny(state, r))
      plan.actions.push_back({ActionKind::kCreate, 0, spec.schema, PartitionNameFor(spec, r), r, false,
                              lo <= reference ? "the range holding current data has no partition"
                                              : "premake: partition ahead of the data"});
    lo = hi;
  }

  // 3. Retention: whole partitions that end at or before the cutoff, oldest first. Ranges the premake
  //    step just created are never candidates, whatever the retention.
  plan.retention_cutoff = RetentionCutoff(spec, reference);
  if (plan.retention_cutoff) {
    std::vector<const ExistingPartition*> old;
    for (const auto& p : state.partitions)
      if (!p.detach_pending && p.range.hi <= *plan.retention_cutoff && p.range.hi <= span.lo)
        old.push_back(&p);
    std::sort(old.begin(), old.end(),
              [](const ExistingPartition* a, const ExistingPartition* b) { return a->range.lo < b->range.lo; });
    for (const auto* p : old)
      plan.actions.push_back({ActionKind::kDetach, p->id, p->schema, p->name, p->range, !spec.keep_detached,
                              "retention: every key is older than the cutoff"});
  }
  return plan;
}

DefaultDecision DecideDefaultKey(const SetSpec& spec, const SetState& state, int64_t key) {
  DefaultDecision d;
  d.range = RangeFor(spec.kind, spec.step, key);
  const int64_t reference = ReferenceOf(state);
  const Range span = PremadeSpan(spec, reference);
  // Time sets: the horizon follows the clock. Integer sets: the frontier moves with the data, so the
  // horizon is `premake` ranges past the newest partition (a moved row makes its range the frontier).
  int64_t horizon = span.hi;
  if (!IsTimeKind(spec.kind)) {
    for (const auto& p : state.partitions) {
      if (p.range.hi == INT64_MAX) continue;
      int64_t h;
      try {
        h = AddSteps(spec.kind, spec.step, AlignDown(spec.kind, spec.step, p.range.hi), int64_t(spec.premake));
      } catch (const Error&) {
        h = MaxKey(spec.kind);
      }
      horizon = std::max(horizon, h);
    }
  }
  const auto cutoff = RetentionCutoff(spec, reference);
  if (d.range.lo >= horizon) {
    d.verdict = DefaultVerdict::kBeyondHorizon;
    d.reason = "key is beyond the premake horizon; left in the default partition";
  } else if (cutoff && d.range.hi <= *cutoff) {
    d.verdict = DefaultVerdict::kBeforeRetention;
    d.reason = "key is older than the retention cutoff; left in the default partition";
  } else if (OverlapsAny(state, d.range)) {
    d.verdict = DefaultVerdict::kOverlapsPartition;
    d.reason = "the key's range overlaps a partition that is not aligned to the set's interval";
  } else {
    d.verdict = DefaultVerdict::kMove;
    d.name = PartitionNameFor(spec, d.range);
    d.reason = "rows in the default partition: creating their partition and moving them home";
  }
  return d;
}

}  // namespace strata::core
