// strata.max_raw_rows (guardrail.hpp, README.md).
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "agents/guardrail.hpp"
#include "config.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"
#include "rollups/candidates.hpp"
#include "routing/routed_plan.hpp"

namespace strata::agents {
namespace {

ExecutorStart_hook_type prev_executor_start = nullptr;
bool writing_hint = false;  // the hint's own catalog reads are not checked

// The table a scan's rows are counted under: a partition's root (the table the statement named).
Oid CountedUnder(Oid rel) {
  if (!get_rel_relispartition(rel)) return rel;
  List* up = get_partition_ancestors(rel);
  const Oid root = up != NIL ? llast_oid(up) : rel;
  list_free(up);
  return root;
}

// Rows a whole-relation scan reads: the relation's tuples as the planner estimates them (its statistics
// scaled to its current size).
double RelationRows(Oid relid) {
  Relation rel = RelationIdGetRelation(relid);
  if (rel == nullptr) return 0;
  BlockNumber pages = 0;
  double tuples = 0, allvisfrac = 0;
  if (rel->rd_rel->relkind == RELKIND_RELATION || rel->rd_rel->relkind == RELKIND_MATVIEW ||
      rel->rd_rel->relkind == RELKIND_TOASTVALUE)
    estimate_rel_size(rel, nullptr, &pages, &tuples, &allvisfrac);  // no per-column widths wanted
  RelationClose(rel);
  return tuples;
}

// The rows a plan's scans of tables are estimated to read, per table (partitions under their root): a
// sequential scan reads the whole relation, an index or bitmap scan the rows its conditions select (as
// estimated), an inner side of a nested loop once per outer row. `frac`: the share of its rows a
// streaming parent asks for (a LIMIT over scans that feed it row by row stops them early; a sort, an
// aggregate or a hash reads everything below it first). The walk itself does not ERROR; the map's
// allocations are the only C++ ones.
void Collect(const PlannedStmt* ps, const Plan* plan, double loops, double frac, std::map<Oid, double>* out) {
  if (plan == nullptr) return;
  const auto relid = [&](const Plan* p) {
    const Index i = reinterpret_cast<const Scan*>(p)->scanrelid;
    const RangeTblEntry* rte = rt_fetch(i, ps->rtable);
    return rte->rtekind == RTE_RELATION ? rte->relid : InvalidOid;
  };
  const auto list = [&](List* plans, double l, double f) {
    ListCell* lc;
    foreach (lc, plans) Collect(ps, static_cast<Plan*>(lfirst(lc)), l, f, out);
  };
  switch (nodeTag(plan)) {
    case T_SeqScan:
    case T_SampleScan: {
      const Oid r = relid(plan);
      // A parallel scan reads the relation once across its processes.
      if (OidIsValid(r)) (*out)[CountedUnder(r)] += RelationRows(r) * frac * (plan->parallel_aware ? 1 : loops);
      return;
    }
    case T_IndexScan:
    case T_IndexOnlyScan:
    case T_BitmapHeapScan:
    case T_TidScan:
    case T_TidRangeScan: {
      const Oid r = relid(plan);
      if (OidIsValid(r)) (*out)[CountedUnder(r)] += plan->plan_rows * frac * loops;
      return;
    }
    case T_Limit: {
      const Limit* l = castNode(Limit, plan);
      double wanted = -1;
      if (l->limitCount && IsA(l->limitCount, Const) && !castNode(Const, l->limitCount)->constisnull) {
        wanted = static_cast<double>(DatumGetInt64(castNode(Const, l->limitCount)->constvalue));
        if (l->limitOffset && IsA(l->limitOffset, Const) && !castNode(Const, l->limitOffset)->constisnull)
          wanted += static_cast<double>(DatumGetInt64(castNode(Const, l->limitOffset)->constvalue));
      }
      const double below = std::max(plan->lefttree->plan_rows, 1.0);
      Collect(ps, plan->lefttree, loops, wanted >= 0 ? frac * std::min(1.0, wanted / below) : frac, out);
      return;
    }
    case T_NestLoop:
      Collect(ps, plan->lefttree, loops, frac, out);
      Collect(ps, plan->righttree, loops * std::max(plan->lefttree->plan_rows * frac, 1.0), 1, out);
      return;
    case T_HashJoin:  // the inner side is hashed whole, the outer streams
    case T_MergeJoin:
      Collect(ps, plan->lefttree, loops, frac, out);
      Collect(ps, plan->righttree, loops, IsA(plan, MergeJoin) ? frac : 1, out);
      return;
    case T_Result:
    case T_ProjectSet:
    case T_Unique:
      Collect(ps, plan->lefttree, loops, frac, out);
      return;
    case T_Append: list(castNode(Append, plan)->appendplans, loops, frac); return;
    case T_MergeAppend: list(castNode(MergeAppend, plan)->mergeplans, loops, frac); return;
    case T_SubqueryScan: Collect(ps, castNode(SubqueryScan, plan)->subplan, loops, frac, out); return;
    // Per process for a parallel index scan: about the workers and the leader each.
    case T_Gather: Collect(ps, plan->lefttree, loops * (castNode(Gather, plan)->num_workers + 1), frac, out); return;
    case T_GatherMerge:
      Collect(ps, plan->lefttree, loops * (castNode(GatherMerge, plan)->num_workers + 1), frac, out);
      return;
    default:  // sorts, aggregates, hashes, materializations: everything below is read
      Collect(ps, plan->lefttree, loops, 1, out);
      Collect(ps, plan->righttree, loops, 1, out);
      return;
  }
}

// What could answer the question instead, for the table read most: its rollups (routing answers a query
// on the table from one of them when it can), or how to make one.
std::string Hint(Oid table) {
  std::vector<rollups::Candidate> candidates;
  writing_hint = true;
  try {
    pg::SpiConnect();
    candidates = rollups::CandidatesOf(table, 0);
    pg::SpiFinish();
  } catch (...) {
    writing_hint = false;
    throw;
  }
  writing_hint = false;
  std::string name;
  pg::Call([&] { name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(table)), get_rel_name(table)); });
  if (candidates.empty())
    return "No rollup reads " + name + ": make one for the questions asked of it (strata.create_rollup), or narrow "
           "the statement to fewer rows.";
  std::string list;
  for (const auto& c : candidates) {
    std::string dims;
    for (const auto& d : c.spec.dims) dims += (dims.empty() ? "" : ", ") + d.name;
    list += (list.empty() ? "" : "; ") + c.name + " (" + c.spec.bucket_expr + (dims.empty() ? "" : " by " + dims) + ")";
  }
  return "Rollups of " + name + " answer aggregate questions on it at their grain and dimensions: " + list +
         ". strata.explain_routing(<the statement>) says why none answers this one.";
}

void Check(QueryDesc* desc, int eflags) {
  if (config::max_raw_rows <= 0 || (eflags & EXEC_FLAG_EXPLAIN_ONLY) || desc->plannedstmt == nullptr ||
      desc->plannedstmt->commandType == CMD_UTILITY)
    return;
  std::map<Oid, double> read;
  const PlannedStmt* ps = desc->plannedstmt;
  if (const auto routed = routing::ReadRoutedFigures(ps)) {
    // A plan routing made: its own estimate, without the arms that read rows only in rare states (a
    // changed TimeZone, buckets pending a recompute, frozen buckets still holding rows).
    if (static_cast<double>(routed->rows_read) <= static_cast<double>(config::max_raw_rows)) return;
    read[routed->view] = static_cast<double>(routed->rows_read);
  } else {
    pg::Call([&] {
      Collect(ps, ps->planTree, 1, 1, &read);
      ListCell* lc;
      foreach (lc, ps->subplans) Collect(ps, static_cast<Plan*>(lfirst(lc)), 1, 1, &read);
    });
  }
  double total = 0;
  Oid most = InvalidOid;
  for (const auto& [rel, rows] : read) {
    total += rows;
    if (!OidIsValid(most) || rows > read[most]) most = rel;
  }
  if (total <= static_cast<double>(config::max_raw_rows)) return;
  std::string detail;
  for (const auto& [rel, rows] : read) {
    char* name = nullptr;
    pg::Call([&] { name = get_rel_name(rel); });
    char n[64];
    snprintf(n, sizeof n, "%.0f", rows);
    detail += (detail.empty() ? "" : ", ") + std::string(name ? name : "?") + ": " + n;
  }
  char t[64];
  snprintf(t, sizeof t, "%.0f", total);
  throw core::Error(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                    std::string("statement would read about ") + t + " rows from tables, more than strata.max_raw_rows (" +
                        std::to_string(config::max_raw_rows) + ")",
                    "Estimated rows read per table: " + detail + ".", Hint(most));
}

struct StartArgs {
  QueryDesc* desc;
  int eflags;
};

// Cannot let a C++ exception or a longjmp through C++ frames reach the executor: the check runs under
// the hook guard, which reports a refusal as this statement's ERROR.
void ExecutorStartHook(QueryDesc* desc, int eflags) {
  if (config::max_raw_rows > 0 && !writing_hint) {
    StartArgs args{desc, eflags};
    pg::GuardHook([](void* a) { Check(static_cast<StartArgs*>(a)->desc, static_cast<StartArgs*>(a)->eflags); }, &args);
  }
  if (prev_executor_start)
    prev_executor_start(desc, eflags);
  else
    standard_ExecutorStart(desc, eflags);
}

}  // namespace

void InitGuardrail() {
  prev_executor_start = ExecutorStart_hook;
  ExecutorStart_hook = ExecutorStartHook;
}

}  // namespace strata::agents
