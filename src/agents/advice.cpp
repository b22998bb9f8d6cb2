// The advisor's reading of one statement (strata._query_shape, under strata.rollup_advice; README.md):
// the raw table it aggregates, the time column and grain, dimensions and measures a rollup answering it
// needs, or why no rollup could; and the planner's estimates of the rows it reads and of the groups such
// a rollup would store. The text comes from pg_stat_statements, normalized (constants are $n): the shape
// is read from the raw parse tree, which needs no parameter types; the estimates from a plan, when the
// parameters' types can be inferred.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "core/naming.hpp"
#include "pg/guard.hpp"
#include "pg/guc.hpp"
#include "pg/spi.hpp"
#include "pg/xact.hpp"
#include "routing/routed_plan.hpp"

namespace {

using strata::core::QuoteIdent;

struct Shape {
  bool aggregate = false;  // an aggregate SELECT (others are not the advisor's business)
  Oid source = InvalidOid;
  std::string time_column, grain;
  std::vector<std::string> dims;      // column names
  std::vector<std::string> measures;  // select-list items of the rollup query ("sum(watch_ms) AS sum_watch_ms")
  std::vector<std::string> approximate;
  std::string refusal;
  std::optional<double> rows_read, groups, table_rows;
};

// The last name of a qualified name list (funcname, ColumnRef fields), lower case as the parser keeps it.
const char* LastName(List* names) {
  if (names == NIL) return "";
  Node* n = static_cast<Node*>(llast(names));
  return IsA(n, String) ? strVal(n) : "";
}

bool IsTimeType(Oid t) { return t == TIMESTAMPTZOID || t == TIMESTAMPOID || t == DATEOID; }

// Whether a function name is an aggregate in the catalog (any signature, any schema): an unknown
// aggregate in a statement is one a rollup cannot store.
bool IsAggregateName(const char* name) {
  bool agg = false;
  CatCList* list = SearchSysCacheList1(PROCNAMEARGSNSP, CStringGetDatum(name));
  for (int i = 0; i < list->n_members && !agg; i++) {
    const Form_pg_proc p = (Form_pg_proc)GETSTRUCT(&list->members[i]->tuple);
    agg = p->prokind == PROKIND_AGGREGATE;
  }
  ReleaseSysCacheList(list);
  return agg;
}

// A column a dimension can be: one whose values have a bound (as create_rollup requires of a key).
bool Bounded(Oid type, int32 typmod) {
  if (get_typlen(type) > 0 || type_maximum_size(type, typmod) > 0) return true;
  return type == INETOID || type == CIDROID || (type == NUMERICOID && typmod >= 0);
}

// The reading of the raw tree; every Postgres call is made inside pg::Call by the caller. Strings are
// collected as palloc'd C strings and lists (no C++ object lives across a possible longjmp).
struct RawReading {
  Oid source;
  char* time_column;  // from a bucket call or a range bound
  char* grain;        // a constant date_trunc unit, or NULL
  List* dims;         // char* column names
  List* measures;     // char* select-list items
  List* approximate;  // char* notes
  char* refusal;
};

void Refuse(RawReading* r, const char* why) {
  if (r->refusal == nullptr) r->refusal = pstrdup(why);
}

// The column a ColumnRef names in the source (NULL for *, another table's or an unknown column).
char* ColumnOf(RawReading* r, Node* n, Oid* type, int32* typmod) {
  if (!IsA(n, ColumnRef)) return nullptr;
  Node* last = static_cast<Node*>(llast(castNode(ColumnRef, n)->fields));
  if (!IsA(last, String)) return nullptr;
  const char* name = strVal(last);
  const AttrNumber a = get_attnum(r->source, name);
  if (a <= 0) return nullptr;  // unknown, or a system column
  Oid coll = InvalidOid;
  get_atttypetypmodcoll(r->source, a, type, typmod, &coll);
  return pstrdup(name);
}

void AddUnique(List** list, char* s) {
  ListCell* lc;
  foreach (lc, *list)
    if (strcmp(static_cast<char*>(lfirst(lc)), s) == 0) return;
  *list = lappend(*list, s);
}

void AddDimension(RawReading* r, Node* n) {
  Oid type = InvalidOid;
  int32 typmod = -1;
  char* col = ColumnOf(r, n, &type, &typmod);
  if (col == nullptr) return;
  if (r->time_column && strcmp(col, r->time_column) == 0) return;
  if (!Bounded(type, typmod))
    Refuse(r, psprintf("column %s is %s, whose values have no length bound: create_rollup refuses it as a dimension "
                       "(add a bounded generated column, e.g. varchar(200) GENERATED ALWAYS AS (left(%s, 200)) STORED, "
                       "and query that)",
                       quote_identifier(col), format_type_with_typemod(type, typmod), quote_identifier(col)));
  AddUnique(&r->dims, col);
}

// A bucket call date_trunc(unit, col[, zone]) / date_bin(stride, col, origin) over a time column.
bool ReadBucket(RawReading* r, FuncCall* f) {
  const char* fn = LastName(f->funcname);
  if ((strcmp(fn, "date_trunc") != 0 && strcmp(fn, "date_bin") != 0) || list_length(f->args) < 2) return false;
  Oid type = InvalidOid;
  int32 typmod = -1;
  char* col = ColumnOf(r, static_cast<Node*>(lsecond(f->args)), &type, &typmod);
  if (col == nullptr || !IsTimeType(type)) return false;
  if (r->time_column && strcmp(r->time_column, col) != 0) {
    Refuse(r, "buckets over two time columns");
    return true;
  }
  r->time_column = col;
  Node* unit = static_cast<Node*>(linitial(f->args));
  if (strcmp(fn, "date_trunc") == 0 && IsA(unit, A_Const) && !castNode(A_Const, unit)->isnull &&
      IsA(&castNode(A_Const, unit)->val, String)) {
    // The finest unit asked for; a rollup of it answers the coarser ones (decades and longer: years).
    char* u = downcase_truncate_identifier(strVal(&castNode(A_Const, unit)->val),
                                           strlen(strVal(&castNode(A_Const, unit)->val)), false);
    const size_t len = strlen(u);
    if (len > 1 && u[len - 1] == 's') u[len - 1] = '\0';
    static const char* const ladder[] = {"minute", "hour", "day", "week", "month", "quarter", "year"};
    int rank = -1, have = -1;
    for (int i = 0; i < 7; i++) {
      if (strcmp(u, ladder[i]) == 0) rank = i;
      if (r->grain && strcmp(r->grain, ladder[i]) == 0) have = i;
    }
    if (strcmp(u, "decade") == 0 || strcmp(u, "century") == 0 || strcmp(u, "centurie") == 0 || strcmp(u, "millennium") == 0 ||
        strcmp(u, "millennia") == 0)
      rank = 6;
    if (rank < 0) Refuse(r, psprintf("a date_trunc unit (%s) finer than a minute or unknown", u));
    else if (have < 0 || rank < have) r->grain = pstrdup(ladder[rank]);
  }
  return true;
}

// One aggregate call: the measure a rollup stores for it.
void ReadAggregate(RawReading* r, FuncCall* f) {
  const char* fn = LastName(f->funcname);
  if (f->over) {
    Refuse(r, "a window function");
    return;
  }
  if (f->agg_filter) {
    Refuse(r, psprintf("%s(...) FILTER (WHERE ...): filtered aggregates are not routed", fn));
    return;
  }
  Oid type = InvalidOid;
  int32 typmod = -1;
  if (f->agg_star) {
    if (strcmp(fn, "count") == 0) AddUnique(&r->measures, pstrdup("count(*) AS n"));
    return;
  }
  if (f->agg_within_group) {
    if ((strcmp(fn, "percentile_cont") == 0 || strcmp(fn, "percentile_disc") == 0) && list_length(f->agg_order) == 1) {
      char* col = ColumnOf(r, castNode(SortBy, linitial(f->agg_order))->node, &type, &typmod);
      if (col == nullptr) return Refuse(r, psprintf("%s over an expression", fn));
      AddUnique(&r->measures, psprintf("strata.qsketch_agg(%s) AS %s", quote_identifier(col), quote_identifier(psprintf("q_%s", col))));
      AddUnique(&r->approximate, psprintf("%s of %s: from the rollup's qsketch only with strata.routing_approximate = on "
                                          "(relative accuracy 0.5%%)", fn, col));
      return;
    }
    return Refuse(r, psprintf("the ordered-set aggregate %s", fn));
  }
  if (list_length(f->args) < 1) return Refuse(r, psprintf("the aggregate %s()", fn));
  char* col = ColumnOf(r, static_cast<Node*>(linitial(f->args)), &type, &typmod);
  const bool known = strcmp(fn, "count") == 0 || strcmp(fn, "sum") == 0 || strcmp(fn, "min") == 0 ||
                     strcmp(fn, "max") == 0 || strcmp(fn, "avg") == 0 || strcmp(fn, "hll_agg") == 0 ||
                     strcmp(fn, "qsketch_agg") == 0 || strcmp(fn, "topk_agg") == 0;
  if (!known) return Refuse(r, psprintf("the aggregate %s is not one a rollup stores (count, sum, min, max, avg and "
                                        "strata's sketches are)", fn));
  if (col == nullptr) return Refuse(r, psprintf("%s over an expression (a rollup's measures read columns here)", fn));
  if (f->agg_order) return Refuse(r, psprintf("%s(... ORDER BY ...)", fn));
  const char* q = quote_identifier(col);
  if (f->agg_distinct) {
    if (strcmp(fn, "count") != 0) return Refuse(r, psprintf("%s(DISTINCT ...)", fn));
    AddUnique(&r->measures, psprintf("strata.hll_agg(%s) AS %s", q, quote_identifier(psprintf("distinct_%s", col))));
    AddUnique(&r->approximate, psprintf("count(DISTINCT %s): from the rollup's hll only with strata.routing_approximate = on "
                                        "(relative standard error 0.81%%)", col));
    return;
  }
  if (strcmp(fn, "hll_agg") == 0 || strcmp(fn, "qsketch_agg") == 0) {
    if (list_length(f->args) != 1) return Refuse(r, psprintf("strata.%s with parameters", fn));
    AddUnique(&r->measures, psprintf("strata.%s(%s) AS %s", fn, q, quote_identifier(psprintf("%s_%s", strcmp(fn, "hll_agg") == 0 ? "distinct" : "q", col))));
    return;
  }
  if (strcmp(fn, "topk_agg") == 0) {
    AddUnique(&r->measures, psprintf("strata.topk_agg(%s) AS %s", q, quote_identifier(psprintf("top_%s", col))));
    AddUnique(&r->approximate, psprintf("strata.topk_agg(%s): merged summaries only with strata.routing_approximate = on", col));
    return;
  }
  AddUnique(&r->measures, psprintf("%s(%s) AS %s", fn, q, quote_identifier(psprintf("%s_%s", fn, col))));
}

bool IsAggregateCall(FuncCall* f) {
  return f->agg_star || f->agg_distinct || f->agg_within_group || f->over || f->agg_filter || IsAggregateName(LastName(f->funcname));
}

// The aggregates of an expression (select list, HAVING), each read as a measure; not inside them.
bool FindAggregates(Node* n, void* arg) {
  if (n == nullptr) return false;
  RawReading* r = static_cast<RawReading*>(arg);
  if (IsA(n, FuncCall) && IsAggregateCall(castNode(FuncCall, n))) {
    ReadAggregate(r, castNode(FuncCall, n));
    return false;
  }
  if (IsA(n, SubLink)) {
    Refuse(r, "a subquery");
    return false;
  }
  return raw_expression_tree_walker(n, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(FindAggregates)), arg);
}

// Whether an expression calls an aggregate anywhere.
bool HasAggregate(Node* n, void* arg) {
  if (n == nullptr) return false;
  if (IsA(n, FuncCall) && IsAggregateCall(castNode(FuncCall, n))) return true;
  if (IsA(n, SubLink)) return false;
  return raw_expression_tree_walker(n, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(HasAggregate)), arg);
}

// Columns a grouping expression or a WHERE condition reads, as dimensions (the time column apart).
bool CollectColumns(Node* n, void* arg) {
  if (n == nullptr) return false;
  RawReading* r = static_cast<RawReading*>(arg);
  if (IsA(n, ColumnRef)) {
    AddDimension(r, n);
    return false;
  }
  if (IsA(n, SubLink)) {
    Refuse(r, "a subquery");
    return false;
  }
  return raw_expression_tree_walker(n, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(CollectColumns)), arg);
}

// WHERE: range bounds on a time column (op a column-free expression) set the time column; every other
// column read is a dimension the rollup must have.
void ReadCondition(RawReading* r, Node* n) {
  if (n == nullptr) return;
  if (IsA(n, BoolExpr) && castNode(BoolExpr, n)->boolop == AND_EXPR) {
    ListCell* lc;
    foreach (lc, castNode(BoolExpr, n)->args) ReadCondition(r, static_cast<Node*>(lfirst(lc)));
    return;
  }
  if (IsA(n, A_Expr)) {
    A_Expr* e = castNode(A_Expr, n);
    const char* op = e->name ? LastName(e->name) : "";
    const bool range = (e->kind == AEXPR_OP && (strcmp(op, "<") == 0 || strcmp(op, "<=") == 0 || strcmp(op, ">") == 0 ||
                                                strcmp(op, ">=") == 0)) ||
                       e->kind == AEXPR_BETWEEN;
    if (range) {
      Node* side = e->lexpr;
      if (e->kind == AEXPR_OP && (side == nullptr || !IsA(side, ColumnRef))) side = e->rexpr;
      Oid type = InvalidOid;
      int32 typmod = -1;
      char* col = side ? ColumnOf(r, side, &type, &typmod) : nullptr;
      if (col && IsTimeType(type) && (r->time_column == nullptr || strcmp(r->time_column, col) == 0)) {
        r->time_column = col;
        return;
      }
    }
  }
  CollectColumns(n, r);
}

// Reads the statement's raw tree. Called inside pg::Call.
void ReadRaw(RawReading* r, const char* text) {
  List* raw = raw_parser(text, RAW_PARSE_DEFAULT);
  if (list_length(raw) != 1 || !IsA(linitial_node(RawStmt, raw)->stmt, SelectStmt)) return;
  SelectStmt* s = castNode(SelectStmt, linitial_node(RawStmt, raw)->stmt);
  if (s->op != SETOP_NONE || s->valuesLists || s->intoClause) return;  // SELECT INTO creates a table
  // An aggregate statement at all? (the advisor lists only those)
  bool aggregate = s->groupClause != NIL || s->havingClause != nullptr;
  ListCell* lc;
  foreach (lc, s->targetList) aggregate = aggregate || HasAggregate(castNode(ResTarget, lfirst(lc))->val, nullptr);
  if (!aggregate) return;
  if (list_length(s->fromClause) != 1 || !IsA(linitial(s->fromClause), RangeVar)) {
    Refuse(r, "not one table in FROM (the advisor reads single-table statements)");
    r->source = InvalidOid;
    return;
  }
  RangeVar* rv = linitial_node(RangeVar, s->fromClause);
  r->source = RangeVarGetRelid(rv, NoLock, true);
  const char kind = OidIsValid(r->source) ? get_rel_relkind(r->source) : '\0';
  if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE) {
    r->source = InvalidOid;
    Refuse(r, "its FROM is not a table");
    return;
  }
  if (pg_class_aclcheck(r->source, GetUserId(), ACL_SELECT) != ACLCHECK_OK) {
    r->source = InvalidOid;
    Refuse(r, "no SELECT privilege on its table");
    return;
  }
  if (s->withClause || s->windowClause || s->lockingClause || (s->distinctClause && linitial(s->distinctClause) != nullptr))
    Refuse(r, "WITH, WINDOW, FOR UPDATE or DISTINCT ON");
  // Grouping: bucket calls over a time column, columns, expressions of columns; GROUP BY n names an item.
  foreach (lc, s->groupClause) {
    Node* g = static_cast<Node*>(lfirst(lc));
    if (IsA(g, A_Const) && !castNode(A_Const, g)->isnull && IsA(&castNode(A_Const, g)->val, Integer)) {
      const int k = intVal(&castNode(A_Const, g)->val);
      if (k >= 1 && k <= list_length(s->targetList)) g = castNode(ResTarget, list_nth(s->targetList, k - 1))->val;
    }
    if (IsA(g, GroupingSet)) {
      Refuse(r, "grouping sets");
      continue;
    }
    if (IsA(g, FuncCall) && ReadBucket(r, castNode(FuncCall, g))) continue;
    CollectColumns(g, r);
  }
  // Measures from the select list and HAVING; buckets in the select list too (GROUP BY an alias).
  foreach (lc, s->targetList) {
    Node* v = castNode(ResTarget, lfirst(lc))->val;
    if (IsA(v, FuncCall) && ReadBucket(r, castNode(FuncCall, v))) continue;
    FindAggregates(v, r);
  }
  FindAggregates(s->havingClause, r);
  ReadCondition(r, s->whereClause);
  // A bucket needs a time column: the one the statement uses, else the table's only one.
  if (r->time_column == nullptr) {
    Relation rel = relation_open(r->source, AccessShareLock);
    const TupleDesc d = RelationGetDescr(rel);
    int found = 0;
    for (int i = 0; i < d->natts; i++) {
      const Form_pg_attribute a = TupleDescAttr(d, i);
      if (!a->attisdropped && IsTimeType(a->atttypid)) {
        found++;
        r->time_column = pstrdup(NameStr(a->attname));
      }
    }
    relation_close(rel, AccessShareLock);
    if (found != 1) {
      r->time_column = nullptr;
      Refuse(r, "no time column to bucket by (the statement uses none and the table has not exactly one)");
    }
  }
  // Dimensions found before the time column was known may include it.
  List* dims = NIL;
  foreach (lc, r->dims)
    if (r->time_column == nullptr || strcmp(static_cast<char*>(lfirst(lc)), r->time_column) != 0) dims = lappend(dims, lfirst(lc));
  r->dims = dims;
  if (r->measures == NIL) Refuse(r, "no aggregate a rollup stores");
}

std::vector<std::string> Strings(List* l) {
  std::vector<std::string> out;
  ListCell* lc;
  foreach (lc, l) out.emplace_back(static_cast<char*>(lfirst(lc)));
  return out;
}

// The planner's estimate of one statement (routing off: the plan as written), in a subtransaction (a
// normalized text whose parameters' types cannot be inferred fails to analyze): the rows its scans read,
// or (`output`) the rows it returns, for a statement built here (the groups a proposed rollup would store).
std::optional<double> Estimate(const std::string& text, bool output) {
  std::optional<double> out;
  try {
    strata::pg::InSubTransaction([&] {
      double rows = -1;
      strata::pg::Call([&] {
        List* raw = raw_parser(text.c_str(), RAW_PARSE_DEFAULT);
        Oid* types = nullptr;
        int ntypes = 0;
        Query* q = parse_analyze_varparams(linitial_node(RawStmt, raw), text.c_str(), &types, &ntypes, nullptr);
        if (q->commandType != CMD_SELECT || q->utilityStmt != nullptr) return;
        List* rewritten = QueryRewrite(q);
        if (list_length(rewritten) != 1 || linitial_node(Query, rewritten)->commandType != CMD_SELECT) return;
        PlannedStmt* p = standard_planner(linitial_node(Query, rewritten), text.c_str(), output ? 0 : CURSOR_OPT_PARALLEL_OK, nullptr);
        rows = output ? p->planTree->plan_rows : strata::routing::PlanRowsRead(p->planTree);
      });
      if (rows >= 0) out = rows;
    });
  } catch (const strata::pg::PgError&) {
    out.reset();
  }
  return out;
}

// The span of a time column's values in microseconds, from its statistics' histogram (none before the
// first ANALYZE).
std::optional<double> TimeSpanMicros(Oid rel, const std::string& column) {
  double span = -1;
  strata::pg::Call([&] {
    const AttrNumber att = get_attnum(rel, column.c_str());
    if (att <= 0) return;
    // As pg_stats shows statistics: to those who may read the column, not for a table with row security.
    if (pg_attribute_aclcheck(rel, att, GetUserId(), ACL_SELECT) != ACLCHECK_OK &&
        pg_class_aclcheck(rel, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
      return;
    if (check_enable_rls(rel, InvalidOid, true) == RLS_ENABLED) return;
    const bool inh = get_rel_relkind(rel) == RELKIND_PARTITIONED_TABLE;
    HeapTuple tup = SearchSysCache3(STATRELATTINH, ObjectIdGetDatum(rel), Int16GetDatum(att), BoolGetDatum(inh));
    if (!HeapTupleIsValid(tup)) return;
    AttStatsSlot slot;
    if (get_attstatsslot(&slot, tup, STATISTIC_KIND_HISTOGRAM, InvalidOid, ATTSTATSSLOT_VALUES)) {
      if (slot.nvalues >= 2) {
        const Datum lo = slot.values[0], hi = slot.values[slot.nvalues - 1];
        if (slot.valuetype == DATEOID)
          span = (static_cast<double>(DatumGetDateADT(hi)) - DatumGetDateADT(lo)) * USECS_PER_DAY;
        else
          span = static_cast<double>(DatumGetInt64(hi)) - static_cast<double>(DatumGetInt64(lo));
      }
      free_attstatsslot(&slot);
    }
    ReleaseSysCache(tup);
  });
  if (span < 0) return std::nullopt;
  return span;
}

double GrainMicros(const std::string& grain) {
  if (grain == "minute") return 60e6;
  if (grain == "hour") return 3600e6;
  if (grain == "day") return 86400e6;
  if (grain == "week") return 7 * 86400e6;
  if (grain == "month") return 30.44 * 86400e6;
  if (grain == "quarter") return 91.31 * 86400e6;
  return 365.25 * 86400e6;
}

// Reads one statement; the estimates are made as `as_user` (the role that ran it: the planner may run its
// functions), only when the caller has that role's privileges (InvalidOid: as the caller), and only for
// a statement a rollup could answer.
Shape Read(const std::string& text, Oid as_user) {
  Shape out;
  RawReading r{};
  bool parsed = true;
  try {
    strata::pg::InSubTransaction([&] { strata::pg::Call([&] { ReadRaw(&r, text.c_str()); }); });
  } catch (const strata::pg::PgError&) {
    parsed = false;  // not a statement this server parses (another version's text): not listed
  }
  if (!parsed || (!OidIsValid(r.source) && r.refusal == nullptr)) return out;
  out.aggregate = true;
  out.source = r.source;
  if (r.refusal) out.refusal = r.refusal;
  if (!OidIsValid(r.source) || !out.refusal.empty()) return out;
  if (r.time_column) out.time_column = r.time_column;
  // A unit given as a parameter (pg_stat_statements shows constants as $n): hours, which answer days,
  // weeks, months and years as well.
  out.grain = r.grain ? r.grain : "hour";
  out.dims = Strings(r.dims);
  std::sort(out.dims.begin(), out.dims.end());
  // A measure named as a dimension is renamed (a rollup's columns are one namespace).
  for (std::string m : Strings(r.measures)) {
    for (const auto& d : out.dims) {
      const std::string alias = std::string(" AS ") + QuoteIdent(d);
      if (m.size() > alias.size() && m.compare(m.size() - alias.size(), alias.size(), alias) == 0)
        m = m.substr(0, m.size() - alias.size()) + " AS " + QuoteIdent("m_" + d);
    }
    out.measures.push_back(m);
  }
  std::sort(out.measures.begin(), out.measures.end());
  out.approximate = Strings(r.approximate);
  char* source = nullptr;
  bool may = true;
  Oid save_user = InvalidOid;
  int save_sec = 0;
  strata::pg::Call([&] {
    const char* nsp = get_namespace_name(get_rel_namespace(out.source));
    const char* rel = get_rel_name(out.source);
    if (nsp && rel) source = quote_qualified_identifier(nsp, rel);
    may = !OidIsValid(as_user) || has_privs_of_role(GetUserId(), as_user);
    GetUserIdAndSecContext(&save_user, &save_sec);
  });
  if (source == nullptr) {
    out.refusal = "its table is gone";
    return out;
  }
  if (!may) return out;  // another role's statement: no planning as that role
  if (OidIsValid(as_user))
    strata::pg::Call([&] {
      SetUserIdAndSecContext(as_user, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
    });
  try {
    out.rows_read = Estimate(text, false);
    out.table_rows = Estimate(std::string("SELECT 1 FROM ") + source, true);
    // The groups such a rollup stores: the buckets the time column's values span times the groups of
    // the dimensions (the planner's estimate from their statistics), at most one per row. (The planner's
    // own estimate of a grouping by date_trunc(..., ts) takes the bucket to be as distinct as ts.)
    const auto span = out.time_column.empty() ? std::nullopt : TimeSpanMicros(out.source, out.time_column);
    if (span && out.table_rows) {
      double dim_groups = 1;
      if (!out.dims.empty()) {
        std::string keys;
        for (const auto& d : out.dims) keys += (keys.empty() ? "" : ", ") + QuoteIdent(d);
        dim_groups = Estimate("SELECT " + keys + " FROM " + source + " GROUP BY " + keys, true).value_or(*out.table_rows);
      }
      out.groups = std::min(*out.table_rows, (std::floor(*span / GrainMicros(out.grain)) + 1) * dim_groups);
    }
  } catch (...) {
    strata::pg::Call([&] { SetUserIdAndSecContext(save_user, save_sec); });
    throw;
  }
  strata::pg::Call([&] { SetUserIdAndSecContext(save_user, save_sec); });
  return out;
}

}  // namespace

// strata._query_shape(query text, as_user oid, search_path text) -> SETOF (source, time_column, grain,
// dimensions, measures, approximate, refusal, rows_read, groups, table_rows): one row, or none for a
// statement that is not an aggregate SELECT.
STRATA_FUNCTION(strata_query_shape) {
  const auto text = strata::pg::TextArg(fcinfo, 0);
  Oid as_user = InvalidOid;
  strata::pg::Call([&] {
    InitMaterializedSRF(fcinfo, 0);
    if (!PG_ARGISNULL(1)) as_user = PG_GETARG_OID(1);
  });
  const auto path = strata::pg::TextArg(fcinfo, 2);
  if (!text) return (Datum)0;
  // Names in the text resolve by the search_path given (the statement's own is not recorded).
  const int level = strata::pg::NewGucLevel();
  Shape s;
  try {
    if (path) strata::pg::SetGuc("search_path", *path);
    s = Read(*text, as_user);
  } catch (...) {
    strata::pg::RestoreGucs(level);
    throw;
  }
  strata::pg::RestoreGucs(level);
  if (!s.aggregate) return (Datum)0;
  strata::pg::Call([&] {
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    const auto array = [](const std::vector<std::string>& items) {
      Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (items.empty() ? 1 : items.size())));
      for (size_t i = 0; i < items.size(); i++) elems[i] = CStringGetTextDatum(items[i].c_str());
      return PointerGetDatum(construct_array(elems, static_cast<int>(items.size()), TEXTOID, -1, false, TYPALIGN_INT));
    };
    Datum values[10];
    bool nulls[10] = {false, false, false, false, false, false, false, false, false, false};
    values[0] = ObjectIdGetDatum(s.source);
    nulls[0] = !OidIsValid(s.source);
    values[1] = CStringGetTextDatum(s.time_column.c_str());
    nulls[1] = s.time_column.empty();
    values[2] = CStringGetTextDatum(s.grain.c_str());
    nulls[2] = s.grain.empty();
    values[3] = array(s.dims);
    values[4] = array(s.measures);
    values[5] = array(s.approximate);
    values[6] = CStringGetTextDatum(s.refusal.c_str());
    nulls[6] = s.refusal.empty();
    values[7] = Float8GetDatum(s.rows_read.value_or(0));
    nulls[7] = !s.rows_read;
    values[8] = Float8GetDatum(s.groups.value_or(0));
    nulls[8] = !s.groups;
    values[9] = Float8GetDatum(s.table_rows.value_or(0));
    nulls[9] = !s.table_rows;
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  });
  return (Datum)0;
}
