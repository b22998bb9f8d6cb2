// Rollup query analysis: the query is parsed and analyzed by Postgres itself; the analyzed tree is
// checked against the supported shape (one time bucket, plain-column dimensions, supported aggregates,
// one source table, an immutable WHERE) and each part is deparsed with search_path pinned to pg_catalog,
// so the stored SQL names everything qualified. See analyze.hpp.
#include <algorithm>
#include <cctype>
#include <climits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/naming.hpp"
#include "pg/guc.hpp"
#include "pg/names.hpp"
#include "pg/spi.hpp"
#include "rollups/analyze.hpp"
#include "rollups/catalog.hpp"

namespace strata::rollups {
namespace {

using core::Error;
namespace rs = core::rollup;

constexpr const char* kShapeHint =
    "A rollup query is SELECT <time bucket>, <columns>, <aggregates> FROM <one table> [WHERE ...] GROUP BY "
    "<the bucket and the columns>.";

Error Unsupported(const std::string& what, const std::string& hint = kShapeHint) {
  return Error(ERRCODE_FEATURE_NOT_SUPPORTED, "rollup query: " + what + " is not supported", {}, hint);
}

std::string Deparse(Node* e, List* ctx) {
  const char* s = nullptr;
  pg::Call([&] { s = deparse_expression(e, ctx, false, false); });
  return s;
}

std::string FormatType(Oid type) {
  const char* s = nullptr;
  pg::Call([&] { s = format_type_be(type); });
  return s;
}

void FuncName(Oid fn, std::string* name, Oid* nsp) {
  const char* n = nullptr;
  pg::Call([&] {
    n = get_func_name(fn);
    *nsp = get_func_namespace(fn);
  });
  *name = n ? n : "";
}

Oid StrataNamespace() {
  Oid nsp = InvalidOid;
  pg::Call([&] { nsp = get_namespace_oid("strata", false); });
  return nsp;
}

// date_trunc units and the interval one bucket spans.
std::optional<std::string> UnitWidth(std::string unit) {
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!unit.empty() && unit.back() == 's' && unit != "microseconds" && unit != "milliseconds") unit.pop_back();
  static const std::pair<const char*, const char*> kUnits[] = {
      {"microseconds", "1 microsecond"}, {"milliseconds", "1 millisecond"}, {"second", "1 second"},
      {"minute", "1 minute"}, {"hour", "1 hour"}, {"day", "1 day"}, {"week", "7 days"}, {"month", "1 month"},
      {"quarter", "3 months"}, {"year", "1 year"}, {"decade", "10 years"}, {"century", "100 years"},
      {"millennium", "1000 years"}};
  for (const auto& [u, w] : kUnits)
    if (unit == u) return std::string(w);
  return std::nullopt;
}

bool IsTimestamp(Oid t) { return t == TIMESTAMPOID || t == TIMESTAMPTZOID; }

// Recognizes the time bucket; false when `e` is not a bucket function at all.
bool ReadBucket(Node* e, Oid rel, List* ctx, const std::string& zone, rs::Spec* s) {
  if (!IsA(e, FuncExpr)) return false;
  FuncExpr* f = reinterpret_cast<FuncExpr*>(e);
  std::string name;
  Oid nsp = InvalidOid;
  FuncName(f->funcid, &name, &nsp);
  if (nsp != PG_CATALOG_NAMESPACE || (name != "date_trunc" && name != "date_bin")) return false;
  const int nargs = list_length(f->args);
  Node* col = static_cast<Node*>(lsecond(f->args));
  if (!IsA(col, Var) || !IsTimestamp(exprType(col)))
    throw Unsupported("a time bucket over an expression or a non-timestamp column",
                      "Bucket a timestamp or timestamptz column directly, e.g. date_trunc('hour', ts).");
  const std::string column = Deparse(col, ctx);
  const char* attname = nullptr;
  pg::Call([&] { attname = get_attname(rel, reinterpret_cast<Var*>(col)->varattno, false); });
  s->bucket_type = FormatType(exprType(e));
  if (name == "date_trunc") {
    if (nargs != 2)
      throw Unsupported("date_trunc with a time zone argument",
                        "date_trunc on a timestamptz column is cut in the session's time zone at creation; use "
                        "date_bin for fixed-width buckets.");
    Node* unit = static_cast<Node*>(linitial(f->args));
    if (!IsA(unit, Const) || reinterpret_cast<Const*>(unit)->constisnull)
      throw Unsupported("a date_trunc unit that is not a constant");
    const char* u = nullptr;
    pg::Call([&] { u = TextDatumGetCString(reinterpret_cast<Const*>(unit)->constvalue); });
    const auto width = UnitWidth(u);
    if (!width) throw Unsupported(std::string("the date_trunc unit \"") + u + "\"", "Use a unit from microseconds to millennium.");
    s->bucket_width = core::QuoteLiteral(*width) + "::interval";
    const bool tz = exprType(col) == TIMESTAMPTZOID;
    std::optional<long> offset;
    if (tz) {
      pg::Call([&] {
        long off = 0;
        pg_tz* z = pg_tzset(zone.c_str());
        if (z != nullptr && pg_get_timezone_offset(z, &off)) offset = off;
      });
    }
    if (const auto bin = rs::DateBinForTrunc(*width, column, tz, offset)) {
      // Same buckets, cheaper arithmetic (see DateBinForTrunc); fixed width, so no zone is needed.
      s->bucket_expr = *bin;
    } else if (tz) {
      // Cut in an explicit zone (the creator's TimeZone), so the worker, the real-time view and every
      // reader agree on bucket boundaries whatever their own TimeZone setting.
      s->time_zone = zone;
      s->bucket_expr = "pg_catalog.date_trunc(" + core::QuoteLiteral(u) + ", " + column + ", " +
                       core::QuoteLiteral(zone) + ")";
    } else {
      s->bucket_expr = Deparse(e, ctx);
    }
  } else {
    Node* stride = static_cast<Node*>(linitial(f->args));
    Node* origin = static_cast<Node*>(lthird(f->args));
    if (!IsA(stride, Const) || !IsA(origin, Const)) throw Unsupported("a date_bin stride or origin that is not a constant");
    s->bucket_width = Deparse(stride, ctx);
    s->bucket_expr = Deparse(e, ctx);
  }
  s->time_column = attname;
  return true;
}

void ReadMeasure(Aggref* agg, const std::string& name, List* ctx, Oid strata_nsp, rs::Measure* m) {
  std::string fn;
  Oid nsp = InvalidOid;
  FuncName(agg->aggfnoid, &fn, &nsp);
  if (agg->aggdistinct)
    throw Unsupported(fn + "(DISTINCT ...)",
                      "Distinct counts cannot be maintained incrementally; use strata.hll_agg(...) and "
                      "strata.distinct_count() on the rollup.");
  if (agg->aggkind != AGGKIND_NORMAL)
    throw Unsupported("the ordered-set aggregate " + fn + "()", "Use strata.qsketch_agg() and strata.quantile() for percentiles.");
  if (agg->aggorder) throw Unsupported("ORDER BY inside the aggregate " + fn + "()");
  if (agg->aggfilter) throw Unsupported("FILTER on " + fn + "()", "Put the condition in the WHERE clause or define another rollup.");
  bool ok = false;
  if (nsp == PG_CATALOG_NAMESPACE) {
    ok = fn == "count" || fn == "sum" || fn == "min" || fn == "max" || fn == "avg";
  } else if (nsp == strata_nsp) {
    ok = fn == "hll_agg" || fn == "qsketch_agg" || fn == "topk_agg" || fn == "merge";
  }
  if (!ok || !rs::KindFromName(fn, &m->kind))
    throw Unsupported("the aggregate " + fn + "()",
                      "Supported measures: count, sum, min, max, avg, strata.hll_agg, strata.qsketch_agg, "
                      "strata.topk_agg and strata.merge.");
  m->name = name;
  std::vector<std::string> args;
  ListCell* lc;
  foreach (lc, agg->args) args.push_back(Deparse(reinterpret_cast<Node*>(lfirst_node(TargetEntry, lc)->expr), ctx));
  for (size_t i = 0; i < args.size(); i++) m->args += (i ? ", " : "") + args[i];
  m->state_type = m->result_type = FormatType(agg->aggtype);
}

// The widest a group's key may be: a btree entry holds at most about a third of a page (2,704 bytes),
// less the entry's own header; what is left over is slack for alignment and NULL bitmaps.
constexpr int64_t kMaxKeyBytes = 2000;

// The most bytes one value of a dimension column takes in the key index. A column without a bound
// (text, bytea, varchar without a length, json, arrays) is refused: one long value would make every later
// refresh fail ("index row size exceeds btree maximum") and nothing after it would be absorbed.
int64_t DimensionWidth(Var* v, const std::string& name, Oid source) {
  int16 typlen = 0;
  int32 max_size = -1;
  pg::Call([&] {
    typlen = get_typlen(v->vartype);
    max_size = type_maximum_size(v->vartype, v->vartypmod);
  });
  if (typlen > 0) return typlen;
  if (max_size > 0) return max_size + 4;
  // Small variable-length types whose values are bounded by their definition.
  if (v->vartype == INETOID || v->vartype == CIDROID) return 24;
  if (v->vartype == NUMERICOID && v->vartypmod >= 0) return 64;  // numeric(p, s): p is at most 1000 digits
  std::string column, type;
  pg::Call([&] {
    column = get_attname(source, v->varattno, false);
    type = format_type_with_typemod(v->vartype, v->vartypmod);
  });
  throw Error(ERRCODE_FEATURE_NOT_SUPPORTED,
              "rollup query: dimension \"" + name + "\" is " + type + ", whose values have no length bound",
              "A group's key must fit the data table's key index (" + std::to_string(kMaxKeyBytes) +
                  " bytes); one longer value would stop every later refresh.",
              "Group by a bounded column, e.g. ALTER TABLE ... ADD COLUMN " + column + "_key varchar(200) GENERATED "
              "ALWAYS AS (left(" + column + ", 200)) STORED, and use " + column + "_key.");
}

// Error context while the rollup's query is parsed and analyzed: a position Postgres reports is one in
// the query text, not in the statement that called create_rollup; report it as an internal query and
// position (as errors inside a function body are), so the caret points into the query text.
void QueryPositionCallback(void* arg) {
  const int pos = geterrposition();
  if (pos <= 0) return;
  errposition(0);
  internalerrposition(pos);
  internalerrquery(static_cast<const char*>(arg));
}

// Runs a parse or analysis step of the rollup's query with QueryPositionCallback installed.
template <class F>
void WithQueryPosition(const std::string& query, F&& f) {
  pg::Call([&] {
    ErrorContextCallback cb;
    cb.callback = QueryPositionCallback;
    cb.arg = const_cast<char*>(query.c_str());
    cb.previous = error_context_stack;
    error_context_stack = &cb;
    f();
    error_context_stack = cb.previous;
  });
}


}  // namespace

namespace {

// Parses and analyzes the query with the caller's search_path (errors point into the query text), then
// pins the session and refuses every clause a rollup cannot keep. Returns the analyzed query.
Query* ParseRollupQuery(const std::string& query) {
  List* raw = nullptr;
  WithQueryPosition(query, [&] { raw = raw_parser(query.c_str(), RAW_PARSE_DEFAULT); });
  if (list_length(raw) != 1 || !IsA(linitial_node(RawStmt, raw)->stmt, SelectStmt))
    throw Error(ERRCODE_SYNTAX_ERROR, "rollup query must be a single SELECT statement", {}, kShapeHint);
  Query* q = nullptr;
  RawStmt* stmt = linitial_node(RawStmt, raw);
  WithQueryPosition(query, [&] { q = parse_analyze_fixedparams(stmt, query.c_str(), nullptr, 0, nullptr); });
  PinSessionForRollupSql();
  if (q->cteList) throw Unsupported("WITH");
  if (q->setOperations) throw Unsupported("UNION, INTERSECT or EXCEPT");
  if (q->hasWindowFuncs) throw Unsupported("a window function");
  if (q->hasTargetSRFs) throw Unsupported("a set-returning function in the select list");
  if (q->hasSubLinks) throw Unsupported("a subquery", "A rollup reads one table; join when querying the rollup's view.");
  if (q->distinctClause) throw Unsupported("DISTINCT");
  if (q->sortClause) throw Unsupported("ORDER BY", "Order rows when querying the rollup's view.");
  if (q->limitCount || q->limitOffset) throw Unsupported("LIMIT or OFFSET");
  if (q->havingQual) throw Unsupported("HAVING", "Filter groups when querying the rollup's view.");
  if (q->groupingSets) throw Unsupported("GROUPING SETS, ROLLUP or CUBE", "Define one rollup per grouping.");
  if (q->rowMarks) throw Unsupported("FOR UPDATE or FOR SHARE");
  if (!q->groupClause || !q->hasAggs)
    throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "rollup query must aggregate with GROUP BY", {}, kShapeHint);
  FromExpr* from = q->jointree;
  if (list_length(from->fromlist) != 1 || !IsA(linitial(from->fromlist), RangeTblRef))
    throw Unsupported("a join or more than one table in FROM", "A rollup reads one table; join when querying its view.");
  if (rt_fetch(linitial_node(RangeTblRef, from->fromlist)->rtindex, q->rtable)->rtekind != RTE_RELATION)
    throw Unsupported("a subquery or function in FROM", "A rollup reads one table.");
  return q;
}

// The source columns referenced anywhere in the query (select list and WHERE), by name; a system column
// is refused.
std::vector<std::string> UsedColumns(Query* q, Oid source) {
  std::vector<std::string> out;
  Bitmapset* used = nullptr;
  pg::Call([&] {
    pull_varattnos(reinterpret_cast<Node*>(q->targetList), 1, &used);
    pull_varattnos(q->jointree->quals, 1, &used);
  });
  for (int x = -1;;) {
    pg::Call([&] { x = bms_next_member(used, x); });
    if (x < 0) break;
    const AttrNumber att = x + FirstLowInvalidHeapAttributeNumber;
    if (att <= 0) throw Unsupported("a system column");
    const char* n = nullptr;
    pg::Call([&] { n = get_attname(source, att, false); });
    out.push_back(n);
  }
  return out;
}

// What reading the select list has found so far.
struct ListState {
  std::set<std::string> names;
  int buckets = 0;
  int64_t key_bytes = 8;  // the bucket
};

// Reads one output column: a measure (one aggregate call), the time bucket (first), or a dimension (a
// plain column of bounded width).
void ReadOutputColumn(TargetEntry* tle, List* ctx, const char* zone, Oid strata_nsp, Parsed* p, ListState* st) {
  if (tle->resjunk)
    throw Unsupported("a GROUP BY expression that is not in the select list", "List every GROUP BY expression in the select list.");
  const std::string name = tle->resname ? tle->resname : "?column?";
  if (!st->names.insert(name).second)
    throw Error(ERRCODE_DUPLICATE_COLUMN, "rollup query: column name \"" + name + "\" appears twice", {},
                "Name every output column with AS.");
  if (name.rfind("__strata", 0) == 0 || name.size() > 55)
    throw Error(ERRCODE_INVALID_NAME, "rollup query: column name \"" + name + "\" is reserved or too long", {},
                "Use a name of at most 55 bytes that does not start with __strata.");
  Node* e = reinterpret_cast<Node*>(tle->expr);
  if (IsA(e, Aggref)) {
    rs::Measure m;
    ReadMeasure(reinterpret_cast<Aggref*>(e), name, ctx, strata_nsp, &m);
    p->spec.measures.push_back(m);
  } else if (tle->ressortgroupref != 0) {
    if (ReadBucket(e, p->source, ctx, zone ? zone : "UTC", &p->spec)) {
      if (++st->buckets > 1)
        throw Unsupported("more than one time bucket", "Group by one time bucket; other columns are dimensions.");
      p->spec.bucket_name = name;
      if (!p->spec.dims.empty() || !p->spec.measures.empty())
        throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "rollup query: the time bucket must be the first output column", {},
                    kShapeHint);
    } else if (IsA(e, Var)) {
      p->spec.dims.push_back({name, Deparse(e, ctx)});
      st->key_bytes += DimensionWidth(reinterpret_cast<Var*>(e), name, p->source);
    } else {
      throw Unsupported("the grouping expression " + Deparse(e, ctx),
                        "Group by plain columns and one time bucket (date_trunc or date_bin on a timestamp column).");
    }
  } else {
    throw Unsupported("the output column \"" + name + "\" (only single aggregate calls are measures)",
                      "Compute ratios and other expressions when querying the rollup's view.");
  }
  bool mutable_expr = false;
  if (!IsA(e, FuncExpr) || tle->ressortgroupref == 0) pg::Call([&] { mutable_expr = contain_mutable_functions(e); });
  if (mutable_expr)
    throw Unsupported("the non-immutable expression in \"" + name + "\"", "Measures must give the same value at every refresh.");
}

}  // namespace

Parsed Analyze(const std::string& query) {
  Parsed p;
  Query* q = ParseRollupQuery(query);
  FromExpr* from = q->jointree;
  RangeTblEntry* rte = rt_fetch(linitial_node(RangeTblRef, from->fromlist)->rtindex, q->rtable);
  p.source = rte->relid;
  p.relkind = rte->relkind;
  // Names used to read, and the source columns referenced anywhere.
  const char* relname = nullptr;
  List* ctx = nullptr;
  pg::Call([&] {
    relname = get_rel_name(p.source);
    ctx = deparse_context_for(relname, p.source);
  });
  p.used_columns = UsedColumns(q, p.source);

  const char* zone = nullptr;
  pg::Call([&] { zone = pg_get_timezone_name(session_timezone); });
  const Oid strata_nsp = StrataNamespace();
  ListState st;
  ListCell* lc;
  foreach (lc, q->targetList) ReadOutputColumn(lfirst_node(TargetEntry, lc), ctx, zone, strata_nsp, &p, &st);
  if (st.key_bytes > kMaxKeyBytes)
    throw Unsupported("dimensions of up to " + std::to_string(st.key_bytes) + " bytes together",
                      "A group's key (bucket and dimensions) must fit the data table's key index (" +
                          std::to_string(kMaxKeyBytes) + " bytes here); group by fewer or narrower columns.");
  if (st.buckets == 0)
    throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "rollup query must group by a time bucket", {},
                "Add date_trunc('hour', <timestamp column>) or date_bin(...) as the first column and to GROUP BY.");
  if (p.spec.measures.empty())
    throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "rollup query has no measures", {}, kShapeHint);
  if (from->quals) {
    bool mutable_where = false;
    pg::Call([&] { mutable_where = contain_mutable_functions(from->quals); });
    if (mutable_where)
      throw Unsupported("a WHERE clause that is not immutable (e.g. now())",
                        "A rollup's filter must select the same rows at every refresh; filter by time when "
                        "querying the rollup's view.");
    p.spec.where = Deparse(from->quals, ctx);
  }
  return p;
}

namespace {

// The i-th target entry's expression of q.
Node* TargetExpr(Query* q, int i) { return reinterpret_cast<Node*>(list_nth_node(TargetEntry, q->targetList, i)->expr); }

Error DefinitionChanged(const std::string& view, const std::string& why) {
  return Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "definition view of rollup " + view + " " + why, {},
               "Drop the rollup with strata.drop_rollup() and create it again.");
}


}  // namespace

// The spec `old` with the source column references read back from the definition view: current names,
// each part as Postgres deparses the view's stored tree (casts it added implicitly then show).
rs::Spec ReadDefinition(const std::string& view, Oid definition, const rs::Spec& old) {
  const auto def = pg::Query("SELECT pg_catalog.pg_get_viewdef($1::pg_catalog.oid)", {std::to_string(definition)});
  if (def.empty() || !def[0][0]) throw DefinitionChanged(view, "is missing");
  const std::string sql = *def[0][0];
  Query* q = nullptr;
  pg::Call([&] {
    List* raw = raw_parser(sql.c_str(), RAW_PARSE_DEFAULT);
    q = parse_analyze_fixedparams(linitial_node(RawStmt, raw), sql.c_str(), nullptr, 0, nullptr);
  });
  const int want = 2 + static_cast<int>(old.dims.size() + old.measures.size());
  if (list_length(q->targetList) != want || list_length(q->rtable) != 1) throw DefinitionChanged(view, "has another shape");
  const Oid source = rt_fetch(1, q->rtable)->relid;
  const char* relname = nullptr;
  List* ctx = nullptr;
  pg::Call([&] {
    relname = get_rel_name(source);
    ctx = deparse_context_for(relname, source);
  });
  rs::Spec now = old;
  Node* time = TargetExpr(q, 0);
  if (!IsA(time, Var)) throw DefinitionChanged(view, "has another shape");
  pg::Call([&] { now.time_column = get_attname(source, reinterpret_cast<Var*>(time)->varattno, false); });
  if (now.time_column != old.time_column) {
    // The bucket's column as deparse wrote it (quoted only where needed).
    std::string was, is;
    pg::Call([&] {
      was = quote_identifier(old.time_column.c_str());
      is = quote_identifier(now.time_column.c_str());
    });
    const auto renamed = rs::RenameBucketColumn(old.bucket_expr, was, is);
    if (!renamed) throw DefinitionChanged(view, "names a time column its bucket does not");
    now.bucket_expr = *renamed;
  }
  int i = 1;
  for (auto& d : now.dims) d.expr = Deparse(TargetExpr(q, i++), ctx);
  const Oid strata_nsp = StrataNamespace();
  for (auto& m : now.measures) {
    Node* e = TargetExpr(q, i++);
    if (!IsA(e, Aggref)) throw DefinitionChanged(view, "has another shape");
    rs::Measure read;
    ReadMeasure(reinterpret_cast<Aggref*>(e), m.name, ctx, strata_nsp, &read);
    m.args = read.args;
  }
  Node* order = TargetExpr(q, i);
  if (!IsA(order, Aggref) || list_length(reinterpret_cast<Aggref*>(order)->args) != 1) throw DefinitionChanged(view, "has another shape");
  Node* order_var = reinterpret_cast<Node*>(linitial_node(TargetEntry, reinterpret_cast<Aggref*>(order)->args)->expr);
  if (!IsA(order_var, Var)) throw DefinitionChanged(view, "has another shape");
  pg::Call([&] { now.order_column = get_attname(source, reinterpret_cast<Var*>(order_var)->varattno, false); });
  now.where = q->jointree->quals ? Deparse(q->jointree->quals, ctx) : "";

  return now;
}

bool SpecDiffers(const rs::Spec& a, const rs::Spec& b) {
  bool same = a.time_column == b.time_column && a.order_column == b.order_column && a.where == b.where &&
              a.bucket_expr == b.bucket_expr;
  for (size_t k = 0; k < a.dims.size(); k++) same = same && a.dims[k].expr == b.dims[k].expr;
  for (size_t k = 0; k < a.measures.size(); k++) same = same && a.measures[k].args == b.measures[k].args;
  return !same;
}

}  // namespace strata::rollups
