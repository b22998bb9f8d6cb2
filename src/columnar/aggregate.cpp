// Aggregation over batches: the planner's side of StrataColumnarAggregate (src/columnar/README.md,
// "Aggregation over batches"). An aggregate query over a partition set with compressed partitions is
// planned partitionwise (Postgres's partial aggregation per partition, then a Finalize Aggregate over
// their Append); for each compressed partition whose partial aggregation strata can compute, the
// partial grouping rel gets one more path: the scan in aggregate mode, which returns the partial states
// themselves, computed from decoded columns without a row per value when a batch's ranges prove the
// quals. The planner keeps whichever path costs less; the heap partitions keep Postgres's own.
//
// What qualifies: no GROUP BY, or GROUP BY segment columns of the partition; every aggregate one of count(*), count(x), sum, avg and the float
// variance family of int2/int4/float4/float8, min and max of int2/int4/int8/float4/float8/date/
// timestamp/timestamptz, over a plain column of the partition, without DISTINCT, ORDER BY or FILTER;
// the partition's quals without whole-row or system columns and without pseudoconstant parts.
//
// Partitionwise aggregation is what Postgres does with enable_partitionwise_aggregate; the planner hook
// turns it on for the planning of a query that aggregates over a partitioned table with a compressed
// partition below it, and back when the planning ends or fails.
#include "core/columnar/aggregate.hpp"

#include "columnar/columnar.hpp"
#include "columnar/state.hpp"
#include "pg/guard.hpp"

namespace strata::columnar {
namespace {

using core::columnar::AggOp;

planner_hook_type prev_planner = nullptr;

constexpr const char* kAggName = "StrataColumnarAggregate";

// ---------------------------------------------------------------------------------- the planner hook

// The partitioned tables read by query levels that aggregate without GROUP BY (what aggregate mode
// serves): a level's own range table, and that of a subquery in it that does not aggregate itself (the
// planner may pull its relations up into the level). Other levels (sublinks, CTEs, aggregating
// subqueries) are looked at on their own.
void CollectLevel(Query* q, bool inherited, List** parents);

bool SublinkWalker(Node* node, List** parents);
bool SublinkWalker(Node* node, List** parents) {
  if (node == nullptr) return false;
  if (IsA(node, SubLink)) {
    CollectLevel(castNode(Query, castNode(SubLink, node)->subselect), false, parents);
    return SublinkWalker(castNode(SubLink, node)->testexpr, parents);
  }
  if (IsA(node, Query)) return false;
  return expression_tree_walker(node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(SublinkWalker)), parents);
}

// GROUP BY plain columns only (aggregate mode groups by segment columns).
bool GroupsByColumns(Query* q) {
  ListCell* lc;
  foreach (lc, q->groupClause) {
    Node* e = get_sortgroupclause_expr(lfirst_node(SortGroupClause, lc), q->targetList);
    if (!IsA(e, Var)) return false;
  }
  return true;
}

void CollectLevel(Query* q, bool inherited, List** parents) {
  const bool plain_aggregate = q->hasAggs && q->groupingSets == NIL && GroupsByColumns(q);
  const bool take = inherited || plain_aggregate;
  ListCell* lc;
  foreach (lc, q->rtable) {
    auto* rte = lfirst_node(RangeTblEntry, lc);
    if (rte->rtekind == RTE_RELATION && rte->relkind == RELKIND_PARTITIONED_TABLE && take)
      *parents = list_append_unique_oid(*parents, rte->relid);
    if (rte->rtekind == RTE_SUBQUERY) {
      Query* sub = rte->subquery;
      CollectLevel(sub, take && !sub->hasAggs && sub->groupClause == NIL && sub->groupingSets == NIL, parents);
    }
  }
  foreach (lc, q->cteList) CollectLevel(castNode(Query, lfirst_node(CommonTableExpr, lc)->ctequery), false, parents);
  query_tree_walker(q, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(SublinkWalker)), parents,
                    QTW_IGNORE_RANGE_TABLE | QTW_IGNORE_CTE_SUBQUERIES);
}

// Whether a partition of `parent` (at any level) is compressed. The query's relations are locked
// before it is planned.
bool HasCompressedBelow(Oid parent) {
  Oid* children = nullptr;
  bool* partitioned = nullptr;
  int n = 0;
  pg::Call([&] {
    Relation rel = relation_open(parent, AccessShareLock);
    PartitionDesc pd = RelationGetPartitionDesc(rel, false);
    n = pd->nparts;
    children = static_cast<Oid*>(palloc(sizeof(Oid) * std::max(1, n)));
    partitioned = static_cast<bool*>(palloc(sizeof(bool) * std::max(1, n)));
    for (int i = 0; i < n; i++) {
      children[i] = pd->oids[i];
      partitioned[i] = !pd->is_leaf[i];
    }
    relation_close(rel, NoLock);
  });
  for (int i = 0; i < n; i++)
    if (partitioned[i] ? HasCompressedBelow(children[i]) : Lookup(children[i]).has_value()) return true;
  return false;
}

struct WantArgs {
  Query* parse;
  bool want;
};

// Cheap for the statements that do not qualify: the walk reads the query alone; the state is asked
// only for queries that aggregate over partitioned tables.
void Want(void* arg) {
  auto* a = static_cast<WantArgs*>(arg);
  List* parents = NIL;
  pg::Call([&] { CollectLevel(a->parse, false, &parents); });
  if (parents == NIL || !AnyCompressed()) return;
  ListCell* lc;
  foreach (lc, parents)
    if (HasCompressedBelow(lfirst_oid(lc))) {
      a->want = true;
      return;
    }
}

PlannedStmt* NextPlanner(Query* parse, const char* query_string, int cursor_options, ParamListInfo bound) {
  return prev_planner ? prev_planner(parse, query_string, cursor_options, bound)
                      : standard_planner(parse, query_string, cursor_options, bound);
}

}  // namespace
}  // namespace strata::columnar

// The hook holds no C++ object: an error of the planning passes through it, and PG_FINALLY sets the
// setting back.
extern "C" PlannedStmt* strata_columnar_planner(Query* parse, const char* query_string, int cursor_options,
                                                ParamListInfo bound) {
  using namespace strata::columnar;
  WantArgs want{parse, false};
  if (!enable_partitionwise_aggregate && Preloaded()) strata::pg::GuardHook(Want, &want);
  if (!want.want) return NextPlanner(parse, query_string, cursor_options, bound);
  PlannedStmt* volatile result = nullptr;
  enable_partitionwise_aggregate = true;
  PG_TRY();
  { result = NextPlanner(parse, query_string, cursor_options, bound); }
  PG_FINALLY();
  { enable_partitionwise_aggregate = false; }
  PG_END_TRY();
  return result;
}

namespace strata::columnar {
namespace {

// ------------------------------------------------------------------------------------ the path

bool IsIntType(Oid t) {
  return t == INT2OID || t == INT4OID || t == INT8OID || t == DATEOID || t == TIMESTAMPOID || t == TIMESTAMPTZOID;
}

struct AggOf {
  AggOp op;
  AttrNumber attno;  // 0: count(*)
  Oid type;
};

// The op computing this partial Aggref over relation `relid`, or nullopt.
std::optional<AggOf> Classify(Aggref* a, Index relid) {
  if (a->aggsplit != AGGSPLIT_INITIAL_SERIAL || a->agglevelsup != 0 || a->aggkind != AGGKIND_NORMAL ||
      a->aggdistinct != NIL || a->aggorder != NIL || a->aggfilter != nullptr || a->aggvariadic ||
      a->aggfnoid >= FirstGenbkiObjectId)
    return std::nullopt;
  HeapTuple tup = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(a->aggfnoid));
  if (!HeapTupleIsValid(tup)) return std::nullopt;
  const Oid transfn = reinterpret_cast<Form_pg_aggregate>(GETSTRUCT(tup))->aggtransfn;
  ReleaseSysCache(tup);
  if (a->aggstar) {
    if (transfn == F_INT8INC && a->args == NIL) return AggOf{AggOp::kCountStar, 0, InvalidOid};
    return std::nullopt;
  }
  if (list_length(a->args) != 1) return std::nullopt;
  Node* arg = reinterpret_cast<Node*>(linitial_node(TargetEntry, a->args)->expr);
  if (!IsA(arg, Var)) return std::nullopt;
  auto* v = castNode(Var, arg);
  if (v->varno != int(relid) || v->varlevelsup != 0 || v->varattno <= 0) return std::nullopt;
  const Oid t = v->vartype;
  const AttrNumber x = v->varattno;
  switch (transfn) {
    case F_INT8INC_ANY: return AggOf{AggOp::kCount, x, t};
    case F_INT2_SUM:
    case F_INT4_SUM:
      if (t == INT2OID || t == INT4OID) return AggOf{AggOp::kSumInt, x, t};
      break;
    case F_INT2_AVG_ACCUM:
    case F_INT4_AVG_ACCUM:
      if (t == INT2OID || t == INT4OID) return AggOf{AggOp::kAvgInt, x, t};
      break;
    case F_FLOAT8PL:
      if (t == FLOAT8OID) return AggOf{AggOp::kSumFloat8, x, t};
      break;
    case F_FLOAT4PL:
      if (t == FLOAT4OID) return AggOf{AggOp::kSumFloat4, x, t};
      break;
    case F_FLOAT8_ACCUM:
      if (t == FLOAT8OID) return AggOf{AggOp::kAccumFloat, x, t};
      break;
    case F_FLOAT4_ACCUM:
      if (t == FLOAT4OID) return AggOf{AggOp::kAccumFloat, x, t};
      break;
    case F_INT2SMALLER:
    case F_INT4SMALLER:
    case F_INT8SMALLER:
    case F_DATE_SMALLER:
    case F_TIMESTAMP_SMALLER:
    case F_TIMESTAMPTZ_SMALLER:
      if (IsIntType(t)) return AggOf{AggOp::kMinInt, x, t};
      break;
    case F_INT2LARGER:
    case F_INT4LARGER:
    case F_INT8LARGER:
    case F_DATE_LARGER:
    case F_TIMESTAMP_LARGER:
    case F_TIMESTAMPTZ_LARGER:
      if (IsIntType(t)) return AggOf{AggOp::kMaxInt, x, t};
      break;
    case F_FLOAT8SMALLER:
      if (t == FLOAT8OID) return AggOf{AggOp::kMinFloat8, x, t};
      break;
    case F_FLOAT8LARGER:
      if (t == FLOAT8OID) return AggOf{AggOp::kMaxFloat8, x, t};
      break;
    case F_FLOAT4SMALLER:
      if (t == FLOAT4OID) return AggOf{AggOp::kMinFloat4, x, t};
      break;
    case F_FLOAT4LARGER:
      if (t == FLOAT4OID) return AggOf{AggOp::kMaxFloat4, x, t};
      break;
    default:
      break;
  }
  return std::nullopt;
}

// Whether the quals can run in aggregate mode: no pseudoconstant (a gating Result would go above a
// plain scan), no whole-row or system column (custom_scan_tlist holds the user columns), no CURRENT OF.
bool QualsFit(RelOptInfo* rel) {
  ListCell* lc;
  foreach (lc, rel->baserestrictinfo) {
    auto* ri = lfirst_node(RestrictInfo, lc);
    if (ri->pseudoconstant || IsA(ri->clause, CurrentOfExpr)) return false;
    Bitmapset* attrs = nullptr;
    pull_varattnos(reinterpret_cast<Node*>(ri->clause), rel->relid, &attrs);
    int x = -1;
    while ((x = bms_next_member(attrs, x)) >= 0)
      if (x + FirstLowInvalidHeapAttributeNumber <= 0) return false;
  }
  return true;
}

// custom_private of the path: relid of the partition (Integer), then ops, attnos, types, grouping columns (lists).
Plan* PlanAggPath(PlannerInfo* root, RelOptInfo*, CustomPath* best_path, List* tlist, List*, List*);

const CustomPathMethods kAggPathMethods = {kAggName, PlanAggPath, nullptr};

struct UpperArgs {
  PlannerInfo* root;
  RelOptInfo* input;
  RelOptInfo* output;
  void* extra;
};

// Whether aggregate mode can read `in`: its only path is the scan, unparameterized, and the query has no
// grouping sets (and no GROUP BY unless `grouped`: the target's columns are then checked).
// The partition's scan path (through the projection the planner may put over it), or nullptr.
Path* ScanOf(RelOptInfo* in) {
  Path* scan = in->cheapest_total_path;
  if (scan != nullptr && IsA(scan, ProjectionPath)) scan = castNode(ProjectionPath, scan)->subpath;
  return IsScanPath(scan) ? scan : nullptr;
}

bool Fits(PlannerInfo* root, RelOptInfo* in, bool grouped) {
  Path* scan = ScanOf(in);
  return scan != nullptr && scan->param_info == nullptr && bms_is_empty(in->lateral_relids) &&
         (grouped || root->parse->groupClause == NIL) && root->parse->groupingSets == NIL && QualsFit(in);
}

// What a group of aggregate mode holds (its accumulators and key), for the work_mem check.
constexpr double kGroupBytes = 256;

// The aggregate-mode path computing the partial Aggrefs of `target` over `in`, as a path of `parent`;
// nullptr when one of them is not computed by an accumulator, a grouping column is not one of
// `segment` (the partition's segment columns, read by the caller) or the groups would not fit in
// work_mem. Within pg::Call.
CustomPath* MakeAggPath(PlannerInfo* root, RelOptInfo* in, RelOptInfo* parent, PathTarget* target,
                        const std::vector<AttrNumber>& segment) {
  List *ops = NIL, *attnos = NIL, *types = NIL, *keys = NIL, *key_vars = NIL;
  ListCell* lc;
  foreach (lc, target->exprs) {
    Node* e = static_cast<Node*>(lfirst(lc));
    if (IsA(e, Var)) {  // a grouping column: one of the partition's segment columns
      auto* v = castNode(Var, e);
      if (v->varno != int(in->relid) || v->varlevelsup != 0 || v->varattno <= 0) return nullptr;
      if (std::find(segment.begin(), segment.end(), v->varattno) == segment.end()) return nullptr;
      if (!list_member_int(keys, v->varattno)) key_vars = lappend(key_vars, v);
      keys = list_append_unique_int(keys, v->varattno);
      if (list_length(keys) > INDEX_MAX_KEYS) return nullptr;
      continue;
    }
    if (!IsA(e, Aggref)) return nullptr;
    const std::optional<AggOf> g = Classify(castNode(Aggref, e), in->relid);
    if (!g) return nullptr;
    ops = lappend_int(ops, int(g->op));
    attnos = lappend_int(attnos, g->attno);
    types = lappend_oid(types, g->type);
  }
  if (ops == NIL) return nullptr;
  // Groups: one per distinct key among the partition's rows, all in memory (no spill).
  double groups = 1;
  if (key_vars != NIL) {
    groups = estimate_num_groups(root, key_vars, std::max(1.0, in->rows), nullptr, nullptr);
    if (groups * (kGroupBytes + 64.0 * list_length(ops)) > double(work_mem) * 1024.0) return nullptr;
  }
  Path* scan = ScanOf(in);
  CustomPath* p = makeNode(CustomPath);
  p->path.pathtype = T_CustomScan;
  p->path.parent = parent;
  p->path.pathtarget = target;
  p->path.param_info = nullptr;
  p->path.parallel_aware = false;
  p->path.parallel_safe = false;
  p->path.parallel_workers = 0;
  p->path.rows = std::max(1.0, groups);
  // The scan's pages and decoding without a row per value: less than the scan alone, which the
  // Partial Aggregate it replaces adds its per-row work to.
  p->path.startup_cost = p->path.total_cost = scan->startup_cost + (scan->total_cost - scan->startup_cost) * 0.5;
  p->path.pathkeys = NIL;
  p->flags = 0;
  p->custom_paths = NIL;
  p->custom_private = list_make5(makeInteger(int(in->relid)), ops, attnos, types, keys);
  p->methods = &kAggPathMethods;
  return p;
}

// A partition of a set read partitionwise: the path goes into its partial grouping rel, under the
// Append that Postgres's Finalize Aggregate reads.
void AddPartialPath(void* arg) {
  auto* a = static_cast<UpperArgs*>(arg);
  const std::optional<Compressed> c = Lookup(planner_rt_fetch(a->input->relid, a->root)->relid);
  if (!c) return;
  pg::Call([&] {
    if (!Fits(a->root, a->input, true)) return;
    CustomPath* p = MakeAggPath(a->root, a->input, a->output, a->output->reltarget, c->segment);
    if (p != nullptr) add_path(a->output, &p->path);
  });
}

// A compressed partition read by itself: a Finalize Aggregate over the path, beside Postgres's own
// paths of the grouping rel.
void AddFinalizedPath(void* arg) {
  auto* a = static_cast<UpperArgs*>(arg);
  PlannerInfo* root = a->root;
  auto* extra = static_cast<GroupPathExtraData*>(a->extra);
  if (extra == nullptr || (extra->flags & GROUPING_CAN_PARTIAL_AGG) == 0) return;
  const std::optional<Compressed> c = Lookup(planner_rt_fetch(a->input->relid, root)->relid);
  if (!c) return;
  pg::Call([&] {
    if (!Fits(root, a->input, false)) return;
    // The partial target: every Aggref of the target and of HAVING, marked partial (what the Finalize
    // Aggregate's Aggrefs are matched with when the plan's references are set).
    const int flags = PVC_INCLUDE_AGGREGATES | PVC_RECURSE_WINDOWFUNCS | PVC_INCLUDE_PLACEHOLDERS;
    List* found = pull_var_clause(reinterpret_cast<Node*>(a->output->reltarget->exprs), flags);
    found = list_concat(found, pull_var_clause(extra->havingQual, flags));
    PathTarget* partial = create_empty_pathtarget();
    ListCell* lc;
    foreach (lc, found) {
      Node* e = static_cast<Node*>(lfirst(lc));
      if (!IsA(e, Aggref)) return;
      Aggref* copy = static_cast<Aggref*>(copyObjectImpl(e));
      mark_partial_aggref(copy, AGGSPLIT_INITIAL_SERIAL);
      add_new_column_to_pathtarget(partial, reinterpret_cast<Expr*>(copy));
    }
    set_pathtarget_cost_width(root, partial);
    RelOptInfo* prel = fetch_upper_rel(root, UPPERREL_PARTIAL_GROUP_AGG, a->input->relids);
    CustomPath* p = MakeAggPath(root, a->input, prel, partial, c->segment);
    if (p == nullptr) return;
    AggClauseCosts costs;
    MemSet(&costs, 0, sizeof costs);
    get_agg_clause_costs(root, AGGSPLIT_FINAL_DESERIAL, &costs);
    Path* fin = &create_agg_path(root, a->output, &p->path, a->output->reltarget, AGG_PLAIN, AGGSPLIT_FINAL_DESERIAL,
                                 NIL, reinterpret_cast<List*>(extra->havingQual), &costs, 1)->path;
    add_path(a->output, fin);
  });
}

// Postgres calls no create_upper_paths_hook for a partial grouping rel, only the FDW callback of the
// rel's fdwroutine, which a grouping rel takes from its input rel: a compressed partition read by an
// aggregating SELECT carries a routine with this callback alone (OfferAggregation).
void UpperPaths(PlannerInfo* root, UpperRelationKind stage, RelOptInfo* input, RelOptInfo* output, void* extra) {
  if (input->rtekind != RTE_RELATION) return;
  UpperArgs args{root, input, output, extra};
  if (stage == UPPERREL_PARTIAL_GROUP_AGG &&
      (input->reloptkind == RELOPT_BASEREL || input->reloptkind == RELOPT_OTHER_MEMBER_REL))
    pg::GuardHook(AddPartialPath, &args);
  else if (stage == UPPERREL_GROUP_AGG && input->reloptkind == RELOPT_BASEREL)
    pg::GuardHook(AddFinalizedPath, &args);
}

FdwRoutine* routine = nullptr;

struct PlanArgs {
  PlannerInfo* root;
  CustomPath* path;
  List* tlist;
  Plan* plan;
};

// The scan's plan in aggregate mode: custom_scan_tlist is the partition's columns in attnum order (a
// NULL for a dropped one), so that quals keep their attnums, then the partial aggregates; the target
// list reads the aggregates from it.
void MakeAggPlan(void* arg) {
  auto* a = static_cast<PlanArgs*>(arg);
  PlannerInfo* root = a->root;
  List* priv = a->path->custom_private;
  const Index relid = Index(intVal(linitial(priv)));
  RelOptInfo* in = root->simple_rel_array[relid];
  CustomScan* cscan = MakeScanPlan(root, in, a->path, a->tlist, in->baserestrictinfo);
  pg::Call([&] {
    cscan->methods = &AggScanMethods();
    cscan->flags = 0;
    Relation rel = table_open(planner_rt_fetch(relid, root)->relid, NoLock);
    TupleDesc desc = RelationGetDescr(rel);
    List* scan_tlist = NIL;
    AttrNumber resno = 1;
    for (int i = 0; i < desc->natts; i++) {
      Form_pg_attribute att = TupleDescAttr(desc, i);
      Expr* e = att->attisdropped
                    ? reinterpret_cast<Expr*>(makeNullConst(INT4OID, -1, InvalidOid))
                    : reinterpret_cast<Expr*>(makeVar(int(relid), att->attnum, att->atttypid, att->atttypmod, att->attcollation, 0));
      scan_tlist = lappend(scan_tlist, makeTargetEntry(e, resno++, nullptr, false));
    }
    table_close(rel, NoLock);
    ListCell* lc;
    foreach (lc, a->tlist) {  // the aggregates (grouping columns are read from the columns above)
      Expr* e = lfirst_node(TargetEntry, lc)->expr;
      if (IsA(e, Aggref)) scan_tlist = lappend(scan_tlist, makeTargetEntry(e, resno++, nullptr, false));
    }
    cscan->custom_scan_tlist = scan_tlist;
    // The columns to decode: the aggregates' and the quals'.
    Bitmapset* attrs = nullptr;
    pull_varattnos(reinterpret_cast<Node*>(cscan->scan.plan.qual), relid, &attrs);
    foreach (lc, list_concat_copy(static_cast<List*>(lthird(priv)), static_cast<List*>(list_nth(priv, 4)))) {
      const int x = lfirst_int(lc);
      if (x > 0) attrs = bms_add_member(attrs, x - FirstLowInvalidHeapAttributeNumber);
    }
    List* needed = NIL;
    for (AttrNumber x = 1; x <= in->max_attr; x++)
      if (bms_is_member(x - FirstLowInvalidHeapAttributeNumber, attrs)) needed = lappend_int(needed, x);
    linitial(cscan->custom_private) = needed;
    cscan->custom_private = lappend(cscan->custom_private, lsecond(priv));  // 14: ops
    cscan->custom_private = lappend(cscan->custom_private, lthird(priv));   // 15: attnos
    cscan->custom_private = lappend(cscan->custom_private, lfourth(priv));      // 16: types
    cscan->custom_private = lappend(cscan->custom_private, list_nth(priv, 4));  // 17: grouping columns
    a->plan = &cscan->scan.plan;
  });
}

Plan* PlanAggPath(PlannerInfo* root, RelOptInfo*, CustomPath* best_path, List* tlist, List*, List*) {
  PlanArgs args{root, best_path, tlist, nullptr};
  pg::GuardHook(MakeAggPlan, &args);
  return args.plan;
}

}  // namespace

void InitAggregate() {
  prev_planner = planner_hook;
  planner_hook = strata_columnar_planner;
}

void OfferAggregation(PlannerInfo* root, RelOptInfo* rel) {
  Query* q = root->parse;
  // Not for a statement that writes: make_modifytable reads a result relation's fdwroutine.
  if (q->commandType != CMD_SELECT || !q->hasAggs || q->groupingSets != NIL ||
      rel->fdwroutine != nullptr)
    return;
  if (routine == nullptr) {
    routine = static_cast<FdwRoutine*>(MemoryContextAllocZero(TopMemoryContext, sizeof(FdwRoutine)));
    NodeSetTag(routine, T_FdwRoutine);
    routine->GetForeignUpperPaths = UpperPaths;
  }
  rel->fdwroutine = routine;
}

}  // namespace strata::columnar
