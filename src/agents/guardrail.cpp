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
#include "pg/xact.hpp"
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
  // An empty relation reads nothing (the planner's estimate assumes 10 pages for a small relation never
  // vacuumed or analyzed, as strata's pending tables often are).
  if ((rel->rd_rel->relkind == RELKIND_RELATION || rel->rd_rel->relkind == RELKIND_MATVIEW ||
       rel->rd_rel->relkind == RELKIND_TOASTVALUE) &&
      RelationGetNumberOfBlocks(rel) > 0)
    estimate_rel_size(rel, nullptr, &pages, &tuples, &allvisfrac);  // no per-column widths wanted
  RelationClose(rel);
  return tuples;
}

// The walk over the executor's plan-state tree, after ExecutorStart: partitions pruned at its start
// (now(), parameters of a generic plan) are gone from it, and each node lists the subplans its own
// expressions run.
struct Walk {
  const EState* estate;
  std::map<Oid, double>* out;
  const PlanState* routed_union = nullptr;  // a routed plan's union of arms
  std::vector<int> rare;                    // its arms empty in the normal case (positions in it)
};

// A routed plan's union: the first Append down the plan's left spine (as routing costs it).
const PlanState* UnionOf(const PlanState* ps) {
  while (ps != nullptr && !IsA(ps, AppendState)) {
    if (IsA(ps, SubqueryScanState))
      ps = castNode(SubqueryScanState, const_cast<PlanState*>(ps))->subplan;
    else
      ps = outerPlanState(ps);
  }
  return ps;
}

bool IsScan(NodeTag t) {
  return t == T_SeqScan || t == T_SampleScan || t == T_IndexScan || t == T_IndexOnlyScan || t == T_BitmapHeapScan ||
         t == T_TidScan || t == T_TidRangeScan || t == T_ForeignScan;
}

// The rows a plan's scans of tables are estimated to read, per table (partitions under their root): a
// sequential scan reads the whole relation, an index, bitmap, TID or foreign scan the rows it is
// estimated to return, an inner side of a nested loop once per outer row, a subplan of a node's
// expressions once per row that node reads (an initplan once), a recursive union's recursive part ten
// times (the planner's own guess). `frac`: the share of its rows a streaming parent asks for (a LIMIT
// over scans that feed it row by row stops them early; a sort, an aggregate or a hash reads everything
// below it first). System catalogs are not counted. Does not ERROR but in relation lookups; the map's
// allocations are the only C++ ones.
void Collect(PlanState* ps, double loops, double frac, Walk* w) {
  if (ps == nullptr) return;
  const Plan* plan = ps->plan;
  const NodeTag tag = nodeTag(plan);
  Oid rel = InvalidOid;
  double scanned = 0;
  if (IsScan(tag)) {
    const Index i = reinterpret_cast<const Scan*>(plan)->scanrelid;
    if (i > 0) {
      const RangeTblEntry* rte = rt_fetch(i, w->estate->es_range_table);
      if (rte->rtekind == RTE_RELATION && !IsCatalogRelationOid(rte->relid)) rel = rte->relid;
    }
    scanned = (tag == T_SeqScan || tag == T_SampleScan) && OidIsValid(rel) ? RelationRows(rel) * frac : plan->plan_rows * frac;
  }
  ListCell* lc;
  foreach (lc, ps->initPlan) Collect(static_cast<SubPlanState*>(lfirst(lc))->planstate, loops, 1, w);
  const double rows_in =
      IsScan(tag) ? scanned : (outerPlanState(ps) ? outerPlanState(ps)->plan->plan_rows : plan->plan_rows);
  foreach (lc, ps->subPlan)
    Collect(static_cast<SubPlanState*>(lfirst(lc))->planstate, loops * std::max(rows_in, 1.0), 1, w);
  if (IsScan(tag)) {
    // A parallel sequential scan reads the relation once across its processes.
    const bool once = plan->parallel_aware && (tag == T_SeqScan || tag == T_SampleScan);
    if (OidIsValid(rel)) (*w->out)[CountedUnder(rel)] += scanned * (once ? 1 : loops);
    return;
  }
  switch (tag) {
    case T_Limit: {
      const Limit* l = castNode(Limit, plan);
      double wanted = -1;
      if (l->limitCount && IsA(l->limitCount, Const) && !castNode(Const, l->limitCount)->constisnull) {
        wanted = static_cast<double>(DatumGetInt64(castNode(Const, l->limitCount)->constvalue));
        if (l->limitOffset && IsA(l->limitOffset, Const) && !castNode(Const, l->limitOffset)->constisnull)
          wanted += static_cast<double>(DatumGetInt64(castNode(Const, l->limitOffset)->constvalue));
      }
      const double below = std::max(plan->lefttree->plan_rows, 1.0);
      Collect(outerPlanState(ps), loops, wanted >= 0 ? frac * std::min(1.0, wanted / below) : frac, w);
      return;
    }
    case T_NestLoop:
      Collect(outerPlanState(ps), loops, frac, w);
      Collect(innerPlanState(ps), loops * std::max(plan->lefttree->plan_rows * frac, 1.0), 1, w);
      return;
    case T_HashJoin:  // the inner side is hashed whole, the outer streams
      Collect(outerPlanState(ps), loops, frac, w);
      Collect(innerPlanState(ps), loops, 1, w);
      return;
    case T_MergeJoin:
    case T_Result:
    case T_ProjectSet:
    case T_Unique:
    case T_Gather:
    case T_GatherMerge: {
      // Per process below a Gather: about the workers and the leader each.
      const double l = tag == T_Gather       ? loops * (castNode(Gather, plan)->num_workers + 1)
                       : tag == T_GatherMerge ? loops * (castNode(GatherMerge, plan)->num_workers + 1)
                                              : loops;
      Collect(outerPlanState(ps), l, frac, w);
      Collect(innerPlanState(ps), l, frac, w);
      return;
    }
    case T_Append: {
      AppendState* as = castNode(AppendState, ps);
      const bool routed_union = ps == w->routed_union;
      for (int i = 0; i < as->as_nplans; i++)
        if (!routed_union || std::find(w->rare.begin(), w->rare.end(), i) == w->rare.end())
          Collect(as->appendplans[i], loops, frac, w);
      return;
    }
    case T_MergeAppend: {
      MergeAppendState* ms = castNode(MergeAppendState, ps);
      for (int i = 0; i < ms->ms_nplans; i++) Collect(ms->mergeplans[i], loops, frac, w);
      return;
    }
    case T_SubqueryScan: Collect(castNode(SubqueryScanState, ps)->subplan, loops, frac, w); return;
    case T_CustomScan:
      foreach (lc, castNode(CustomScanState, ps)->custom_ps) Collect(static_cast<PlanState*>(lfirst(lc)), loops, 1, w);
      return;
    case T_RecursiveUnion:
      Collect(outerPlanState(ps), loops, 1, w);
      Collect(innerPlanState(ps), loops * 10, 1, w);
      return;
    default:  // sorts, aggregates, hashes, materializations: everything below is read
      Collect(outerPlanState(ps), loops, 1, w);
      Collect(innerPlanState(ps), loops, 1, w);
      return;
  }
}

// What could answer the question instead, for the table read most: its rollups (routing answers a query
// on the table from one of them when it can), or how to make one. Read in a subtransaction: if reading
// fails, a plainer hint (the refusal stays what it is).
std::string Hint(Oid table, const char* statement) {
  std::string name, proposal;
  pg::Call([&] { name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(table)), get_rel_name(table)); });
  std::vector<std::string> listed;
  size_t count = 0;
  writing_hint = true;
  try {
    pg::InSubTransaction([&] {
      pg::SpiConnect();
      for (const auto& c : rollups::CandidatesOf(table, 0)) {
        if (!c.refused.empty()) continue;
        count++;
        if (listed.size() < 3) {
          std::string dims;
          for (const auto& d : c.spec.dims) dims += (dims.empty() ? "" : ", ") + d.name;
          listed.push_back(c.name + " (per " + c.spec.bucket_width + (dims.empty() ? "" : " by " + dims) + ")");
        }
      }
      pg::SpiFinish();
    });
  } catch (...) {
    listed.clear();
    count = 0;
  }
  // The rollup that would answer this statement (the advisor's reading of its text), or why none can.
  if (statement != nullptr)
    try {
      pg::InSubTransaction([&] {
        pg::SpiConnect();
        const auto rows = pg::Query("SELECT strata._proposal($1)", {std::string(statement)});
        if (!rows.empty() && rows[0][0]) proposal = *rows[0][0];
        pg::SpiFinish();
      });
    } catch (...) {
      proposal.clear();
    }
  writing_hint = false;
  const std::string make = proposal.empty() ? "" : " A rollup answering this statement: " + proposal;
  if (count == 0)
    return "No rollup answers questions on " + name + ": make one for the questions asked of it (strata.create_rollup), "
           "or narrow the statement to fewer rows." + make;
  std::string list;
  for (const auto& l : listed) list += (list.empty() ? "" : "; ") + l;
  if (count > listed.size()) list += "; " + std::to_string(count - listed.size()) + " more";
  return "Rollups of " + name + " answer aggregate questions on it: " + list +
         ". strata.explain_routing(<the statement>) says why none answers this one." + make;
}

void Check(QueryDesc* desc) {
  std::map<Oid, double> read;
  Walk w{desc->estate, &read, nullptr, {}};
  // A plan routing made leaves out the arms that read rows only in rare states, unless its TimeZone
  // guard would fail now (the session's zone is not the one it was planned in: then every row is read).
  if (const auto routed = routing::ReadRoutedFigures(desc->plannedstmt)) {
    const char* zone = nullptr;
    pg::Call([&] { zone = GetConfigOption("TimeZone", false, false); });
    if (zone && routed->time_zone == zone) {
      w.rare = routed->rare_arms;
      w.routed_union = UnionOf(desc->planstate);
    }
  }
  pg::Call([&] { Collect(desc->planstate, 1, 1, &w); });
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
                    "Estimated rows read per table: " + detail + ".", Hint(most, desc->sourceText));
}

// Checked after the executor's start, on the plan-state tree it made (pruning done); an ERROR then is as
// any statement's. Only in client backends: not in parallel workers (the leader checked the whole plan),
// nor in background workers (strata's own, or others'). Cannot let a C++ exception or a longjmp through
// C++ frames reach the executor: the check runs under the hook guard.
void ExecutorStartHook(QueryDesc* desc, int eflags) {
  if (prev_executor_start)
    prev_executor_start(desc, eflags);
  else
    standard_ExecutorStart(desc, eflags);
  if (config::max_raw_rows <= 0 || writing_hint || (eflags & EXEC_FLAG_EXPLAIN_ONLY) || IsParallelWorker() ||
      MyBackendType != B_BACKEND || desc->plannedstmt == nullptr || desc->plannedstmt->commandType == CMD_UTILITY ||
      desc->planstate == nullptr)
    return;
  pg::GuardHook([](void* d) { Check(static_cast<QueryDesc*>(d)); }, desc);
}

}  // namespace

void InitGuardrail() {
  prev_executor_start = ExecutorStart_hook;
  ExecutorStart_hook = ExecutorStartHook;
}

}  // namespace strata::agents
