// Query routing: an aggregate query on a rollup's raw source planned against the rollup when that gives
// the same answer and costs less (design: README.md).
#pragma once

#include <string>
#include <vector>

#include "pg/postgres.hpp"

namespace strata::routing {

// One candidate's outcome (strata.explain_routing's rows; the raw plan is a row too).
struct Decision {
  std::string rollup;       // the rollup (its view) or "(raw)"
  std::string decision;     // chosen, rejected, not cheapest
  std::string reason_code;  // stable: shape, rls, privilege, staleness, grain, dimension, filter, measure, cost, error
  std::string reason;
  double est_rows = -1, est_cost = -1;  // -1: not planned
};

// Installs the planner hook (from _PG_init).
void Init();

// The last decision the planner hook made in this backend for a statement it analyzed (not for
// explain_routing): the rollup that answers it ("" when it runs as written) and, when approximate, with
// what bounds. `known` false after Forget() until the next such statement (strata.query_metrics reads it
// right after its own statement).
struct LastDecision {
  bool known = false;
  std::string rollup;
  std::string approximate;
};
const LastDecision& Last();
void Forget();

// Plans `parse` by routing's rules: the routed plan when a rollup answers it for less, else nullptr
// (and, when `raw` is given, the raw plan it was compared with). With `explain`, every candidate is
// planned and described. Runs inside the caller's subtransaction; may throw.
PlannedStmt* Route(Query* parse, int cursor_options, ParamListInfo bound, std::vector<Decision>* explain,
                   PlannedStmt** raw);

}  // namespace strata::routing
