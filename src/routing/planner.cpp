// The planner hook: which rollup answers a query, planning the routed statement, and the error boundary
// of routing (an internal subtransaction: whatever fails, the query is planned as written).
#include <algorithm>
#include <map>

#include "rollups/candidates.hpp"
#include "config.hpp"
#include "pg/guard.hpp"
#include "pg/guc.hpp"
#include "pg/spi.hpp"
#include "routing/match.hpp"
#include "routing/routing.hpp"
#include "routing/routed_plan.hpp"
#include "routing/stats.hpp"

namespace strata::routing {
namespace {

planner_hook_type prev_planner = nullptr;
bool in_routing = false;  // routing's own catalog reads and plans are never routed

PlannedStmt* NextPlanner(Query* parse, const char* query_string, int cursor_options, ParamListInfo bound) {
  return prev_planner ? prev_planner(parse, query_string, cursor_options, bound)
                      : standard_planner(parse, query_string, cursor_options, bound);
}

// The views of rollups that rollups read, as this backend last loaded them; `valid` false until loaded,
// after any view is created, replaced or dropped (a pg_rewrite change) or a full invalidation, and 10 s
// after loading (a load in a transaction with an older snapshot can miss a rollup made since).
struct ViewedViews {
  bool valid = false;
  TimestampTz loaded_at = 0;
  std::vector<Oid> views;
};
ViewedViews viewed_views;
constexpr int64_t kViewedViewsMaxAgeUs = 10 * 1000000LL;

void OnRewriteInvalidation(Datum, int, uint32) { viewed_views.valid = false; }

// Whether a query on this view may be routed: unknown (load the list, inside routing's subtransaction)
// or a view other rollups read.
bool MayBeViewedRollup(Oid view) {
  if (viewed_views.valid && GetCurrentTimestamp() - viewed_views.loaded_at > kViewedViewsMaxAgeUs) viewed_views.valid = false;
  return !viewed_views.valid ||
         std::find(viewed_views.views.begin(), viewed_views.views.end(), view) != viewed_views.views.end();
}

// Whether one of the query's relations has strata's change capture (only rollup sources have it), or it
// reads a view other rollups read. Cheap: the relations are locked and their relcache entries built by
// the parser already.

bool ReadsRollupSource(Query* parse) {
  // A view alone: one whose rollup other rollups read (when the list is loaded; else in the
  // subtransaction, see RouteWithPinnedStyles).
  const Oid view = ViewOfQuery(parse, nullptr);
  if (OidIsValid(view)) return MayBeViewedRollup(view);
  // One table, or two and their join entry (a join to a dimension table).
  if (list_length(parse->rtable) > 3) return false;
  ListCell* lc;
  foreach (lc, parse->rtable) {
    const RangeTblEntry* rte = lfirst_node(RangeTblEntry, lc);
    if (rte->rtekind == RTE_RELATION &&
        (rte->relkind == RELKIND_RELATION || rte->relkind == RELKIND_PARTITIONED_TABLE) &&
        rollups::CaptureOn(rte->relid).captured)
      return true;
  }
  return false;
}

struct PermWalk {
  Oid source;
  const RangeTblEntry* original;
  const Oid* as_owner;  // relations read as their owner, as a view's owner reads them
  int n_as_owner;
  const Oid* as_viewer;  // relations read as the owner of the rollup view the query reads (its parts)
  int n_as_viewer;
  Oid viewer;
};

Oid RelOwner(Oid relid) {
  HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
  if (!HeapTupleIsValid(tup)) return InvalidOid;
  const Oid owner = ((Form_pg_class)GETSTRUCT(tup))->relowner;
  ReleaseSysCache(tup);
  return owner;
}

// Every entry of the source in the routed query checks what the reader's query checked (the same
// columns, the same role); the rollup's data and pending tables and strata's catalog rows of it are read
// as their owners, as the rollup's view and strata's own functions read them.
bool FixPermissions(Node* node, void* arg) {
  if (node == nullptr) return false;
  auto* w = static_cast<PermWalk*>(arg);
  if (IsA(node, RangeTblEntry)) {
    RangeTblEntry* rte = castNode(RangeTblEntry, node);
    if (rte->rtekind == RTE_RELATION && rte->relid == w->source) {
      rte->requiredPerms = w->original->requiredPerms;
      rte->checkAsUser = w->original->checkAsUser;
      rte->selectedCols = bms_copy(w->original->selectedCols);
    } else if (rte->rtekind == RTE_RELATION) {
      for (int i = 0; i < w->n_as_owner; i++)
        if (rte->relid == w->as_owner[i]) rte->checkAsUser = RelOwner(rte->relid);
      for (int i = 0; i < w->n_as_viewer; i++)
        if (rte->relid == w->as_viewer[i]) rte->checkAsUser = w->viewer;
    }
    return false;
  }
  if (IsA(node, Query))
    return query_tree_walker(castNode(Query, node), reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(FixPermissions)), arg,
                             QTW_EXAMINE_RTES_BEFORE);
  return expression_tree_walker(node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(FixPermissions)), arg);
}

// Parses, checks and plans the routed statement; nullptr when its output differs from the reader's
// query's (a safety net: then the query runs as written).
PlannedStmt* PlanRouted(const std::string& sql, const Request& req, const rollups::Candidate& c, Query* original,
                        int cursor_options, ParamListInfo bound) {
  const std::vector<Oid> types = ParamTypes(req);
  PlannedStmt* out = nullptr;
  pg::Call([&] {
    LockRelationOid(c.view_oid, AccessShareLock);
    List* raw = raw_parser(sql.c_str(), RAW_PARSE_DEFAULT);
    Query* q = parse_analyze_fixedparams(linitial_node(RawStmt, raw), sql.c_str(), types.data(),
                                         static_cast<int>(types.size()), nullptr);
    List* rewritten = QueryRewrite(q);
    if (list_length(rewritten) != 1) return;
    q = linitial_node(Query, rewritten);
    // Same output columns, types, typmods and collations as the reader's query.
    List* a = original->targetList;
    List* b = q->targetList;
    ListCell *la, *lb;
    int na = 0, nb = 0;
    foreach (la, a) na += lfirst_node(TargetEntry, la)->resjunk ? 0 : 1;
    foreach (lb, b) nb += lfirst_node(TargetEntry, lb)->resjunk ? 0 : 1;
    if (na != nb) return;
    forboth(la, a, lb, b) {
      const TargetEntry* ta = lfirst_node(TargetEntry, la);
      const TargetEntry* tb = lfirst_node(TargetEntry, lb);
      if (ta->resjunk) break;
      if (exprType((Node*)ta->expr) != exprType((Node*)tb->expr) ||
          exprTypmod((Node*)ta->expr) != exprTypmod((Node*)tb->expr) ||
          exprCollation((Node*)ta->expr) != exprCollation((Node*)tb->expr))
        return;
    }
    const Oid strata = get_namespace_oid("strata", false);
    // palloc'd: no C++ object is left behind if an ERROR leaves this frame.
    const int n = 5 + static_cast<int>(c.through.size());
    Oid* as_owner = static_cast<Oid*>(palloc(sizeof(Oid) * n));
    as_owner[0] = c.data_oid;
    as_owner[1] = c.pending_oid;
    as_owner[2] = get_relname_relid("rollup", strata);
    as_owner[3] = get_relname_relid("rollup_change", strata);
    as_owner[4] = c.sequence_oid;
    for (size_t i = 0; i < c.through.size(); i++) as_owner[5 + i] = c.through[i].pending_oid;
    // A query on a rollup's view: that rollup's data table and raw table are read as the view reads
    // them (as its owner); the reader's own check on the view is kept (below).
    Oid* as_viewer = static_cast<Oid*>(palloc(sizeof(Oid) * 2));
    const bool over_view = c.viewed.has_value();
    if (over_view) {
      as_viewer[0] = c.viewed->data_oid;
      as_viewer[1] = c.viewed->raw_oid;
    }
    PermWalk w{SourceOf(req), SourceEntry(req), as_owner, n, as_viewer, over_view ? 2 : 0,
               over_view ? RelOwner(c.viewed->view_oid) : InvalidOid};
    FixPermissions((Node*)q, &w);
    if (over_view) {
      // The reader's entry of the view it queried, with the same permission fields (as the view's own
      // expansion checks them); the plan then depends on that view too.
      RangeTblEntry* viewed = static_cast<RangeTblEntry*>(copyObjectImpl(SourceEntry(req)));
      viewed->inFromCl = false;
      q->rtable = lappend(q->rtable, viewed);
    }
    // The reader needs SELECT on the rollup (checked at execution, as for a view it names), and the
    // plan depends on the view: dropping or replacing it invalidates cached plans.
    RangeTblEntry* view = makeNode(RangeTblEntry);
    view->rtekind = RTE_RELATION;
    view->relid = c.view_oid;
    view->relkind = RELKIND_VIEW;
    view->rellockmode = AccessShareLock;
    view->requiredPerms = ACL_SELECT;
    view->eref = makeAlias(kRollupEntryAlias, NIL);
    view->alias = nullptr;
    view->inFromCl = false;
    q->rtable = lappend(q->rtable, view);
    q->queryId = original->queryId;
    q->stmt_location = original->stmt_location;
    q->stmt_len = original->stmt_len;
    // Serial: the arms that do the work are small, and a rare arm (the full raw aggregation of the guard)
    // would start parallel workers only to find its one-time filter false in each.
    out = standard_planner(q, sql.c_str(), cursor_options & ~CURSOR_OPT_PARALLEL_OK, bound);
  });
  return out;
}

// The plan's cost without the arms that are empty but in rare states (core::routing::UnionSql): the
// Append of the arms is found below the reader's own aggregation, sort and limit nodes; the cost of the
// other arms counts whole, and the cost of the Append itself and of everything above it in proportion
// to the rows those arms give (the rare arms' row estimates would otherwise weigh on the aggregation).
// A rollup of a rollup with this many buckets pending is not planned (see RouteWithPinnedStyles).
constexpr int64_t kMaxPendingOfChained = 4;

double EffectiveCost(const PlannedStmt* p, int arms, const std::vector<int>& rare) {
  const double total = p->planTree->total_cost;
  const Plan* n = p->planTree;
  while (n && !IsA(n, Append) && !IsA(n, MergeAppend)) n = n->lefttree;
  if (n == nullptr) return total;
  List* children = IsA(n, Append) ? castNode(Append, n)->appendplans : castNode(MergeAppend, n)->mergeplans;
  if (list_length(children) != arms) return total;
  double kept_cost = 0, all_cost = 0, kept_rows = 0, all_rows = 0;
  for (int i = 0; i < arms; i++) {
    const Plan* c = static_cast<const Plan*>(list_nth(children, i));
    all_cost += c->total_cost;
    all_rows += c->plan_rows;
    if (std::find(rare.begin(), rare.end(), i) == rare.end()) {
      kept_cost += c->total_cost;
      kept_rows += c->plan_rows;
    }
  }
  const double share = all_rows > 0 ? kept_rows / all_rows : 1;
  return kept_cost + (total - all_cost) * share;
}

// The rows a plan's scans are estimated to return (after their quals: index conditions bound what is
// read, filters do not), an inner side of a nested loop once per outer row, a parallel scan once per
// process. Subplans (the routed statement's progress reads) are not counted.
double RowsRead(const Plan* plan, double loops = 1) {
  if (plan == nullptr) return 0;
  switch (nodeTag(plan)) {
    case T_SeqScan:
    case T_SampleScan:
    case T_IndexScan:
    case T_IndexOnlyScan:
    case T_BitmapHeapScan:
    case T_TidScan:
    case T_TidRangeScan:
      return plan->plan_rows * loops;
    case T_NestLoop:
      return RowsRead(plan->lefttree, loops) + RowsRead(plan->righttree, loops * std::max(plan->lefttree->plan_rows, 1.0));
    case T_Append: {
      double sum = 0;
      ListCell* lc;
      foreach (lc, castNode(Append, plan)->appendplans) sum += RowsRead(static_cast<Plan*>(lfirst(lc)), loops);
      return sum;
    }
    case T_MergeAppend: {
      double sum = 0;
      ListCell* lc;
      foreach (lc, castNode(MergeAppend, plan)->mergeplans) sum += RowsRead(static_cast<Plan*>(lfirst(lc)), loops);
      return sum;
    }
    case T_SubqueryScan: return RowsRead(castNode(SubqueryScan, plan)->subplan, loops);
    // A parallel scan's estimate is per process: about the workers and the leader each.
    case T_Gather: return RowsRead(plan->lefttree, loops * (castNode(Gather, plan)->num_workers + 1));
    case T_GatherMerge: return RowsRead(plan->lefttree, loops * (castNode(GatherMerge, plan)->num_workers + 1));
    default: return RowsRead(plan->lefttree, loops) + RowsRead(plan->righttree, loops);
  }
}

// The routed plan's rows read without its rare arms (as EffectiveCost leaves them out).
double RoutedRowsRead(const PlannedStmt* p, int arms, const std::vector<int>& rare) {
  const Plan* n = p->planTree;
  while (n && !IsA(n, Append) && !IsA(n, MergeAppend)) n = n->lefttree;
  if (n == nullptr) return RowsRead(p->planTree);
  List* children = IsA(n, Append) ? castNode(Append, n)->appendplans : castNode(MergeAppend, n)->mergeplans;
  if (list_length(children) != arms) return RowsRead(p->planTree);
  double sum = 0;
  for (int i = 0; i < arms; i++)
    if (std::find(rare.begin(), rare.end(), i) == rare.end()) sum += RowsRead(static_cast<const Plan*>(list_nth(children, i)));
  return sum;
}

// The rare arms' hash aggregations are sized for their estimates at executor start (a hash table of
// up to work_mem each, allocated and zeroed even when the arm reads no row): their estimated group
// counts are capped, so the table starts small and grows only if rows come (as any hash table does).
void CapRareAggregates(Plan* plan) {
  if (plan == nullptr) return;
  if (IsA(plan, Agg) && castNode(Agg, plan)->numGroups > 1024) castNode(Agg, plan)->numGroups = 1024;
  CapRareAggregates(plan->lefttree);
  CapRareAggregates(plan->righttree);
  ListCell* lc;
  if (IsA(plan, Append)) foreach (lc, castNode(Append, plan)->appendplans) CapRareAggregates(static_cast<Plan*>(lfirst(lc)));
  if (IsA(plan, MergeAppend))
    foreach (lc, castNode(MergeAppend, plan)->mergeplans) CapRareAggregates(static_cast<Plan*>(lfirst(lc)));
  if (IsA(plan, SubqueryScan)) CapRareAggregates(castNode(SubqueryScan, plan)->subplan);
}

void CapRareArms(PlannedStmt* p, int arms, const std::vector<int>& rare) {
  Plan* n = p->planTree;
  while (n && !IsA(n, Append) && !IsA(n, MergeAppend)) n = n->lefttree;
  if (n == nullptr) return;
  List* children = IsA(n, Append) ? castNode(Append, n)->appendplans : castNode(MergeAppend, n)->mergeplans;
  if (list_length(children) != arms) return;
  for (int i : rare) CapRareAggregates(static_cast<Plan*>(list_nth(children, i)));
}

// The candidates of each source this backend planned for, with what invalidates them: a relation cache
// invalidation of the source (create_rollup, a grain that changed), of a candidate's view or data table
// (drop_rollup, alter_rollup re-creating the view) or of everything; and age, so that the planning-time
// progress (watermark, cursor: hints that stay correct however old) and caught-up times stay recent.
struct CachedCandidates {
  std::vector<rollups::Candidate> candidates;
  std::vector<Oid> relations;  // whose invalidation drops the entry
  TimestampTz loaded_at = 0;
  int staleness_s = 0;  // strata.routing_max_staleness when loaded
};
constexpr int64_t kCandidatesMaxAgeUs = 10 * 1000000LL;

std::map<Oid, CachedCandidates>& CandidateCache() {
  static std::map<Oid, CachedCandidates> cache;
  return cache;
}

void OnRelcacheInvalidation(Datum, Oid relid) {
  auto& cache = CandidateCache();
  if (relid == InvalidOid) {
    cache.clear();
    viewed_views.valid = false;
    return;
  }
  for (auto it = cache.begin(); it != cache.end();) {
    const auto& rels = it->second.relations;
    if (std::find(rels.begin(), rels.end(), relid) != rels.end())
      it = cache.erase(it);
    else
      ++it;
  }
}

void RegisterInvalidations() {
  static bool registered = false;
  if (!registered) {
    pg::Call([] {
      CacheRegisterRelcacheCallback(OnRelcacheInvalidation, 0);
      CacheRegisterSyscacheCallback(RULERELNAME, OnRewriteInvalidation, 0);
    });
    registered = true;
  }
}

// Loads the list of viewed rollups' views when it is not valid (SPI; inside routing's subtransaction).
bool IsViewedRollup(Oid view) {
  RegisterInvalidations();
  if (!viewed_views.valid) {
    // Valid from before the load: an invalidation that arrives while loading (at a lock) makes it load again.
    viewed_views.valid = true;
    pg::Call([] { viewed_views.loaded_at = GetCurrentTimestamp(); });
    pg::SpiConnect();
    std::vector<Oid> views;
    try {
      views = rollups::ViewedRollupViews();
    } catch (...) {
      viewed_views.valid = false;
      throw;
    }
    pg::SpiFinish();
    viewed_views.views = std::move(views);
  }
  return MayBeViewedRollup(view);
}

const std::vector<rollups::Candidate>& CandidatesOf(Oid source, bool view) {
  RegisterInvalidations();
  TimestampTz now = 0;
  pg::Call([&] { now = GetCurrentTimestamp(); });
  auto& cache = CandidateCache();
  const auto it = cache.find(source);
  if (it != cache.end() && now - it->second.loaded_at < kCandidatesMaxAgeUs &&
      it->second.staleness_s == config::routing_max_staleness_s)
    return it->second.candidates;
  CachedCandidates fresh;
  pg::SpiConnect();
  fresh.candidates = view ? rollups::ViewCandidatesOf(source) : rollups::CandidatesOf(source, config::routing_max_staleness_s);
  pg::SpiFinish();
  fresh.relations.push_back(source);
  for (const auto& c : fresh.candidates) {
    if (c.viewed) {
      fresh.relations.push_back(c.viewed->data_oid);
      if (OidIsValid(c.viewed->raw_oid)) fresh.relations.push_back(c.viewed->raw_oid);  // row security turned on
    }
    fresh.relations.push_back(c.view_oid);
    fresh.relations.push_back(c.data_oid);
    for (const auto& t : c.through) fresh.relations.push_back(t.pending_oid);
  }
  fresh.loaded_at = now;
  fresh.staleness_s = config::routing_max_staleness_s;
  cache[source] = std::move(fresh);
  return cache[source].candidates;
}

double DataRows(Oid data) {
  double rows = 0;
  pg::Call([&] {
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(data));
    if (HeapTupleIsValid(tup)) {
      rows = ((Form_pg_class)GETSTRUCT(tup))->reltuples;
      ReleaseSysCache(tup);
    }
  });
  return rows;
}

}  // namespace

namespace {
PlannedStmt* RouteWithPinnedStyles(Query* parse, int cursor_options, ParamListInfo bound,
                                   std::vector<Decision>* explain, PlannedStmt** raw);
}  // namespace

PlannedStmt* Route(Query* parse, int cursor_options, ParamListInfo bound, std::vector<Decision>* explain,
                   PlannedStmt** raw) {
  // The routed statement is the query's parts deparsed and parsed again: constants must read back the
  // same whatever the session's DateStyle (Postgres style prints zone abbreviations, e.g. IST, that read
  // back as another zone) and IntervalStyle. Set while planning only: plans hold values, not text.
  // The routed statement's hints are read with the active snapshot; planning always has one (no routing
  // without).
  bool snapshot = false;
  pg::Call([&] { snapshot = ActiveSnapshotSet(); });
  if (!snapshot) return nullptr;
  const int level = pg::NewGucLevel();
  pg::SetGuc("DateStyle", "ISO, YMD");
  pg::SetGuc("IntervalStyle", "postgres");
  PlannedStmt* out = nullptr;
  try {
    out = RouteWithPinnedStyles(parse, cursor_options, bound, explain, raw);
  } catch (...) {
    pg::RestoreGucs(level);
    throw;
  }
  pg::RestoreGucs(level);
  return out;
}

namespace {

LastDecision last_decision;

PlannedStmt* RouteWithPinnedStyles(Query* parse, int cursor_options, ParamListInfo bound,
                                   std::vector<Decision>* explain, PlannedStmt** raw) {
  if (!explain) last_decision = LastDecision{true, "", ""};
  TimestampTz started = 0, matched_at = 0, done_at = 0;
  pg::Call([&] { started = GetCurrentTimestamp(); });
  Reason why;
  const auto req = Analyze(parse, &why);
  const auto plan_raw = [&]() {
    PlannedStmt* p = nullptr;
    pg::Call([&] { p = NextPlanner(static_cast<Query*>(copyObjectImpl(parse)), nullptr, cursor_options, bound); });
    return p;
  };
  if (!req) {
    if (explain) {
      PlannedStmt* p = plan_raw();
      explain->push_back({"(raw)", "chosen", why.code, why.text, p->planTree->plan_rows, p->planTree->total_cost});
    }
    return nullptr;
  }
  if (OverView(*req) && !IsViewedRollup(SourceOf(*req))) {
    if (explain) {
      PlannedStmt* p = plan_raw();
      explain->push_back({"(raw)", "chosen", "shape", "no rollup reads the view the query reads", p->planTree->plan_rows,
                          p->planTree->total_cost});
    }
    return nullptr;
  }
  // A copy: the cache entry may go while planning (an invalidation read at a lock).
  const std::vector<rollups::Candidate> candidates = CandidatesOf(SourceOf(*req), OverView(*req));

  // Candidates that match, fewest stored groups first; the hook plans the first two of them.
  struct Matched {
    const rollups::Candidate* c;
    std::string sql;
    double rows;
    int arms;
    std::vector<int> rare;
    std::string approximate;
  };
  std::vector<Matched> matched;
  for (const auto& c : candidates) {
    Reason r;
    int arms = 0;
    std::vector<int> rare;
    std::string approximate;
    std::string sql = MatchCandidate(*req, c, &r, &arms, &rare, &approximate, false);
    if (sql.empty()) {
      if (explain) explain->push_back({c.name, "rejected", r.code, r.text});
      continue;
    }
    matched.push_back({&c, std::move(sql), DataRows(c.data_oid), arms, rare, approximate});
  }
  std::stable_sort(matched.begin(), matched.end(), [](const Matched& a, const Matched& b) { return a.rows < b.rows; });
  pg::Call([&] { matched_at = GetCurrentTimestamp(); });

  PlannedStmt* best = nullptr;
  const Matched* best_match = nullptr;
  double best_cost = 0;
  size_t planned = 0;
  std::vector<std::pair<const Matched*, PlannedStmt*>> plans;
  for (auto& m : matched) {
    if (!explain && planned == 2) break;
    // The progress hints of the statement, read with the active snapshot (see ReadProgress).
    rollups::Candidate fresh = *m.c;
    pg::SpiConnect();
    rollups::ReadProgress(fresh.progress_id, &fresh.watermark, &fresh.cursor);
    if (fresh.viewed) {
      std::optional<int64_t> cursor;
      rollups::ReadProgress(fresh.viewed->id, &fresh.viewed->watermark, &cursor);
    }
    // A rollup of a rollup reads each of its pending buckets raw (its dirty arm, left out of the cost as
    // rare): one far behind (just made, disabled) is passed over for one that answers from stored groups.
    const bool behind = !fresh.through.empty() && rollups::PendingBuckets(fresh, kMaxPendingOfChained) >= kMaxPendingOfChained;
    pg::SpiFinish();
    if (behind) {
      if (explain)
        explain->push_back({m.c->name, "rejected", "staleness",
                            "at least " + std::to_string(kMaxPendingOfChained) + " of its buckets wait for a recompute"});
      continue;
    }
    Reason r;
    m.sql = MatchCandidate(*req, fresh, &r, &m.arms, &m.rare, &m.approximate, true);
    PlannedStmt* p = m.sql.empty() ? nullptr : PlanRouted(m.sql, *req, *m.c, parse, cursor_options, bound);
    planned++;
    if (p == nullptr) {
      if (explain) explain->push_back({m.c->name, "rejected", "error", "the routed statement's output differs from the query's"});
      continue;
    }
    plans.emplace_back(&m, p);
    const double cost = EffectiveCost(p, m.arms, m.rare);
    if (!best || cost < best_cost) {
      best = p;
      best_match = &m;
      best_cost = cost;
    }
  }
  PlannedStmt* raw_plan = (best || explain) ? plan_raw() : nullptr;
  const bool routed = best && (config::routing_force || best_cost < raw_plan->planTree->total_cost);
  if (explain) {
    for (const auto& [m, p] : plans) {
      const bool chosen = routed && m == best_match;
      const std::string how = m->approximate.empty() ? "exactly" : "approximately (" + m->approximate + ")";
      explain->push_back({m->c->name, chosen ? "chosen" : "not cheapest", chosen ? "" : "cost",
                          chosen ? "answers the query " + how + " for the least cost"
                                 : "answers the query " + how + ", at a higher cost than the chosen plan",
                          p->planTree->plan_rows, EffectiveCost(p, m->arms, m->rare)});
    }
    explain->push_back({"(raw)", routed ? "not cheapest" : "chosen", routed ? "cost" : "",
                        routed ? "the query as written" : (matched.empty() ? "no rollup answers the query" : "the query as written costs least"),
                        raw_plan->planTree->plan_rows, raw_plan->planTree->total_cost});
  }
  if (config::routing_debug) {
    pg::Call([&] { done_at = GetCurrentTimestamp(); });
    const std::string timing = "matching " + std::to_string((matched_at - started) / 1000.0) + " ms, planning " +
                               std::to_string((done_at - matched_at) / 1000.0) + " ms; ";
    const std::string msg = routed ? "strata routing: answered from " + best_match->c->name + " (" + timing + "cost " +
                                         std::to_string(best_cost) + " vs " +
                                         std::to_string(raw_plan->planTree->total_cost) + " as written): " +
                                         best_match->sql
                                   : "strata routing: planned as written (" + timing + std::to_string(matched.size()) +
                                         " of " + std::to_string(candidates.size()) + " rollups match" +
                                         (best_match ? "; the cheapest, " + best_match->c->name + ", costs " +
                                                           std::to_string(best_cost) + ": " + best_match->sql
                                                     : std::string()) + ")";
    pg::Call([&] { ereport(LOG, (errmsg_internal("%s", msg.c_str()))); });
  }
  if (raw) *raw = raw_plan;
  if (!explain && routed) last_decision = LastDecision{true, best_match->c->name, best_match->approximate};
  if (routed) {
    // The rows the routed plan reads (without its rare arms) and the rows the query as written would read
    // more, as the planner estimates both plans: carried to the executor hooks in the rollup entry's
    // column-name list (routed_plan.hpp; nothing reads that entry's columns).
    const double read = std::min(1e15, RoutedRowsRead(best, best_match->arms, best_match->rare));
    std::string rare_list;
    for (int i : best_match->rare) rare_list += (rare_list.empty() ? "" : ",") + std::to_string(i);
    char* rare = nullptr;
    pg::Call([&] { rare = pstrdup(rare_list.c_str()); });
    const double saved = std::min(1e15, std::max(0.0, RowsRead(raw_plan->planTree) - read));
    pg::Call([&] {
      ListCell* lc;
      foreach (lc, best->rtable) {
        RangeTblEntry* rte = static_cast<RangeTblEntry*>(lfirst(lc));
        if (rte->rtekind == RTE_RELATION && rte->eref && strcmp(rte->eref->aliasname, kRollupEntryAlias) == 0)
          rte->eref->colnames =
              list_make4(makeString(psprintf("%.0f", saved)), makeString(psprintf("%.0f", read)), makeString(rare),
                         makeString(pstrdup(GetConfigOption("TimeZone", false, false))));
      }
    });
    CapRareArms(best, best_match->arms, best_match->rare);
    // The rollup's view is checked for the role executing the plan, and candidates were matched by the
    // planning role's privileges: a cached plan is re-made for another role.
    best->dependsOnRole = true;
    // JIT as the planner decides it, from the plan's cost without the rare arms (their estimates would
    // compile a plan whose real work is small).
    best->jitFlags = PGJIT_NONE;
    if (jit_enabled && jit_above_cost >= 0 && best_cost > jit_above_cost) {
      best->jitFlags = PGJIT_PERFORM;
      if (jit_optimize_above_cost >= 0 && best_cost > jit_optimize_above_cost) best->jitFlags |= PGJIT_OPT3;
      if (jit_inline_above_cost >= 0 && best_cost > jit_inline_above_cost) best->jitFlags |= PGJIT_INLINE;
      if (jit_expressions) best->jitFlags |= PGJIT_EXPR;
      if (jit_tuple_deforming) best->jitFlags |= PGJIT_DEFORM;
    }
  }
  return routed ? best : nullptr;
}

// The C++ part of the hook: never throws; `failed` tells the caller to roll the subtransaction back.
PlannedStmt* RouteNoThrow(Query* parse, int cursor_options, ParamListInfo bound, PlannedStmt** raw,
                          bool* failed) noexcept {
  try {
    return Route(parse, cursor_options, bound, nullptr, raw);
  } catch (...) {
    *failed = true;
    if (config::routing_debug) pg::LogCaught("strata routing: planned as written after an error");
    return nullptr;
  }
}

}  // namespace

}  // namespace strata::routing

// The hook itself holds no C++ object: a Postgres error in the subtransaction calls unwinds only this
// frame (and resets in_routing through PG_FINALLY).
extern "C" PlannedStmt* strata_planner(Query* parse, const char* query_string, int cursor_options,
                                       ParamListInfo bound) {
  using namespace strata::routing;
  if (!strata::config::routing || in_routing || parse->commandType != CMD_SELECT || !parse->hasAggs ||
      IsInParallelMode() || !ReadsRollupSource(parse))
    return NextPlanner(parse, query_string, cursor_options, bound);
  PlannedStmt* volatile result = nullptr;
  in_routing = true;
  PG_TRY();
  {
    MemoryContext cxt = CurrentMemoryContext;
    ResourceOwner owner = CurrentResourceOwner;
    BeginInternalSubTransaction(nullptr);
    MemoryContextSwitchTo(cxt);
    bool failed = false;
    PlannedStmt* raw = nullptr;
    PlannedStmt* routed = RouteNoThrow(parse, cursor_options, bound, &raw, &failed);
    if (failed) {
      RollbackAndReleaseCurrentSubTransaction();
    } else {
      ReleaseCurrentSubTransaction();
      result = routed ? routed : raw;
    }
    MemoryContextSwitchTo(cxt);
    CurrentResourceOwner = owner;
  }
  PG_FINALLY();
  { in_routing = false; }
  PG_END_TRY();
  return result ? result : NextPlanner(parse, query_string, cursor_options, bound);
}

namespace strata::routing {

const LastDecision& Last() { return last_decision; }
double PlanRowsRead(const Plan* plan) { return RowsRead(plan); }
void Forget() { last_decision = LastDecision{}; }

void Init() {
  prev_planner = planner_hook;
  planner_hook = strata_planner;
  if (process_shared_preload_libraries_in_progress) InitStats();
}

}  // namespace strata::routing
