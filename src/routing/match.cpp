// The reader's query taken apart, and matched against one rollup (see README.md for the rules).
//
// Postgres calls run inside pg::Call; the code inside those lambdas works on palloc'd nodes and C
// strings only, and the C++ strings are built from the results afterwards.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "core/naming.hpp"
#include "core/rollup_sql.hpp"
#include "core/routing.hpp"
#include "config.hpp"
#include "pg/guard.hpp"
#include "routing/match.hpp"

namespace strata::routing {
namespace {

namespace cr = core::routing;
namespace rs = core::rollup;

// Placeholder parameter numbers inside deparsed text (the reader's own parameters stay below kFirst).
constexpr int kFirst = 40000;
constexpr int kTimeParam = 40000;   // the time column inside a bucket call (rollup side: the bucket column)
constexpr int kDimParam = 41000;    // + attribute number: a dimension column (rollup side)
constexpr int kGroupParam = 43000;  // + k: the k-th group key (outer query: s.gk)
constexpr int kAggParam = 44000;    // + j: the j-th aggregate (outer query: its combination)
constexpr int kJoinKeyParam = 45000;   // the arms' key holding the source column joined to the dimension table
constexpr int kDimTableParam = 46000;  // + attribute number: a column of the joined dimension table (dim.<col>)

// A bucket call over a column of the source found in the query.
struct BucketCall {
  FuncExpr* call = nullptr;
  AttrNumber attno = 0;
  cr::Bucketing b;
  bool session_zone = false;  // date_trunc(unit, timestamptz): cut in the session's TimeZone
};

// What matching needs of one aggregate of the query, the same for every candidate.
struct AggFacts {
  std::string name;       // the function's name
  bool catalog = false;   // in pg_catalog
  bool strata = false;    // in schema strata
  std::string args;       // the arguments as deparsed (implicit casts hidden)
  std::string args_cast;  // a single argument with its implicit casts shown
  std::string type;       // the aggregate's result type
};

}  // namespace

struct Request {
  Query* query = nullptr;
  RangeTblEntry* rte = nullptr;
  bool over_view = false;  // the source is a rollup's view (rte: the view's entry inside the subquery)
  Oid source = InvalidOid;
  std::string source_name;
  List* conjuncts = NIL;
  List* deparse_ctx = NIL;
  std::vector<Expr*> groups;      // keys the arms compute (source columns and time buckets)
  std::vector<Expr*> dim_groups;  // keys over the joined dimension table: the outer query's alone
  std::vector<Aggref*> aggs;
  std::vector<AggFacts> agg_facts;  // per aggregate, in the same order
  std::vector<BucketCall> buckets;
  std::string outer_head, outer_tail;  // with $43xxx / $44xxx / $46xxx placeholders
  std::vector<Oid> param_types;
  std::string session_zone;
  // A join to a dimension table (range table entry 2 of the working copy): the source's column joined
  // to the dimension table's unique key, where it sits among the arms' keys (from 1), and the outer
  // query's FROM continuation (" JOIN <dim> AS dim ON s.gK = dim.<key> WHERE <filters on dim>").
  Expr* join_key = nullptr;
  int join_key_position = 0;
  std::string outer_from;
  std::map<int, std::string> dim_columns;  // $46xxx -> dim."<column>"
};

namespace {

// ---- Postgres-side helpers (run inside pg::Call) ----------------------------------------------------

Param* MakePlaceholder(int id, Oid type, int32 typmod, Oid collation) {
  Param* p = makeNode(Param);
  p->paramkind = PARAM_EXTERN;
  p->paramid = id;
  p->paramtype = type;
  p->paramtypmod = typmod;
  p->paramcollid = collation;
  p->location = -1;
  return p;
}

bool IsCatalogFunction(Oid fn, const char* name) {
  return get_func_namespace(fn) == PG_CATALOG_NAMESPACE && strcmp(get_func_name(fn), name) == 0;
}

const Const* ConstArg(List* args, int n) {
  Node* a = static_cast<Node*>(list_nth(args, n));
  if (!IsA(a, Const) || castNode(Const, a)->constisnull) return nullptr;
  return castNode(Const, a);
}

// Recognizes date_trunc(unit, col[, zone]) and date_bin(stride, col, origin) with constant arguments over
// a column of range table entry 1; the session's zone name for the two-argument date_trunc on timestamptz.
bool ReadBucketCall(FuncExpr* f, BucketCall* out, const char* session_zone) {
  using K = cr::Bucketing::Kind;
  const int nargs = list_length(f->args);
  if (nargs < 2) return false;
  Node* col = static_cast<Node*>(list_nth(f->args, 1));
  if (!IsA(col, Var) || castNode(Var, col)->varno != 1 || castNode(Var, col)->varlevelsup != 0) return false;
  const Oid coltype = exprType(col);
  if (coltype != TIMESTAMPOID && coltype != TIMESTAMPTZOID) return false;
  out->call = f;
  out->attno = castNode(Var, col)->varattno;
  if (IsCatalogFunction(f->funcid, "date_trunc")) {
    const Const* unit = ConstArg(f->args, 0);
    if (unit == nullptr || exprType((Node*)unit) != TEXTOID) return false;
    const auto rank = cr::UnitRank(text_to_cstring(DatumGetTextPP(unit->constvalue)));
    if (!rank) return false;
    out->b.kind = K::kTrunc;
    out->b.unit = *rank;
    out->b.with_zone = coltype == TIMESTAMPTZOID;
    if (nargs == 3) {
      const Const* zone = ConstArg(f->args, 2);
      if (zone == nullptr || exprType((Node*)zone) != TEXTOID) return false;
      out->b.zone = text_to_cstring(DatumGetTextPP(zone->constvalue));
    } else if (out->b.with_zone) {
      out->b.zone = session_zone;
      out->session_zone = true;
    }
    return true;
  }
  if (IsCatalogFunction(f->funcid, "date_bin") && nargs == 3) {
    const Const* stride = ConstArg(f->args, 0);
    const Const* origin = ConstArg(f->args, 2);
    if (stride == nullptr || origin == nullptr || exprType((Node*)stride) != INTERVALOID ||
        exprType((Node*)origin) != coltype)
      return false;
    const Interval* iv = DatumGetIntervalP(stride->constvalue);
    if (iv->month != 0) return false;
    out->b.kind = K::kBin;
    out->b.stride_us = iv->time + int64_t{iv->day} * USECS_PER_DAY;
    out->b.origin_us = DatumGetInt64(origin->constvalue);
    return out->b.stride_us > 0;
  }
  return false;
}

struct CollectCtx {
  std::vector<BucketCall>* out;
  const char* zone;
};

bool CollectBucketCalls(Node* node, void* arg) {
  if (node == nullptr) return false;
  auto* ctx = static_cast<CollectCtx*>(arg);
  if (IsA(node, FuncExpr)) {
    BucketCall c;
    if (ReadBucketCall(castNode(FuncExpr, node), &c, ctx->zone)) {
      ctx->out->push_back(c);
      return false;
    }
  }
  return expression_tree_walker(node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(CollectBucketCalls)), arg);
}

bool CollectAggs(Node* node, void* arg) {
  if (node == nullptr) return false;
  if (IsA(node, Aggref)) {
    static_cast<std::vector<Aggref*>*>(arg)->push_back(castNode(Aggref, node));
    return false;
  }
  return expression_tree_walker(node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(CollectAggs)), arg);
}

bool CollectParams(Node* node, void* arg) {
  if (node == nullptr) return false;
  if (IsA(node, Param) && castNode(Param, node)->paramkind == PARAM_EXTERN) {
    auto* types = static_cast<std::vector<Oid>*>(arg);
    const Param* p = castNode(Param, node);
    if (p->paramid >= kFirst || p->paramid < 1) {
      types->clear();
      types->push_back(InvalidOid);  // marks "unusable numbering"
      return true;
    }
    if (static_cast<int>(types->size()) < p->paramid) types->resize(p->paramid, INT4OID);
    (*types)[p->paramid - 1] = p->paramtype;
    return false;
  }
  return expression_tree_walker(node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(CollectParams)), arg);
}

// The outer query's expressions: group keys and aggregates replaced by placeholders.
struct OuterCtx {
  const std::vector<Expr*>* groups;
  const std::vector<Aggref*>* aggs;
};

Node* OuterMutator(Node* node, void* arg) {
  if (node == nullptr) return nullptr;
  auto* ctx = static_cast<OuterCtx*>(arg);
  for (size_t k = 0; k < ctx->groups->size(); k++)
    if (equal(node, (*ctx->groups)[k]))
      return (Node*)MakePlaceholder(kGroupParam + 1 + static_cast<int>(k), exprType(node), exprTypmod(node),
                                    exprCollation(node));
  if (IsA(node, Var) && castNode(Var, node)->varno == 2 && castNode(Var, node)->varlevelsup == 0) {
    const Var* v = castNode(Var, node);
    return (Node*)MakePlaceholder(kDimTableParam + v->varattno, v->vartype, v->vartypmod, v->varcollid);
  }
  if (IsA(node, Aggref)) {
    for (size_t j = 0; j < ctx->aggs->size(); j++)
      if ((*ctx->aggs)[j] == (Aggref*)node) {
        const Aggref* a = castNode(Aggref, node);
        return (Node*)MakePlaceholder(kAggParam + 1 + static_cast<int>(j), a->aggtype, -1, a->aggcollid);
      }
  }
  return expression_tree_mutator(node, reinterpret_cast<Node* (*)()>(reinterpret_cast<void (*)()>(OuterMutator)), arg);
}

// Columns of the dimension table (entry 2) as placeholders, for the outer query's own filters.
Node* DimMutator(Node* node, void* arg) {
  if (node == nullptr) return nullptr;
  if (IsA(node, Var) && castNode(Var, node)->varno == 2 && castNode(Var, node)->varlevelsup == 0) {
    const Var* v = castNode(Var, node);
    return (Node*)MakePlaceholder(kDimTableParam + v->varattno, v->vartype, v->vartypmod, v->varcollid);
  }
  return expression_tree_mutator(node, reinterpret_cast<Node* (*)()>(reinterpret_cast<void (*)()>(DimMutator)), arg);
}

// The rollup side of an expression: accepted bucket calls over the time column keep their form over
// the bucket column, dimensions become placeholders; anything else of the source fails.
struct RollupCtx {
  AttrNumber time_attno;
  const std::set<FuncExpr*>* accepted;
  const std::map<AttrNumber, int>* dims;  // attno -> dimension index
  AttrNumber bad_attno;                   // first column that cannot be read from the rollup
  bool bare_time;                         // the time column outside an accepted bucket call
};

Node* RollupMutator(Node* node, void* arg) {
  if (node == nullptr) return nullptr;
  auto* ctx = static_cast<RollupCtx*>(arg);
  if (IsA(node, FuncExpr) && ctx->accepted->count(castNode(FuncExpr, node))) {
    FuncExpr* f = static_cast<FuncExpr*>(copyObjectImpl(node));
    Var* v = castNode(Var, list_nth(f->args, 1));
    list_nth_cell(f->args, 1)->ptr_value = MakePlaceholder(kTimeParam, v->vartype, v->vartypmod, v->varcollid);
    return (Node*)f;
  }
  if (IsA(node, Var)) {
    const Var* v = castNode(Var, node);
    const auto it = ctx->dims->find(v->varattno);
    if (it != ctx->dims->end()) return (Node*)MakePlaceholder(kDimParam + v->varattno, v->vartype, v->vartypmod, v->varcollid);
    if (v->varattno == ctx->time_attno)
      ctx->bare_time = true;
    else if (ctx->bad_attno == 0)
      ctx->bad_attno = v->varattno;
    return static_cast<Node*>(copyObjectImpl(node));
  }
  return expression_tree_mutator(node, reinterpret_cast<Node* (*)()>(reinterpret_cast<void (*)()>(RollupMutator)), arg);
}

void FlattenAnd(Node* n, List** out) {
  if (n == nullptr) return;
  if (IsA(n, BoolExpr) && castNode(BoolExpr, n)->boolop == AND_EXPR) {
    ListCell* lc;
    foreach (lc, castNode(BoolExpr, n)->args) FlattenAnd(static_cast<Node*>(lfirst(lc)), out);
    return;
  }
  if (IsA(n, List)) {
    ListCell* lc;
    foreach (lc, (List*)n) FlattenAnd(static_cast<Node*>(lfirst(lc)), out);
    return;
  }
  *out = lappend(*out, n);
}

char* Deparse(Node* n, List* ctx) { return deparse_expression(n, ctx, false, false); }

// ORDER BY item text: the expression, then ASC/DESC and NULLS FIRST/LAST; nullptr when the ordering
// operator is not the type's default one.
char* OrderItem(Node* expr_with_placeholders, const SortGroupClause* sgc, Oid type, List* ctx) {
  Oid lt = InvalidOid, gt = InvalidOid;
  get_sort_group_operators(type, false, false, false, &lt, nullptr, &gt, nullptr);
  const char* dir = sgc->sortop == lt ? " ASC" : sgc->sortop == gt ? " DESC" : nullptr;
  if (dir == nullptr) return nullptr;
  return psprintf("%s%s NULLS %s", Deparse(expr_with_placeholders, ctx), dir, sgc->nulls_first ? "FIRST" : "LAST");
}

// ---- the bound of a time range ---------------------------------------------------------------------

// `time op expr` (either side) with a comparison of the time column's own type and a constant side
// without columns, aggregates or volatile functions. Returns the op as written for time on the left.
bool ReadBound(Node* n, AttrNumber time_attno, Oid time_type, const char** op, Node** bound) {
  if (!IsA(n, OpExpr) || list_length(castNode(OpExpr, n)->args) != 2) return false;
  const OpExpr* o = castNode(OpExpr, n);
  Node* l = static_cast<Node*>(linitial(o->args));
  Node* r = static_cast<Node*>(lsecond(o->args));
  bool flip = false;
  if (IsA(r, Var) && castNode(Var, r)->varattno == time_attno && !(IsA(l, Var))) {
    std::swap(l, r);
    flip = true;
  }
  if (!IsA(l, Var) || castNode(Var, l)->varattno != time_attno || castNode(Var, l)->varno != 1) return false;
  if (exprType(r) != time_type || contain_var_clause(r) || contain_volatile_functions(r) || contain_agg_clause(r))
    return false;
  if (get_op_rettype(o->opno) != BOOLOID || get_func_namespace(get_opcode(o->opno)) != PG_CATALOG_NAMESPACE) return false;
  const char* name = get_opname(o->opno);
  static const char* kOps[][2] = {{"<", ">"}, {"<=", ">="}, {">", "<"}, {">=", "<="}};
  for (const auto& pair : kOps)
    if (strcmp(name, pair[0]) == 0) {
      // The operator must compare the time type with itself (not a cross-type one).
      Oid left = InvalidOid, right = InvalidOid;
      op_input_types(o->opno, &left, &right);
      if (left != time_type || right != time_type) return false;
      *op = flip ? pair[1] : pair[0];
      *bound = r;
      return true;
    }
  return false;
}

// Offsets of a zone over its history, as their greatest common divisor in microseconds (0: the zone is
// UTC all along); -1 when the zone is unknown.
int64_t ZoneStep(const std::string& zone) {
  static std::map<std::string, int64_t> cache;
  const auto it = cache.find(zone);
  if (it != cache.end()) return it->second;
  int64_t step = -1;
  pg::Call([&] {
    pg_tz* tz = pg_tzset(zone.c_str());
    if (tz == nullptr) return;
    int64_t g = 0;
    const auto add = [&](long off) {
      int64_t a = off < 0 ? -off : off;
      while (a) {
        const int64_t t = g % a;
        g = a;
        a = t;
      }
    };
    pg_time_t t = -2208988800;  // 1900-01-01: local mean times before standard time are left out
    for (int i = 0; i < 10000; i++) {
      long before = 0, after = 0;
      int bdst = 0, adst = 0;
      pg_time_t boundary = 0;
      const int r = pg_next_dst_boundary(&t, &before, &bdst, &boundary, &after, &adst, tz);
      if (r < 0) return;
      add(before);
      if (r == 0) break;
      add(after);
      if (boundary <= t || boundary > 4102444800) break;  // 2100-01-01
      t = boundary;
    }
    step = g * 1000000;
  });
  cache[zone] = step;
  return step;
}

// The rollup's bucketing, parsed once per bucket expression and source.
std::optional<cr::Bucketing> RollupBucketing(const Request& req, const std::string& bucket_expr) {
  static std::map<std::string, std::optional<cr::Bucketing>> cache;
  const std::string key = std::to_string(req.source) + "|" + bucket_expr;
  const auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  const std::string sql = "SELECT " + bucket_expr + " FROM " + req.source_name;
  BucketCall call;
  bool ok = false;
  pg::Call([&] {
    List* raw = raw_parser(sql.c_str(), RAW_PARSE_DEFAULT);
    Query* q = parse_analyze_fixedparams(linitial_node(RawStmt, raw), sql.c_str(), nullptr, 0, nullptr);
    Node* e = (Node*)castNode(TargetEntry, linitial(q->targetList))->expr;
    ok = IsA(e, FuncExpr) && ReadBucketCall(castNode(FuncExpr, e), &call, "");
  });
  std::optional<cr::Bucketing> out;
  if (ok && !call.session_zone) out = call.b;
  cache[key] = out;
  return out;
}

// The conjuncts of a rollup's WHERE clause, each deparsed as the query's are (cached per source and text).
std::vector<std::string> RollupWhere(const Request& req, const rs::Spec& s) {
  if (s.where.empty()) return {};
  static std::map<std::string, std::vector<std::string>> cache;
  const std::string key = std::to_string(req.source) + "|" + s.where;
  const auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  const std::string sql = "SELECT 1 FROM " + req.source_name + " WHERE " + s.where;
  List* texts = NIL;
  pg::Call([&] {
    List* raw = raw_parser(sql.c_str(), RAW_PARSE_DEFAULT);
    Query* q = parse_analyze_fixedparams(linitial_node(RawStmt, raw), sql.c_str(), nullptr, 0, nullptr);
    List* conjuncts = NIL;
    FlattenAnd(q->jointree->quals, &conjuncts);
    ListCell* lc;
    foreach (lc, conjuncts) texts = lappend(texts, Deparse(static_cast<Node*>(lfirst(lc)), req.deparse_ctx));
  });
  std::vector<std::string> out;
  ListCell* lc;
  foreach (lc, texts) out.emplace_back(static_cast<char*>(lfirst(lc)));
  cache[key] = out;
  return out;
}

// A bound expression made of a bucket call (over any timestamp value), optionally shifted by a constant
// interval: the call (as ReadBucketCall reads it) and the shift. Runs inside pg::Call (plain data only).
bool ReadAlignedBound(Node* e, BucketCall* call, int64_t* shift, bool* months, const char* zone) {
  *shift = 0;
  *months = false;
  if (IsA(e, OpExpr) && list_length(castNode(OpExpr, e)->args) == 2) {
    const OpExpr* o = castNode(OpExpr, e);
    const char* name = get_opname(o->opno);
    Node* r = static_cast<Node*>(lsecond(o->args));
    if (name == nullptr || (strcmp(name, "-") != 0 && strcmp(name, "+") != 0) || !IsA(r, Const) ||
        castNode(Const, r)->constisnull || exprType(r) != INTERVALOID)
      return false;
    const Interval* iv = DatumGetIntervalP(castNode(Const, r)->constvalue);
    *months = iv->month != 0;
    *shift = iv->time + int64_t{iv->day} * USECS_PER_DAY;
    e = static_cast<Node*>(linitial(o->args));
  }
  if (!IsA(e, FuncExpr) || list_length(castNode(FuncExpr, e)->args) < 2) return false;
  const Oid type = exprType(static_cast<Node*>(list_nth(castNode(FuncExpr, e)->args, 1)));
  if (type != TIMESTAMPOID && type != TIMESTAMPTZOID) return false;
  // Only the call's constants matter: read it with a column in place of its value.
  FuncExpr* copy = static_cast<FuncExpr*>(copyObjectImpl(e));
  list_nth_cell(copy->args, 1)->ptr_value = makeVar(1, 1, type, -1, InvalidOid, 0);
  return ReadBucketCall(copy, call, zone);
}

std::string Fail(Reason* why, const std::string& code, const std::string& text) {
  why->code = code;
  why->text = text;
  return "";
}

}  // namespace

std::shared_ptr<Request> Analyze(Query* q, Reason* why) {
  auto req = std::make_shared<Request>();
  req->query = q;
  const char* refusal = nullptr;
  const char* code = "shape";
  bool rls = false;
  char* source_name = nullptr;
  char* zone = nullptr;
  char* dim_name = nullptr;
  pg::Call([&] {
    if (q->commandType != CMD_SELECT || q->utilityStmt || !q->hasAggs) {
      refusal = "not an aggregate query";
      return;
    }
    // A query on a rollup's view: the view's columns are the source's (its rollups of rollups answer).
    RangeTblEntry* view_entry = nullptr;
    const Oid view = ViewOfQuery(q, &view_entry);
    if (OidIsValid(view)) {
      if (q->hasWindowFuncs || q->hasTargetSRFs || q->hasSubLinks || q->hasDistinctOn || q->hasRecursive ||
          q->hasModifyingCTE || q->hasForUpdate || q->cteList || q->setOperations || q->groupingSets || q->rowMarks ||
          q->groupDistinct) {
        refusal = "window functions, set-returning functions, subqueries, DISTINCT ON, WITH, set operations, "
                  "grouping sets and FOR UPDATE are not routed";
        return;
      }
      if (contain_volatile_functions((Node*)q->targetList) || contain_volatile_functions(q->jointree->quals) ||
          contain_volatile_functions(q->havingQual) || contain_volatile_functions(q->limitCount) ||
          contain_volatile_functions(q->limitOffset)) {
        refusal = "the query calls a volatile function";
        return;
      }
      // A security_invoker view reads its tables with the reader's privileges; routing reads the
      // view's parts as its owner.
      Relation rel = relation_open(view, NoLock);
      const bool invoker = RelationHasSecurityInvoker(rel);
      relation_close(rel, NoLock);
      if (invoker) {
        refusal = "a security_invoker view";
        return;
      }
      req->over_view = true;
      req->rte = view_entry;
      req->source = view;
      source_name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(view)), get_rel_name(view));
      req->deparse_ctx = deparse_context_for(get_rel_name(view), view);
      zone = pstrdup(pg_get_timezone_name(session_timezone));
      FlattenAnd(q->jointree->quals, &req->conjuncts);
      return;
    }
    if (q->hasWindowFuncs || q->hasTargetSRFs || q->hasSubLinks || q->hasDistinctOn || q->hasRecursive ||
        q->hasModifyingCTE || q->hasForUpdate || q->cteList || q->setOperations || q->groupingSets || q->rowMarks ||
        q->groupDistinct) {
      refusal = "window functions, set-returning functions, subqueries, DISTINCT ON, WITH, set operations, "
                "grouping sets and FOR UPDATE are not routed";
      return;
    }
    // One table, or the source joined to one dimension table (inner join; FROM a, b or a JOIN b).
    int s_idx = 0, d_idx = 0;
    Node* join_quals = nullptr;
    const int nfrom = list_length(q->jointree->fromlist);
    Node* only = nfrom == 1 ? static_cast<Node*>(linitial(q->jointree->fromlist)) : nullptr;
    if (only && IsA(only, RangeTblRef) && list_length(q->rtable) == 1) {
      s_idx = 1;
    } else {
      int a = 0, b = 0;
      if (nfrom == 2 && IsA(linitial(q->jointree->fromlist), RangeTblRef) && IsA(lsecond(q->jointree->fromlist), RangeTblRef)) {
        a = linitial_node(RangeTblRef, q->jointree->fromlist)->rtindex;
        b = lsecond_node(RangeTblRef, q->jointree->fromlist)->rtindex;
      } else if (only && IsA(only, JoinExpr) && castNode(JoinExpr, only)->jointype == JOIN_INNER &&
                 IsA(castNode(JoinExpr, only)->larg, RangeTblRef) && IsA(castNode(JoinExpr, only)->rarg, RangeTblRef) &&
                 castNode(JoinExpr, only)->alias == nullptr) {
        a = castNode(RangeTblRef, castNode(JoinExpr, only)->larg)->rtindex;
        b = castNode(RangeTblRef, castNode(JoinExpr, only)->rarg)->rtindex;
        join_quals = castNode(JoinExpr, only)->quals;
      }
      const auto is_table = [&](int i) {
        const RangeTblEntry* e = rt_fetch(i, q->rtable);
        return e->rtekind == RTE_RELATION && !e->tablesample &&
               (e->relkind == RELKIND_RELATION || (e->relkind == RELKIND_PARTITIONED_TABLE && e->inh));
      };
      const auto captured = [&](int i) { return rollups::CaptureOn(rt_fetch(i, q->rtable)->relid).captured; };
      if (a == 0 || b == 0 || !is_table(a) || !is_table(b) || captured(a) == captured(b)) {
        refusal = "only a query over one table, or over a rollup's source joined to one dimension table, is routed";
        return;
      }
      s_idx = captured(a) ? a : b;
      d_idx = captured(a) ? b : a;
    }
    RangeTblEntry* rte = rt_fetch(s_idx, q->rtable);
    // ONLY: the rollup reads the whole tree (inheritance children too).
    if (rte->rtekind != RTE_RELATION || rte->tablesample ||
        (rte->relkind != RELKIND_RELATION && rte->relkind != RELKIND_PARTITIONED_TABLE) ||
        (!rte->inh && (rte->relkind == RELKIND_PARTITIONED_TABLE || has_subclass(rte->relid)))) {
      refusal = "the table is not a plain or partitioned table read as a whole";
      return;
    }
    HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rte->relid));
    if (!HeapTupleIsValid(tup)) {
      refusal = "the table is gone";
      return;
    }
    rls = ((Form_pg_class)GETSTRUCT(tup))->relrowsecurity;
    ReleaseSysCache(tup);
    if (rls) {
      code = "rls";
      refusal = "row-level security is enabled on the table: never routed";
      return;
    }
    // A capture made before TRUNCATE was tracked (0.10.0, until the next refresh repairs it) would let a
    // truncated partition's groups through.
    if (!rollups::CaptureOn(rte->relid).tracks_truncate) {
      code = "capture";
      refusal = "the source's change capture does not track TRUNCATE yet (the next refresh of its rollups adds it)";
      return;
    }
    if (contain_volatile_functions((Node*)q->targetList) || contain_volatile_functions(q->jointree->quals) ||
        contain_volatile_functions(join_quals) || contain_volatile_functions(q->havingQual) ||
        contain_volatile_functions(q->limitCount) || contain_volatile_functions(q->limitOffset)) {
      refusal = "the query calls a volatile function";
      return;
    }
    req->rte = rte;
    req->source = rte->relid;
    source_name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(rte->relid)), get_rel_name(rte->relid));
    req->deparse_ctx = deparse_context_for(get_rel_name(rte->relid), rte->relid);
    zone = pstrdup(pg_get_timezone_name(session_timezone));
    if (d_idx == 0) {
      FlattenAnd(q->jointree->quals, &req->conjuncts);
      return;
    }
    // A working copy with join aliases flattened and the source as entry 1, the dimension table as 2.
    Query* w = static_cast<Query*>(copyObjectImpl(q));
    w->targetList = (List*)flatten_join_alias_vars(w, (Node*)w->targetList);
    w->havingQual = flatten_join_alias_vars(w, w->havingQual);
    List* quals = NIL;
    FlattenAnd(flatten_join_alias_vars(w, w->jointree->quals), &quals);
    FlattenAnd(flatten_join_alias_vars(w, static_cast<Node*>(copyObjectImpl(join_quals))), &quals);
    const auto renumber = [&](Node* n) {
      ChangeVarNodes(n, s_idx, 9999, 0);
      ChangeVarNodes(n, d_idx, 2, 0);
      ChangeVarNodes(n, 9999, 1, 0);
    };
    renumber((Node*)w->targetList);
    renumber(w->havingQual);
    renumber((Node*)quals);
    const Oid dim = rt_fetch(d_idx, q->rtable)->relid;
    // The join: one equality of a source column with a unique, non-partial single-column key of the
    // dimension table (each source row meets at most one dimension row); filters on either side alone.
    List* dim_filters = NIL;
    ListCell* lc;
    foreach (lc, quals) {
      Node* n = static_cast<Node*>(lfirst(lc));
      Relids rels = pull_varnos(nullptr, n);
      if (!bms_is_member(2, rels)) {
        req->conjuncts = lappend(req->conjuncts, n);
      } else if (!bms_is_member(1, rels)) {
        dim_filters = lappend(dim_filters, n);
      } else if (req->join_key == nullptr && IsA(n, OpExpr) && list_length(castNode(OpExpr, n)->args) == 2) {
        Node* l = static_cast<Node*>(linitial(castNode(OpExpr, n)->args));
        Node* r = static_cast<Node*>(lsecond(castNode(OpExpr, n)->args));
        if (IsA(l, Var) && castNode(Var, l)->varno == 2) std::swap(l, r);
        if (!IsA(l, Var) || !IsA(r, Var) || castNode(Var, l)->varno != 1 || castNode(Var, r)->varno != 2 ||
            exprType(l) != exprType(r)) {
          refusal = "the join is not an equality of a source column with a column of the dimension table";
          return;
        }
        const Oid eq = castNode(OpExpr, n)->opno;
        const AttrNumber key = castNode(Var, r)->varattno;
        bool unique = false;
        Relation rel = table_open(dim, AccessShareLock);
        List* indexes = RelationGetIndexList(rel);
        ListCell* ic;
        foreach (ic, indexes) {
          HeapTuple it = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(ic)));
          if (!HeapTupleIsValid(it)) continue;
          const Form_pg_index ix = (Form_pg_index)GETSTRUCT(it);
          if (ix->indisunique && ix->indisvalid && ix->indnkeyatts == 1 && ix->indkey.values[0] == key &&
              heap_attisnull(it, Anum_pg_index_indpred, nullptr) && heap_attisnull(it, Anum_pg_index_indexprs, nullptr)) {
            Relation irel = index_open(lfirst_oid(ic), AccessShareLock);
            unique = op_in_opfamily(eq, irel->rd_opfamily[0]) && get_op_opfamily_strategy(eq, irel->rd_opfamily[0]) ==
                                                                      BTEqualStrategyNumber;
            index_close(irel, AccessShareLock);
          }
          ReleaseSysCache(it);
          if (unique) break;
        }
        table_close(rel, AccessShareLock);
        if (!unique) {
          refusal = "the dimension table's joined column is not a unique key (one row per source row)";
          return;
        }
        req->join_key = (Expr*)l;
        StringInfoData from;
        initStringInfo(&from);
        appendStringInfo(&from, " JOIN %s AS dim ON $%d = dim.%s", quote_qualified_identifier(get_namespace_name(get_rel_namespace(dim)), get_rel_name(dim)), kJoinKeyParam,
                         quote_identifier(get_attname(dim, key, false)));
        dim_name = from.data;
      } else {
        refusal = "a condition over both tables other than the one join equality";
        return;
      }
    }
    if (req->join_key == nullptr) {
      refusal = "the tables are not joined by an equality";
      return;
    }
    // The outer query's filters on the dimension table, with its columns as placeholders.
    StringInfoData f;
    initStringInfo(&f);
    foreach (lc, dim_filters) {
      Node* m = DimMutator(static_cast<Node*>(lfirst(lc)), nullptr);
      appendStringInfo(&f, "%s%s", f.len ? " AND " : " WHERE ", Deparse(m, req->deparse_ctx));
    }
    if (f.len) dim_name = psprintf("%s%s", dim_name, f.data);
    for (AttrNumber k = 1;; k++) {
      char* col = get_attname(dim, k, true);
      if (col == nullptr) break;
      req->dim_columns[kDimTableParam + k] = std::string("dim.") + quote_identifier(col);
    }
    q = w;
    req->query = w;
  });
  if (refusal) {
    why->code = code;
    why->text = refusal;
    return nullptr;
  }
  req->source_name = source_name;
  req->session_zone = zone;

  // Group keys, aggregates, parameters, bucket calls.
  pg::Call([&] {
    ListCell* lc;
    foreach (lc, q->groupClause) {
      const SortGroupClause* sgc = lfirst_node(SortGroupClause, lc);
      Expr* e = (Expr*)get_sortgroupclause_expr(const_cast<SortGroupClause*>(sgc), q->targetList);
      Relids rels = pull_varnos(nullptr, (Node*)e);
      if (bms_is_member(2, rels)) {
        // A grouping by the dimension table's columns is done by the outer query only.
        if (bms_is_member(1, rels)) refusal = "a grouping expression over both tables";
        req->dim_groups.push_back(e);
        continue;
      }
      bool dup = false;
      for (Expr* g : req->groups) dup = dup || equal(g, e);
      if (!dup) req->groups.push_back(e);
    }
    CollectAggs((Node*)q->targetList, &req->aggs);
    CollectAggs(q->havingQual, &req->aggs);
  });
  if (refusal) return why->code = "shape", why->text = refusal, nullptr;
  for (Aggref* a : req->aggs) {
    const bool approximable = config::routing_approximate && a->aggfilter == nullptr && a->agglevelsup == 0 &&
                              list_length(a->args) == 1 &&
                              ((a->aggkind == AGGKIND_NORMAL && a->aggdistinct && !a->aggorder && !a->aggdirectargs) ||
                               (a->aggkind == AGGKIND_ORDERED_SET && list_length(a->aggdirectargs) == 1));
    if (!approximable &&
        (a->aggfilter || a->aggdistinct || a->aggorder || a->aggkind != AGGKIND_NORMAL || a->agglevelsup || a->aggdirectargs))
      return why->code = "measure",
             why->text = "an aggregate with DISTINCT, ORDER BY, FILTER or WITHIN GROUP (count(DISTINCT) and percentiles "
                         "are answered from sketches only with strata.routing_approximate)",
             nullptr;
    bool on_dim = false;
    pg::Call([&] { on_dim = bms_is_member(2, pull_varnos(nullptr, (Node*)a->args)); });
    if (on_dim) return why->code = "measure", why->text = "an aggregate over the dimension table's columns", nullptr;
  }
  for (Aggref* a : req->aggs) {
    char* name = nullptr;
    char* ns_name = nullptr;
    bool catalog = false;
    char* args = nullptr;
    char* args_cast = nullptr;
    char* type = nullptr;
    pg::Call([&] {
      name = get_func_name(a->aggfnoid);
      const Oid ns = get_func_namespace(a->aggfnoid);
      catalog = ns == PG_CATALOG_NAMESPACE;
      ns_name = get_namespace_name(ns);
      StringInfoData buf;
      initStringInfo(&buf);
      ListCell* l;
      foreach (l, a->args) {
        if (buf.len) appendStringInfoString(&buf, ", ");
        appendStringInfoString(&buf, Deparse((Node*)lfirst_node(TargetEntry, l)->expr, req->deparse_ctx));
      }
      args = buf.data;
      args_cast = list_length(a->args) == 1
                      ? deparse_expression((Node*)linitial_node(TargetEntry, a->args)->expr, req->deparse_ctx, false, true)
                      : args;
      type = format_type_with_typemod(a->aggtype, -1);
    });
    req->agg_facts.push_back({name, catalog, ns_name && strcmp(ns_name, "strata") == 0, args, args_cast, type});
  }
  if (req->join_key) {
    req->join_key_position = static_cast<int>(req->groups.size()) + 1;
    for (size_t k = 0; k < req->groups.size(); k++)
      if (equal(req->groups[k], req->join_key)) req->join_key_position = static_cast<int>(k) + 1;
    req->outer_from = core::routing::SubstitutePlaceholders(
        dim_name, {{kJoinKeyParam, "s.g" + std::to_string(req->join_key_position)}});
  }
  pg::Call([&] {
    std::vector<Oid>* types = &req->param_types;
    query_tree_walker(q, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(CollectParams)), types, 0);
    CollectCtx cc{&req->buckets, zone};
    ListCell* lc;
    for (Expr* g : req->groups) CollectBucketCalls((Node*)g, &cc);
    foreach (lc, req->conjuncts) CollectBucketCalls(static_cast<Node*>(lfirst(lc)), &cc);
    foreach (lc, q->targetList) CollectBucketCalls((Node*)lfirst_node(TargetEntry, lc)->expr, &cc);
  });
  if (req->param_types.size() == 1 && req->param_types[0] == InvalidOid)
    return why->code = "shape", why->text = "parameter numbers too high", nullptr;

  // The outer query, with placeholders for group keys and aggregates.
  char* head = nullptr;
  char* tail = nullptr;
  pg::Call([&] {
    OuterCtx oc{&req->groups, &req->aggs};
    StringInfoData h, t;
    initStringInfo(&h);
    initStringInfo(&t);
    appendStringInfoString(&h, q->distinctClause ? "SELECT DISTINCT " : "SELECT ");
    bool first = true;
    ListCell* lc;
    foreach (lc, q->targetList) {
      TargetEntry* tle = lfirst_node(TargetEntry, lc);
      if (tle->resjunk) continue;
      Node* e = OuterMutator((Node*)tle->expr, &oc);
      if (contain_var_clause(e)) {
        refusal = "a column outside GROUP BY and aggregates";
        return;
      }
      appendStringInfo(&h, "%s%s AS %s", first ? "" : ", ", Deparse(e, req->deparse_ctx),
                       quote_identifier(tle->resname ? tle->resname : "?column?"));
      first = false;
    }
    if (!req->groups.empty() || !req->dim_groups.empty()) {
      appendStringInfoString(&t, " GROUP BY ");
      for (size_t k = 0; k < req->groups.size(); k++)
        appendStringInfo(&t, "%s$%d", k ? ", " : "", kGroupParam + 1 + static_cast<int>(k));
      for (size_t k = 0; k < req->dim_groups.size(); k++)
        appendStringInfo(&t, "%s%s", k || !req->groups.empty() ? ", " : "",
                         Deparse(OuterMutator((Node*)req->dim_groups[k], &oc), req->deparse_ctx));
    }
    if (q->havingQual) {
      Node* e = OuterMutator(q->havingQual, &oc);
      if (contain_var_clause(e)) {
        refusal = "a column outside GROUP BY and aggregates in HAVING";
        return;
      }
      appendStringInfo(&t, " HAVING %s", Deparse(e, req->deparse_ctx));
    }
    first = true;
    foreach (lc, q->sortClause) {
      SortGroupClause* sgc = lfirst_node(SortGroupClause, lc);
      TargetEntry* tle = get_sortgroupclause_tle(sgc, q->targetList);
      Node* e = OuterMutator((Node*)tle->expr, &oc);
      char* item = OrderItem(e, sgc, exprType((Node*)tle->expr), req->deparse_ctx);
      if (item == nullptr || contain_var_clause(e)) {
        refusal = "an ORDER BY with a non-default operator or a column outside GROUP BY";
        return;
      }
      appendStringInfo(&t, "%s%s", first ? " ORDER BY " : ", ", item);
      first = false;
    }
    if (q->limitOffset) appendStringInfo(&t, " OFFSET (%s) ROWS", Deparse(q->limitOffset, req->deparse_ctx));
    if (q->limitCount) {
      if (q->limitOption == LIMIT_OPTION_WITH_TIES)
        appendStringInfo(&t, " FETCH FIRST (%s) ROWS WITH TIES", Deparse(q->limitCount, req->deparse_ctx));
      else
        appendStringInfo(&t, " LIMIT (%s)", Deparse(q->limitCount, req->deparse_ctx));
    }
    head = h.data;
    tail = t.data;
  });
  if (refusal) {
    why->code = "shape";
    why->text = refusal;
    return nullptr;
  }
  req->outer_head = head;
  req->outer_tail = tail;
  return req;
}

Oid ViewOfQuery(const Query* q, RangeTblEntry** perms) {
  if (list_length(q->rtable) != 1 || list_length(q->jointree->fromlist) != 1 ||
      !IsA(linitial(q->jointree->fromlist), RangeTblRef))
    return InvalidOid;
  RangeTblEntry* rte = linitial_node(RangeTblEntry, q->rtable);
  if (rte->rtekind != RTE_SUBQUERY || rte->subquery == nullptr || rte->security_barrier || rte->lateral ||
      rte->subquery->rtable == NIL)
    return InvalidOid;
  // PostgreSQL 15 turns a view's entry into a subquery whose first entry (the rule's OLD) is the view,
  // carrying the reader's permission fields. 16 keeps the view's oid in the subquery entry itself and
  // moves permissions to RTEPermissionInfo: until read that way there, queries on views are not routed.
#if PG_VERSION_NUM >= 160000
  return InvalidOid;
#else
  RangeTblEntry* old = linitial_node(RangeTblEntry, rte->subquery->rtable);
  if (old->rtekind != RTE_RELATION || old->relkind != RELKIND_VIEW || old->inFromCl) return InvalidOid;
  if (perms) *perms = old;
  return old->relid;
#endif
}

bool OverView(const Request& r) { return r.over_view; }
Oid SourceOf(const Request& r) { return r.source; }
RangeTblEntry* SourceEntry(const Request& r) { return r.rte; }
std::vector<Oid> ParamTypes(const Request& r) { return r.param_types; }

namespace {

// How one aggregate of the query is computed from state columns.
struct AggPlan {
  enum { kPlain, kAvgNumeric, kAvgFloat, kDistinct, kQuantile } form = kPlain;
  std::string quantile_fn, fraction;  // kQuantile: strata.quantile or quantile_cont, and q
  int state = -1, count_state = -1;
  std::string type;  // the aggregate's result type (format_type)
};

}  // namespace

std::string MatchCandidate(const Request& req, const rollups::Candidate& c, Reason* why, int* arms,
                           std::vector<int>* rare, std::string* approximate, bool render) {
  const rs::Spec& s = c.spec;
  if (!c.refused.empty()) return Fail(why, "shape", c.refused);
  if (!c.realtime && !c.caught_up_within_staleness)
    return Fail(why, "staleness", "materialized-only rollup, not caught up within strata.routing_max_staleness");
  // The rollup's own WHERE: each of its conjuncts must be one of the query's (the same text as Postgres
  // deparses both); those are then read from raw rows only (the stored groups passed them already).
  const std::vector<std::string> own = RollupWhere(req, s);
  std::set<std::string> own_left(own.begin(), own.end());
  const bool over_view = c.viewed.has_value();
  if (over_view != req.over_view) return Fail(why, "shape", "not a rollup of the query's relation");
  if (!over_view && !c.grain) return Fail(why, "shape", "the rollup has no change capture on its source");
  if (!c.has_history)
    return Fail(why, "history", "the rows its source had when it was made are not in it (backfill => false, or "
                               "made before 0.11.0 without a recorded backfill)");
  bool can_read = false;
  AttrNumber time_attno = InvalidAttrNumber;
  Oid time_type = InvalidOid;
  std::map<AttrNumber, int> dims;
  pg::Call([&] {
    can_read = pg_class_aclcheck(c.view_oid, GetUserId(), ACL_SELECT) == ACLCHECK_OK;
    time_attno = get_attnum(req.source, s.time_column.c_str());
    if (time_attno != InvalidAttrNumber) time_type = get_atttype(req.source, time_attno);
  });
  if (!can_read) return Fail(why, "privilege", "no SELECT privilege on the rollup");
  if (time_attno == InvalidAttrNumber) return Fail(why, "shape", "the rollup's time column is gone");
  for (size_t i = 0; i < s.dims.size(); i++) {
    // The stored dimension is a column name as Postgres deparses it: quoted only when it must be.
    const std::string& e = s.dims[i].expr;
    const std::string name = core::UnquoteIdent(e);
    AttrNumber a = InvalidAttrNumber;
    pg::Call([&] {
      a = get_attnum(req.source, name.c_str());
      if (a != InvalidAttrNumber && strcmp(quote_identifier(name.c_str()), e.c_str()) != 0) a = InvalidAttrNumber;
    });
    // On a view, only the viewed rollup's own dimensions: a group of the view is split between its
    // stored group and its tail group, so grouping by one of its measure columns would split it.
    bool viewed_dim = !over_view;
    if (over_view)
      for (const auto& d : c.viewed->spec.dims) viewed_dim = viewed_dim || d.name == name;
    if (a != InvalidAttrNumber && viewed_dim) dims[a] = static_cast<int>(i);
  }
  // On a view, the kind of each of its columns the query aggregates (the viewed rollup's measure or
  // dimension): an aggregate is read from the split groups only where it combines as the view merges.
  const auto viewed_kind = [&](const std::string& column) -> std::optional<rs::MeasureKind> {
    for (const auto& m : c.viewed->spec.measures)
      if (m.name == column) return m.kind;
    return std::nullopt;
  };
  const auto viewed_is_dim = [&](const std::string& column) {
    for (const auto& d : c.viewed->spec.dims)
      if (d.name == column) return true;
    return false;
  };
  const auto rb = RollupBucketing(req, s.bucket_expr);
  if (!rb) return Fail(why, "grain", "the rollup's bucket expression is not one routing reads");
  // A rollup of a rollup: each bucket of the rollup it reads must lie in one of its own, so its stored
  // group of a bucket holds exactly the raw rows of that bucket.
  for (const auto& t : c.through) {
    const auto fine = RollupBucketing(req, t.bucket_expr);
    const bool zoned = rb->kind == cr::Bucketing::Kind::kTrunc && rb->with_zone;
    if (!fine || !cr::Nests(*fine, *rb, zoned ? ZoneStep(rb->zone) : 0))
      return Fail(why, "grain", "its buckets do not nest the buckets of the rollup it reads");
  }

  // Bucket calls over the time column: each must have the rollup's buckets nest in it.
  std::set<FuncExpr*> accepted;
  std::string guard;
  for (const auto& call : req.buckets) {
    if (call.attno != time_attno) continue;
    const bool zoned_trunc = call.b.kind == cr::Bucketing::Kind::kTrunc && call.b.with_zone;
    const int64_t step = zoned_trunc ? ZoneStep(call.b.zone) : 0;
    if (!cr::Nests(*rb, call.b, step))
      return Fail(why, "grain", "a time bucket of the query is finer than the rollup's or not aligned with it: " + s.bucket_expr);
    accepted.insert(call.call);
    if (call.session_zone)
      guard = "pg_catalog.current_setting('TimeZone') = " + core::QuoteLiteral(req.session_zone);
  }

  const std::string b = "d." + core::QuoteIdent(s.bucket_name);
  std::map<int, std::string> rollup_names{{kTimeParam, b}};
  for (const auto& [attno, i] : dims) rollup_names[kDimParam + attno] = "d." + core::QuoteIdent(s.dims[i].name);

  // One expression, raw and over stored groups; the reason when the rollup cannot compute it.
  std::string failure;
  const auto both = [&](Node* e, std::string* raw, std::string* rollup) {
    char* raw_text = nullptr;
    char* rollup_text = nullptr;
    AttrNumber bad = 0;
    bool bare_time = false;
    char* bad_name = nullptr;
    pg::Call([&] {
      RollupCtx rc{time_attno, &accepted, &dims, 0, false};
      Node* m = RollupMutator(e, &rc);
      bad = rc.bad_attno;
      bare_time = rc.bare_time;
      if (bad) bad_name = get_attname(req.source, bad, true);
      if (bad || bare_time) return;
      raw_text = Deparse(e, req.deparse_ctx);
      rollup_text = Deparse(m, req.deparse_ctx);
    });
    if (bad) {
      failure = std::string("column ") + (bad_name ? bad_name : "?") + " is not a dimension of the rollup";
      return false;
    }
    if (bare_time) {
      failure = "the time column is used other than through a time bucket the rollup's buckets nest in";
      return false;
    }
    *raw = raw_text;
    *rollup = cr::SubstitutePlaceholders(rollup_text, rollup_names);
    return true;
  };

  cr::Route route;
  route.rollup_id = c.progress_id;
  route.source = req.source_name;
  route.data_table = s.data_table;
  route.time_column = core::QuoteIdent(s.time_column);
  route.order_column = core::QuoteIdent(s.order_column);
  route.bucket_column = core::QuoteIdent(s.bucket_name);
  route.bucket_type = s.bucket_type;
  route.watermark = c.watermark;
  route.cursor = c.cursor;
  route.grain = c.grain.value_or(0);
  route.pending_table = s.pending_table;
  for (const auto& t : c.through) route.through_pending.push_back(t.pending_table);
  const std::string time_in_expr = core::QuoteIdent(s.time_column);
  route.bucket_of = [&s](const std::string& x) {
    // The stored bucket expression names its column unquoted when it can (as Postgres deparses it).
    for (const std::string& col : {s.time_column, core::QuoteIdent(s.time_column)}) {
      const auto r = rs::RenameBucketColumn(s.bucket_expr, col, x);
      if (r) return *r;
    }
    return std::string("NULL");
  };
  route.bucket_end = [&s](const std::string& x) { return rs::BucketEnd(s, x); };
  if (route.bucket_of("x") == "NULL") return Fail(why, "grain", "the rollup's bucket expression is not one routing reads");

  std::vector<Expr*> keys = req.groups;
  if (req.join_key && req.join_key_position > static_cast<int>(keys.size())) keys.push_back(req.join_key);
  for (Expr* g : keys) {
    std::string raw, rollup;
    if (!both((Node*)g, &raw, &rollup)) return Fail(why, "dimension", failure);
    route.keys.emplace_back(raw, rollup);
  }

  // WHERE: the time range, then filters the rollup can evaluate per group.
  ListCell* lc;
  foreach (lc, req.conjuncts) {
    Node* n = static_cast<Node*>(lfirst(lc));
    if (!own.empty()) {
      char* text = nullptr;
      pg::Call([&] { text = Deparse(n, req.deparse_ctx); });
      if (std::find(own.begin(), own.end(), text) != own.end()) {
        own_left.erase(text);
        route.raw_filters.push_back(text);
        continue;
      }
    }
    const char* op = nullptr;
    Node* bound = nullptr;
    char* bound_text = nullptr;
    pg::Call([&] {
      if (ReadBound(n, time_attno, time_type, &op, &bound)) bound_text = Deparse(bound, req.deparse_ctx);
    });
    if (bound_text) {
      const bool lower = op[0] == '>';
      auto& slot = lower ? route.lower : route.upper;
      if (slot) return Fail(why, "filter", "more than one lower or upper bound on the time column");
      slot = cr::Bound{op, bound_text};
      // A bound that always starts a rollup bucket cuts none: its edge arm goes (dashboards' idiom
      // date_trunc('hour', now()) - interval '7 days').
      BucketCall call;
      int64_t shift = 0;
      bool months = false, read = false;
      pg::Call([&] { read = ReadAlignedBound(bound, &call, &shift, &months, req.session_zone.c_str()); });
      if (read) {
        const bool zoned = call.b.kind == cr::Bucketing::Kind::kTrunc && call.b.with_zone;
        const bool shift_ok = !months && (shift == 0 || (rb->kind == cr::Bucketing::Kind::kBin && shift % rb->stride_us == 0));
        if (shift_ok && cr::Nests(*rb, call.b, zoned ? ZoneStep(call.b.zone) : 0)) {
          slot->aligned = true;
          if (call.session_zone)
            guard = "pg_catalog.current_setting('TimeZone') = " + core::QuoteLiteral(req.session_zone);
        }
      }
      continue;
    }
    std::string raw, rollup;
    if (!both(n, &raw, &rollup)) return Fail(why, "filter", "a filter the rollup cannot evaluate: " + failure);
    route.raw_filters.push_back(raw);
    route.rollup_filters.push_back(rollup);
  }

  if (!own_left.empty())
    return Fail(why, "filter", "the rollup's WHERE condition " + *own_left.begin() + " is not one of the query's");

  // Measures: each aggregate from the rollup's state columns.
  std::map<std::string, int> state_index;  // rollup column -> state number
  const auto state_of = [&](const rs::Measure& m, int column, const std::string& raw_agg, cr::Combine combine) {
    const std::string col = "d." + core::QuoteIdent(rs::StateColumns(m)[column]);
    const auto it = state_index.find(col);
    if (it != state_index.end()) return it->second;
    route.states.push_back({raw_agg, col, combine});
    return state_index[col] = static_cast<int>(route.states.size()) - 1;
  };
  const auto find = [&](rs::MeasureKind kind, const std::string& args) -> const rs::Measure* {
    for (const auto& m : s.measures)
      if (m.kind == kind && m.args == args) return &m;
    return nullptr;
  };
  std::vector<AggPlan> plans;
  for (size_t ai = 0; ai < req.aggs.size(); ai++) {
    Aggref* a = req.aggs[ai];
    const AggFacts& f = req.agg_facts[ai];
    const bool catalog = f.catalog, strata_fn = f.strata;
    const char* type = f.type.c_str();
    const std::string& fn = f.name;
    const std::string& arg = f.args;
    const std::string& arg_cast = f.args_cast;
    // A sketch measure over this argument (as written or with its implicit cast), any parameters after it.
    const auto sketch_of = [&](rs::MeasureKind kind, std::string* extra) -> const rs::Measure* {
      for (const auto& x : s.measures)
        for (const std::string& form : {arg, arg_cast, "(" + arg + ")::double precision"})
          if (x.kind == kind && (x.args == form || x.args.rfind(form + ", ", 0) == 0)) {
            *extra = x.args == form ? "" : x.args.substr(form.size() + 2);
            return &x;
          }
      return nullptr;
    };
    AggPlan p;
    p.type = type;
    const std::string raw_args = a->aggstar ? "*" : arg;
    const auto unavailable = [&](const std::string& what) {
      return Fail(why, "measure", what + " is not derivable from the rollup's measures");
    };
    if (over_view) {
      using K = rs::MeasureKind;
      const std::string column = core::UnquoteIdent(arg);
      const auto k = viewed_kind(column);
      const bool ok = (catalog && fn == "sum" && k && (*k == K::kCount || *k == K::kSum)) ||
                      (catalog && (fn == "min" || fn == "max") &&
                       ((k && *k == (fn == "min" ? K::kMin : K::kMax)) || viewed_is_dim(column))) ||
                      (strata_fn && fn == "merge" && k &&
                       (*k == K::kHll || *k == K::kQsketch || *k == K::kTopk || *k == K::kMerge));
      if (!ok)
        return Fail(why, "measure", "on a rollup's view, a rollup of it answers sum of its counts and sums, min of its "
                                    "mins, max of its maxes (or of a dimension) and strata.merge of its sketches, "
                                    "which combine as the view merges a stored group with the rows it has not "
                                    "absorbed (" + fn + "(" + raw_args + ") does not)");
    }
    if (a->aggdistinct && catalog && fn == "count") {
      // Approximate (strata.routing_approximate): from an hll of the column.
      std::string extra;
      const rs::Measure* m = sketch_of(rs::MeasureKind::kHll, &extra);
      if (!m) return unavailable("count(DISTINCT " + arg + ")");
      const std::string p = extra.empty() ? "14" : extra;
      plans.push_back({});
      plans.back().form = AggPlan::kDistinct;
      plans.back().state = state_of(*m, 0, "strata.hll_agg(" + m->args + ")", cr::Combine::kSketch);
      plans.back().type = type;
      const double bound = 104.0 / std::sqrt(std::pow(2.0, std::atof(p.c_str())));
      char note[160];
      snprintf(note, sizeof note, "count(DISTINCT %s) from an hll sketch (relative standard error %.2f%%)", arg.c_str(),
                    bound);
      *approximate += (approximate->empty() ? "" : "; ") + std::string(note);
      continue;
    }
    if (a->aggkind == AGGKIND_ORDERED_SET && catalog && (fn == "percentile_cont" || fn == "percentile_disc")) {
      // Approximate: from a qsketch of the column, the fraction a constant or parameter.
      char* q = nullptr;
      bool scalar = false;
      pg::Call([&] {
        Node* d = static_cast<Node*>(linitial(a->aggdirectargs));
        scalar = exprType(d) == FLOAT8OID && !contain_var_clause(d);
        if (scalar) q = Deparse(d, req.deparse_ctx);
      });
      std::string extra;
      const rs::Measure* m = sketch_of(rs::MeasureKind::kQsketch, &extra);
      if (!scalar || !m) return unavailable(fn + "(...) WITHIN GROUP (ORDER BY " + arg + ")");
      const std::string accuracy = extra.empty() ? "0.005" : extra;
      plans.push_back({});
      plans.back().form = AggPlan::kQuantile;
      plans.back().quantile_fn = fn == "percentile_cont" ? "strata.quantile_cont" : "strata.quantile";
      plans.back().fraction = q;
      plans.back().state = state_of(*m, 0, "strata.qsketch_agg(" + m->args + ")", cr::Combine::kSketch);
      plans.back().type = type;
      *approximate += (approximate->empty() ? "" : "; ") + fn + "(" + q + ") of " + arg +
                      " from a qsketch (relative accuracy " + accuracy + ")";
      continue;
    }
    if (catalog && fn == "count") {
      const rs::Measure* m = find(rs::MeasureKind::kCount, a->aggstar ? "" : arg);
      int col = 0;
      if (!m && !a->aggstar) {
        m = find(rs::MeasureKind::kAvg, arg);
        col = 1;
      }
      if (!m) return unavailable("count(" + raw_args + ")");
      p.state = state_of(*m, col, "pg_catalog.count(" + raw_args + ")", cr::Combine::kCount);
    } else if (catalog && (fn == "sum" || fn == "min" || fn == "max")) {
      const auto kind = fn == "sum" ? rs::MeasureKind::kSum : fn == "min" ? rs::MeasureKind::kMin : rs::MeasureKind::kMax;
      const rs::Measure* m = find(kind, arg);
      if (!m && fn == "sum") m = find(rs::MeasureKind::kAvg, arg);
      if (!m) return unavailable(fn + "(" + arg + ")");
      const auto combine = fn == "sum" ? cr::Combine::kSum : fn == "min" ? cr::Combine::kMin : cr::Combine::kMax;
      p.state = state_of(*m, 0, "pg_catalog." + fn + "(" + arg + ")", combine);
    } else if (catalog && fn == "avg") {
      if (p.type != "numeric" && p.type != "double precision") return unavailable("avg(" + arg + ")");
      // avg(real) accumulates in double precision, a stored sum(real) in real: not the same number.
      if (a->aggargtypes && linitial_oid(a->aggargtypes) == FLOAT4OID) return unavailable("avg(" + arg + ") over real");
      const rs::Measure* sum = find(rs::MeasureKind::kAvg, arg);
      const rs::Measure* cnt = sum;
      int sum_col = 0, cnt_col = 1;
      if (!sum) {
        sum = find(rs::MeasureKind::kSum, arg);
        cnt = find(rs::MeasureKind::kCount, arg);
        cnt_col = 0;
      }
      if (!sum || !cnt) return unavailable("avg(" + arg + ")");
      p.form = p.type == "numeric" ? AggPlan::kAvgNumeric : AggPlan::kAvgFloat;
      p.state = state_of(*sum, sum_col, "pg_catalog.sum(" + arg + ")", cr::Combine::kSum);
      p.count_state = state_of(*cnt, cnt_col, "pg_catalog.count(" + arg + ")", cr::Combine::kCount);
    } else if (strata_fn && fn == "topk_agg") {
      // Misra-Gries summaries merged from groups equal the direct one only below their capacity: with
      // strata.routing_approximate only, and said so (the merged summary keeps its own error bound).
      if (!config::routing_approximate)
        return Fail(why, "measure", "strata.topk_agg merged from stored groups is not always the sketch of the raw rows "
                                    "(answered from them only with strata.routing_approximate)");
      const rs::Measure* m = find(rs::MeasureKind::kTopk, arg);
      if (!m) m = find(rs::MeasureKind::kTopk, arg_cast);
      if (!m) return unavailable("strata.topk_agg(" + arg + ")");
      p.state = state_of(*m, 0, "strata.topk_agg(" + m->args + ")", cr::Combine::kSketch);
      *approximate += (approximate->empty() ? "" : "; ") +
                      std::string("strata.topk_agg(") + arg + ") merged from stored summaries (each count within the "
                      "summary's error bound, at most the rows counted / (capacity + 1))";
    } else if (strata_fn && fn == "merge") {
      // A merge of stored sketches (a column of a rollup's view, or a raw table's sketch column).
      const rs::Measure* m = find(rs::MeasureKind::kMerge, arg);
      if (!m) return unavailable("strata.merge(" + arg + ")");
      bool topk = false;
      pg::Call([&] {
        topk = a->aggargtypes &&
               strcmp(format_type_extended(linitial_oid(a->aggargtypes), -1, FORMAT_TYPE_FORCE_QUALIFY), "strata.topk") == 0;
      });
      if (topk && !config::routing_approximate)
        return Fail(why, "measure", "a merge of topk summaries from stored groups is not always the merge of all of them "
                                    "(answered from them only with strata.routing_approximate)");
      p.state = state_of(*m, 0, "strata.merge(" + m->args + ")", cr::Combine::kSketch);
      if (topk)
        *approximate += (approximate->empty() ? "" : "; ") + std::string("strata.merge(") + arg +
                        ") merged from stored summaries (each count within the summary's error bound)";
    } else if (strata_fn && (fn == "hll_agg" || fn == "qsketch_agg")) {
      // hll and qsketch merge bitwise: the stored groups' merge is the very sketch of the raw rows.
      const auto kind = fn == "hll_agg" ? rs::MeasureKind::kHll : rs::MeasureKind::kQsketch;
      const rs::Measure* m = find(kind, arg);
      if (!m) m = find(kind, arg_cast);
      if (!m) return unavailable("strata." + fn + "(" + arg + ")");
      p.state = state_of(*m, 0, "strata." + fn + "(" + m->args + ")", cr::Combine::kSketch);
    } else {
      return unavailable(fn + "(" + raw_args + ")");
    }
    plans.push_back(p);
  }
  // The order values must not have gone back below the watermark (TRUNCATE ... RESTART IDENTITY, setval):
  // the refresh refuses such a rollup until it is rebuilt, and routing reads everything raw meanwhile.
  // (On a view, the view as written reads the same tail: nothing to guard.)
  if (over_view) {
    route.guard = guard;
    route.over_view = cr::Route::OverView{
        c.viewed->data_table, c.viewed->tail ? rs::TailSql(c.viewed->spec, c.viewed->watermark) : std::string()};
  } else {
    if (c.order_sequence.empty()) return Fail(why, "shape", "the rollup has no order column sequence");
    const std::string sequence_guard = "(SELECT last_value FROM " + c.order_sequence +
                                       ") >= (SELECT watermark FROM strata.rollup WHERE id = " + std::to_string(c.progress_id) + ")";
    route.guard = guard.empty() ? sequence_guard : guard + " AND " + sequence_guard;
  }

  if (!render) return "matched";
  // The outer query: group keys are s.gk, aggregates their combinations.
  std::map<int, std::string> outer;
  for (size_t k = 0; k < req.groups.size(); k++) outer[kGroupParam + 1 + static_cast<int>(k)] = "s.g" + std::to_string(k + 1);
  const auto state_col = [](int i) { return "s.c" + std::to_string(i + 1); };
  for (size_t j = 0; j < plans.size(); j++) {
    const AggPlan& p = plans[j];
    const cr::State& st = route.states[p.state];
    std::string e;
    if (p.form == AggPlan::kPlain) {
      e = cr::CombineState(st.combine, state_col(p.state), p.type);
    } else if (p.form == AggPlan::kDistinct) {
      e = "strata.distinct_count(strata.merge(" + state_col(p.state) + "))::" + p.type;
    } else if (p.form == AggPlan::kQuantile) {
      e = p.quantile_fn + "(strata.merge(" + state_col(p.state) + "), (" + p.fraction + "))::" + p.type;
    } else {
      const std::string sum = "pg_catalog.sum(" + state_col(p.state) + ")";
      const std::string cnt = "pg_catalog.sum(" + state_col(p.count_state) + ")";
      e = p.form == AggPlan::kAvgNumeric ? "(" + sum + "::numeric / NULLIF(" + cnt + ", 0)::numeric)"
                                         : "(" + sum + "::double precision / NULLIF(" + cnt + ", 0)::double precision)";
    }
    outer[kAggParam + 1 + static_cast<int>(j)] = e;
  }
  outer.insert(req.dim_columns.begin(), req.dim_columns.end());
  return cr::SubstitutePlaceholders(req.outer_head, outer) + " FROM " + cr::UnionSql(route, arms, rare) + " AS s" +
         cr::SubstitutePlaceholders(req.outer_from, outer) + cr::SubstitutePlaceholders(req.outer_tail, outer);
}

}  // namespace strata::routing
