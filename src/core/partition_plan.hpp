// The partition-maintenance policy, free of Postgres: given a set's configuration and what exists now,
// decide which partitions to create, which to detach and drop, and where rows found in the default
// partition belong. The glue (src/partitions/) gathers the facts and executes the plan.
// Terms: the "reference" key is where the set's data is now (the clock for time sets, the largest key
// stored in a partition for integer sets). The "horizon" is the end of the last premade range: strata
// never creates a partition at or beyond it, so a far-future key cannot make it create thousands.
#pragma once
#include "core/no_postgres.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/keyspace.hpp"

namespace strata::core {

struct SetSpec {
  std::string schema;
  std::string parent;  // unqualified, unquoted
  KeyKind kind = KeyKind::kTimestampTz;
  Step step;
  int premake = 4;
  std::optional<Step> retention;  // keep ranges whose upper bound is above reference - retention
  bool keep_detached = false;     // retention detaches but does not drop
  bool default_partition = false;
};

struct ExistingPartition {
  uint32_t id = 0;  // the glue's handle (the partition's oid)
  std::string schema;
  std::string name;
  Range range;
  bool detach_pending = false;
};

struct SetState {
  std::vector<ExistingPartition> partitions;  // any order; default partition excluded
  std::optional<int64_t> reference;           // none: integer set with no rows yet
};

enum class ActionKind { kFinalizeDetach, kCreate, kDetach };

struct Action {
  ActionKind kind;
  uint32_t id = 0;  // ExistingPartition::id for actions on existing partitions
  std::string schema;
  std::string name;
  Range range;
  bool drop = false;  // kDetach: drop the table once detached
  std::string reason;
};

struct Plan {
  std::vector<Action> actions;
  std::optional<Range> premade;  // [first range kept current, horizon)
  std::optional<int64_t> retention_cutoff;
};

// The integer reference when a set has no partitions yet: the first range starts at 0.
inline constexpr int64_t kEmptyIntReference = 0;

// Decides the maintenance actions for one set; throws core::Error on keys out of range.
Plan PlanMaintenance(const SetSpec& spec, const SetState& state);

// Where a key found in the default partition belongs.
enum class DefaultVerdict { kMove, kBeyondHorizon, kBeforeRetention, kOverlapsPartition };
struct DefaultDecision {
  DefaultVerdict verdict;
  Range range;       // the aligned range of the key
  std::string name;  // partition to create for kMove
  std::string reason;
};
DefaultDecision DecideDefaultKey(const SetSpec& spec, const SetState& state, int64_t key);

// Name of the partition holding range r of this set.
std::string PartitionNameFor(const SetSpec& spec, const Range& r);
// Name of the set's default partition.
std::string DefaultPartitionName(const SetSpec& spec);

}  // namespace strata::core
