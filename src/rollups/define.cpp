// Defining rollups: strata.create_rollup, drop_rollup, alter_rollup. The query is parsed and analyzed
// by Postgres itself; the analyzed tree is checked against the supported shape (one time bucket,
// plain-column dimensions, supported aggregates, one source table, an immutable WHERE) and each part
// is deparsed with search_path pinned to pg_catalog, so the stored SQL names everything qualified.
#include <algorithm>
#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "config.hpp"
#include "core/error.hpp"
#include "core/naming.hpp"
#include "core/rollup_sql.hpp"
#include "partitions/maintenance.hpp"
#include "rollups/rollup.hpp"
#include "pg/security.hpp"
#include "pg/guc.hpp"
#include "pg/names.hpp"
#include "pg/spi.hpp"
#include "jobs/job_runs.hpp"

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

struct Parsed {
  Oid source = InvalidOid;
  char relkind = 0;
  rs::Spec spec;
  std::vector<std::string> used_columns;  // source columns the query reads
};

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

// Parses and analyzes the query with the caller's search_path, then pins the session (see
// PinSessionForRollupSql) before reading it into a spec, so every deparsed name comes out qualified
// and every constant in an unambiguous style. Call inside a GUC nest level the caller restores.
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

Parsed Analyze(const std::string& query) {
  Parsed p;
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
  RangeTblEntry* rte = rt_fetch(linitial_node(RangeTblRef, from->fromlist)->rtindex, q->rtable);
  if (rte->rtekind != RTE_RELATION) throw Unsupported("a subquery or function in FROM", "A rollup reads one table.");
  p.source = rte->relid;
  p.relkind = rte->relkind;

  // Names used to read, and bitmap of source columns referenced anywhere.
  const char* relname = nullptr;
  List* ctx = nullptr;
  pg::Call([&] {
    relname = get_rel_name(p.source);
    ctx = deparse_context_for(relname, p.source);
  });
  Bitmapset* used = nullptr;
  pg::Call([&] {
    pull_varattnos(reinterpret_cast<Node*>(q->targetList), 1, &used);
    pull_varattnos(from->quals, 1, &used);
  });
  for (int x = -1;;) {
    pg::Call([&] { x = bms_next_member(used, x); });
    if (x < 0) break;
    const AttrNumber att = x + FirstLowInvalidHeapAttributeNumber;
    if (att <= 0) throw Unsupported("a system column");
    const char* n = nullptr;
    pg::Call([&] { n = get_attname(p.source, att, false); });
    p.used_columns.push_back(n);
  }

  const char* zone = nullptr;
  pg::Call([&] { zone = pg_get_timezone_name(session_timezone); });
  const Oid strata_nsp = StrataNamespace();
  std::set<std::string> names;
  int buckets = 0;
  int64_t key_bytes = 8;  // the bucket
  ListCell* lc;
  foreach (lc, q->targetList) {
    TargetEntry* tle = lfirst_node(TargetEntry, lc);
    if (tle->resjunk)
      throw Unsupported("a GROUP BY expression that is not in the select list", "List every GROUP BY expression in the select list.");
    const std::string name = tle->resname ? tle->resname : "?column?";
    if (!names.insert(name).second)
      throw Error(ERRCODE_DUPLICATE_COLUMN, "rollup query: column name \"" + name + "\" appears twice", {},
                  "Name every output column with AS.");
    if (name.rfind("__strata", 0) == 0 || name.size() > 55)
      throw Error(ERRCODE_INVALID_NAME, "rollup query: column name \"" + name + "\" is reserved or too long", {},
                  "Use a name of at most 55 bytes that does not start with __strata.");
    Node* e = reinterpret_cast<Node*>(tle->expr);
    if (IsA(e, Aggref)) {
      rs::Measure m;
      ReadMeasure(reinterpret_cast<Aggref*>(e), name, ctx, strata_nsp, &m);
      p.spec.measures.push_back(m);
    } else if (tle->ressortgroupref != 0) {
      if (ReadBucket(e, p.source, ctx, zone ? zone : "UTC", &p.spec)) {
        if (++buckets > 1)
          throw Unsupported("more than one time bucket", "Group by one time bucket; other columns are dimensions.");
        p.spec.bucket_name = name;
        if (!p.spec.dims.empty() || !p.spec.measures.empty())
          throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "rollup query: the time bucket must be the first output column", {},
                      kShapeHint);
      } else if (IsA(e, Var)) {
        p.spec.dims.push_back({name, Deparse(e, ctx)});
        key_bytes += DimensionWidth(reinterpret_cast<Var*>(e), name, p.source);
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
  if (key_bytes > kMaxKeyBytes)
    throw Unsupported("dimensions of up to " + std::to_string(key_bytes) + " bytes together",
                      "A group's key (bucket and dimensions) must fit the data table's key index (" +
                          std::to_string(kMaxKeyBytes) + " bytes here); group by fewer or narrower columns.");
  if (buckets == 0)
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

// The interval argument n as text, refused when negative.
std::string IntervalArg(FunctionCallInfo fcinfo, int n, const char* what) {
  Interval* iv = PG_GETARG_INTERVAL_P(n);
  if (iv->month < 0 || iv->day < 0 || iv->time < 0)
    throw Error(ERRCODE_INVALID_PARAMETER_VALUE, std::string(what) + " must not be negative");
  const char* t = nullptr;
  pg::Call([&] { t = DatumGetCString(DirectFunctionCall1(interval_out, PointerGetDatum(iv))); });
  return t;
}

struct OrderInfo {
  std::string column, sequence;
};

// The sequence-filled column whose values tell new rows from processed ones.
OrderInfo FindOrderColumn(Oid source, const std::string& shown, const std::optional<std::string>& given) {
  const auto rows = pg::Query(
      "SELECT a.attname, a.attnotnull, a.atttypid::regtype::text, s.seq, q.seqcache, "
      "  EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = a.attrelid AND i.indkey[0] = a.attnum), "
      "  q.seqincrement > 0, q.seqcycle "
      "FROM pg_catalog.pg_attribute a "
      "CROSS JOIN LATERAL (SELECT pg_catalog.pg_get_serial_sequence(a.attrelid::regclass::text, a.attname) AS seq) s "
      "LEFT JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.seq::regclass "
      "WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped "
      "  AND CASE WHEN $2::name IS NULL THEN s.seq IS NOT NULL ELSE a.attname = $2::name END",
      {std::to_string(source), given});
  const std::string hint =
      "Add a column filled by a sequence, e.g. ALTER TABLE " + shown +
      " ADD COLUMN ingest_id bigint GENERATED ALWAYS AS IDENTITY, or pass order_column => <such a column>.";
  if (rows.empty()) {
    if (given) throw Error(ERRCODE_UNDEFINED_COLUMN, "column \"" + *given + "\" of " + shown + " does not exist");
    throw Error(ERRCODE_INVALID_TABLE_DEFINITION, "table " + shown + " has no column filled by a sequence", {}, hint);
  }
  if (rows.size() > 1) {
    std::string list;
    for (const auto& r : rows) list += (list.empty() ? "" : ", ") + *r[0];
    throw Error(ERRCODE_INVALID_PARAMETER_VALUE, "table " + shown + " has several sequence-filled columns (" + list + ")",
                {}, "Choose one with order_column => ...");
  }
  const auto& r = rows[0];
  const std::string col = *r[0];
  if (!r[3])
    throw Error(ERRCODE_INVALID_TABLE_DEFINITION, "column \"" + col + "\" of " + shown + " is not filled by a sequence", {},
                "Use an identity or serial column, or ALTER SEQUENCE ... OWNED BY " + shown + "." + col + ".");
  if (*r[2] != "bigint" && *r[2] != "integer" && *r[2] != "smallint")
    throw Error(ERRCODE_DATATYPE_MISMATCH, "column \"" + col + "\" must be an integer column, not " + *r[2]);
  if (*r[1] != "t")
    throw Error(ERRCODE_INVALID_TABLE_DEFINITION, "column \"" + col + "\" of " + shown + " must be NOT NULL", {},
                "A row without a value would never be picked up; ALTER TABLE " + shown + " ALTER COLUMN " +
                    core::QuoteIdent(col) + " SET NOT NULL.");
  if (r[4] && std::stoll(*r[4]) > 1)
    throw Error(ERRCODE_FEATURE_NOT_SUPPORTED, "sequence " + *r[3] + " has CACHE " + *r[4],
                "Each backend hands out its cached values later, out of commit order, so a refresh could pass "
                "rows that commit after it.",
                "ALTER SEQUENCE " + *r[3] + " CACHE 1.");
  // Order values must only grow: a rollup takes every value above its watermark as new.
  if (r[6] && *r[6] != "t")
    throw Error(ERRCODE_FEATURE_NOT_SUPPORTED, "sequence " + *r[3] + " counts down",
                "A rollup tells new rows by order values above the last one it absorbed.",
                "Use a sequence with a positive INCREMENT.");
  if (r[7] && *r[7] == "t")
    throw Error(ERRCODE_FEATURE_NOT_SUPPORTED, "sequence " + *r[3] + " cycles",
                "After wrapping around, new rows would get order values the rollup already absorbed.",
                "ALTER SEQUENCE " + *r[3] + " NO CYCLE.");
  if (*r[5] != "t")
    pg::Call([&] {
      ereport(NOTICE, (errmsg("no index starts with column \"%s\" of %s: every refresh will scan the whole table",
                              col.c_str(), shown.c_str()),
                       errhint("CREATE INDEX ON %s (%s).", shown.c_str(), core::QuoteIdent(col).c_str())));
    });
  return {col, *r[3]};
}

std::string QualifiedRel(Oid rel) { return core::QualifiedName(pg::RelSchema(rel), pg::RelName(rel)); }

// Resolves name (possibly schema-qualified) to the schema and relation name of a new view.
void ResolveNewName(const std::string& name, std::string* schema, std::string* rel) {
  const char* nsp = nullptr;
  const char* relname = nullptr;
  bool exists = false;
  bool temp = false;
  RangeVar* rv = pg::ParseRelationName(name);
  pg::Call([&] {
    Oid nspid = RangeVarGetCreationNamespace(rv);
    temp = isAnyTempNamespace(nspid);
    nsp = get_namespace_name(nspid);
    relname = rv->relname;
    exists = OidIsValid(get_relname_relid(rv->relname, nspid));
  });
  // The worker refreshes rollups from its own session, which cannot see another session's temporary
  // schema; a rollup there would be broken for everyone but its creator, and gone at their logout.
  if (temp)
    throw Error(ERRCODE_FEATURE_NOT_SUPPORTED, "a rollup cannot be created in a temporary schema", {},
                "Create it in a permanent schema.");
  if (exists)
    throw Error(ERRCODE_DUPLICATE_TABLE, std::string("relation \"") + relname + "\" already exists", {},
                "A rollup's name becomes its view; choose another name.");
  *schema = nsp;
  *rel = relname;
}

void InsertCatalog(const rs::Spec& s, const Parsed& p, const std::string& view, const std::string& query,
                   const std::optional<int>& source_rollup, int level, bool realtime, const std::string& interval,
                   int64_t batch, const OrderInfo& order, const std::string& change_fn) {
  std::vector<std::optional<std::string>> args{
      std::to_string(s.id), view, s.data_table, s.pending_table, std::to_string(p.source),
      source_rollup ? std::optional<std::string>(std::to_string(*source_rollup)) : std::nullopt,
      std::to_string(level), query,
      order.column.empty() ? std::nullopt : std::optional<std::string>(order.column),
      order.sequence.empty() ? std::nullopt : std::optional<std::string>(order.sequence),
      s.bucket_name, s.bucket_expr, s.bucket_type, s.bucket_width, s.time_column, s.time_zone, s.where,
      realtime ? "true" : "false", interval, std::to_string(batch),
      change_fn.empty() ? std::nullopt : std::optional<std::string>(change_fn)};
  pg::AsExtensionOwner([&] {
    pg::Query("INSERT INTO strata.rollup (id, view, data_table, pending_table, source, source_rollup, level, query, "
              "order_column, order_sequence, bucket_name, bucket_expr, bucket_type, bucket_width, time_column, time_zone, "
              "where_clause, realtime, refresh_interval, batch_size, change_function) VALUES ($1::int, $2::regclass, "
              "$3::regclass, $4::regclass, $5::oid, $6::int, $7::int, $8, $9::name, $10::regclass, $11, $12, $13, $14, "
              "$15, $16, $17, $18::boolean, $19::interval, $20::bigint, $21)",
              args);
    int ord = 0;
    for (const auto& d : s.dims)
      pg::Query("INSERT INTO strata.rollup_column (rollup_id, ord, role, name, expr) VALUES ($1::int, $2::int, "
                "'dimension', $3, $4)",
                {std::to_string(s.id), std::to_string(++ord), d.name, d.expr});
    for (const auto& m : s.measures)
      pg::Query("INSERT INTO strata.rollup_column (rollup_id, ord, role, name, kind, expr, state_type, result_type) "
                "VALUES ($1::int, $2::int, 'measure', $3, $4, $5, $6, $7)",
                {std::to_string(s.id), std::to_string(++ord), m.name, rs::KindName(m.kind), m.args, m.state_type,
                 m.result_type});
  });
}

}  // namespace

void ProtectLegacy(Rollup& r) {
  if (!r.missing.empty()) return;
  // Not inside the extension's update script: objects made there would become members of the extension,
  // and a function not of the extension cannot be replaced there.
  const auto state = pg::Query(
      "SELECT a.attnotnull, p.relowner = (SELECT extowner FROM pg_catalog.pg_extension WHERE extname = 'strata'), "
      "  c.relowner, n.nspname, v.relname, "
      "  (SELECT s.relowner FROM strata.rollup y JOIN pg_catalog.pg_class s ON s.oid = y.data_table WHERE y.id = $4::int) "
      "FROM pg_catalog.pg_class p JOIN pg_catalog.pg_attribute a ON a.attrelid = p.oid AND a.attname = 'b' "
      "JOIN pg_catalog.pg_class c ON c.oid = $2::pg_catalog.oid "
      "JOIN pg_catalog.pg_class v ON v.oid = $3::pg_catalog.oid JOIN pg_catalog.pg_namespace n ON n.oid = v.relnamespace "
      "WHERE p.oid = $1::pg_catalog.oid",
      {std::to_string(r.pending_oid), std::to_string(r.data_oid), std::to_string(r.view_oid),
       r.source_rollup ? std::optional<std::string>(std::to_string(*r.source_rollup)) : std::nullopt});
  if (state.empty()) return;
  const auto& st = state[0];
  const Oid owner = static_cast<Oid>(std::stoul(*st[2]));
  bool changed = false;
  if (*st[0] == "t") {  // the NULL bucket is queued too
    pg::AsExtensionOwner([&] { pg::Exec("ALTER TABLE " + r.spec.pending_table + " ALTER COLUMN b DROP NOT NULL"); });
    changed = true;
  }
  if (r.spec.source_is_rollup) {
    if (*st[1] != "t" && st[5]) {
      const Oid source_owner = static_cast<Oid>(std::stoul(*st[5]));
      pg::AsRole(owner, [&] { ShareDependentPending(r.spec.pending_table, source_owner); });
      changed = true;
    }
  } else if (!OidIsValid(r.definition) && !r.change_function.empty()) {
    const std::string definition = core::QualifiedName(*st[3], core::PartitionName(*st[4], "definition"));
    pg::AsRole(owner, [&] {
      pg::Exec(rs::InvalidationFunctionSql(r.spec, r.change_function, std::to_string(r.source_oid), true));
      pg::Exec(rs::DefinitionViewSql(r.spec, definition));
    });
    ProtectSourceObjects(r.change_function, definition);
    pg::AsExtensionOwner([&] {
      pg::Query("UPDATE strata.rollup SET definition = $2::regclass WHERE id = $1::int", {std::to_string(r.id), definition});
    });
    r.definition = static_cast<Oid>(std::stoul(*pg::Query("SELECT $1::pg_catalog.regclass::pg_catalog.oid", {definition}).at(0).at(0)));
    FollowSource(r, true);
    changed = true;
  }
  if (changed) {
    const std::string msg = "rollup " + r.view + " brought up to strata 0.9.0 (definition view, change function, pending table)";
    pg::Call([&] { ereport(LOG, (errmsg("strata: %s", msg.c_str()))); });
  }
}

void ShareDependentPending(const std::string& pending, Oid source_owner) {
  // The source rollup's refresh (as its owner) queues buckets here. So that it never writes into a
  // table whose owner could attach code to it (a trigger, a rule, row security running as the writer),
  // the table belongs to the extension's owner; the rollup's creator takes buckets from it, the source's
  // owner adds them.
  const std::string me = pg::RoleName(GetUserId());
  const std::string writer = pg::RoleName(source_owner);
  pg::AsExtensionOwner([&] {
    pg::Exec("ALTER TABLE " + pending + " OWNER TO " + core::QuoteIdent(pg::RoleName(pg::ExtensionOwner())));
    pg::Exec("GRANT SELECT, INSERT, DELETE ON " + pending + " TO " + core::QuoteIdent(me));
    pg::Exec("GRANT INSERT ON " + pending + " TO " + core::QuoteIdent(writer));
  });
}

void ProtectSourceObjects(const std::string& change_fn, const std::string& definition) {
  // Runs with its owner's rights: nobody may call it or attach it elsewhere (a trigger needs EXECUTE
  // to be created; firing does not check it).
  pg::Exec("REVOKE ALL ON FUNCTION " + change_fn + "() FROM PUBLIC");
  // What strata attaches to user tables goes with the extension: DROP EXTENSION strata CASCADE drops
  // the change function (and its triggers on the source) and the definition view.
  const auto oids = pg::Query("SELECT $1::pg_catalog.regprocedure::pg_catalog.oid, $2::pg_catalog.regclass::pg_catalog.oid, "
                              "(SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'strata')",
                              {change_fn + "()", definition});
  const Oid fn = static_cast<Oid>(std::stoul(*oids.at(0).at(0)));
  const Oid view = static_cast<Oid>(std::stoul(*oids[0][1]));
  const Oid ext = static_cast<Oid>(std::stoul(*oids[0][2]));
  pg::Call([&] {
    ObjectAddress extension, object;
    ObjectAddressSet(extension, ExtensionRelationId, ext);
    ObjectAddressSet(object, ProcedureRelationId, fn);
    recordDependencyOn(&object, &extension, DEPENDENCY_NORMAL);
    ObjectAddressSet(object, RelationRelationId, view);
    recordDependencyOn(&object, &extension, DEPENDENCY_NORMAL);
  });
}

void UnregisterRollup(int id, const std::string& view, const std::string& why) {
  // Rollups that read it go first (readers reference it).
  for (const auto& d : pg::Query("SELECT id, view::text FROM strata.rollup WHERE source_rollup = $1::int ORDER BY id",
                                 {std::to_string(id)}))
    UnregisterRollup(std::stoi(*d[0]), *d[1], "the rollup it reads, " + view + ", was unregistered");
  pg::AsExtensionOwner([&] {
    const auto pending = pg::Query("DELETE FROM strata.rollup WHERE id = $1::int RETURNING pending_table::text, data_table::text",
                                   {std::to_string(id)});
    if (pending.empty()) return;
    pg::Exec("DROP TABLE IF EXISTS " + *pending[0][0]);
    pg::Query("INSERT INTO strata.job_runs (job_kind, target, status, message, finished_at) VALUES ('rollup_drop', $1, 'ok', "
              "$2, pg_catalog.clock_timestamp())",
              {view, "unregistered: " + why + "; data table " + *pending[0][1] + " kept"});
    const std::string msg = "rollup " + view + " is unregistered: " + why;
    const std::string detail = "Its data table " + *pending[0][1] + " and its view are kept with the buckets they hold.";
    pg::Call([&] { ereport(NOTICE, (errmsg("%s", msg.c_str()), errdetail("%s", detail.c_str()))); });
  });
}

// Creates the statement triggers and (PostgreSQL 15/16: identity is not inherited by partitions) the
// order column's default on every leaf partition of a raw source that lacks them. Returns the number
// of leaves changed. DDL runs with strata.lock_timeout.
namespace {

// The relation $1 and every relation below it (partitions at every level, inheritance children), with
// its depth: the relations a rollup of $1 reads.
constexpr const char* kTreeOf1 =
    "WITH RECURSIVE tree(relid, level) AS (SELECT $1::pg_catalog.oid, 0 UNION ALL "
    "  SELECT i.inhrelid, t.level + 1 FROM pg_catalog.pg_inherits i JOIN tree t ON i.inhparent = t.relid) ";

// Set while EnsureSourceHooks or the ALTER TABLE event trigger runs: the ALTER TABLE statements they run
// (ENABLE ALWAYS, SET DEFAULT) fire the event trigger again, which must then do nothing (the outer call
// works from the state it read).
int hooks_depth = 0;
// Set while the event trigger runs: a trigger found disabled is the statement's own doing, and no write
// has passed it yet.
bool in_ddl_event = false;

// Counts a nesting level for the life of the call, also when it ends by an exception.
template <class F>
void Nested(int* depth, F&& f) {
  ++*depth;
  try {
    f();
  } catch (...) {
    --*depth;
    throw;
  }
  --*depth;
}

}  // namespace

int EnsureSourceHooks(int id, Oid source, const std::string& change_fn, const std::string& order_column,
                      const std::string& sequence, const Rollup* absorbed) {
  int changed = 0;
  Nested(&hooks_depth, [&] { changed = EnsureSourceHooksNow(id, source, change_fn, order_column, sequence, absorbed); });
  return changed;
}

int EnsureSourceHooksNow(int id, Oid source, const std::string& change_fn, const std::string& order_column,
                         const std::string& sequence, const Rollup* absorbed) {
  const std::string upd = "strata_rollup_" + std::to_string(id) + "_upd";
  const std::string del = "strata_rollup_" + std::to_string(id) + "_del";
  // The order column's sequence is how new rows are found (DROP IDENTITY drops it).
  if (pg::Query("SELECT pg_catalog.to_regclass($1) IS NULL", {sequence}).at(0).at(0) == std::optional<std::string>("t"))
    throw Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                "the sequence of order column \"" + order_column + "\" of the source of rollup " +
                    (absorbed ? absorbed->view : std::to_string(id)) + " is gone",
                "A rollup finds new rows by the values of that sequence.",
                "Drop the rollup (strata.drop_rollup) before dropping the column's identity or sequence.");
  // Every relation whose rows the rollup reads: the source, every level of its partition tree (a
  // statement on an inner partitioned table fires that table's statement triggers only) and inheritance
  // children. Per relation: no trigger of ours yet; a trigger of our name calling another function (left
  // by an earlier install: replaced); ours, disabled or not ENABLE ALWAYS; the order column lacks
  // strata's sequence default; it has an identity or default of its own; a foreign table.
  const auto rels = pg::Query(
      std::string(kTreeOf1) +
          "SELECT c.oid::pg_catalog.regclass::text, "
      "  NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = $2 "
      "    AND g.tgfoid = $4::pg_catalog.regprocedure), "
      "  EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname IN ($2, $5) "
      "    AND g.tgfoid <> $4::pg_catalog.regprocedure), "
      "  t.level > 0 AND a.attidentity = '' AND d.oid IS NULL, "
      "  t.level > 0 AND (a.attidentity <> '' OR (d.oid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x "
      "    WHERE x.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND x.objid = d.oid "
      "    AND x.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND x.refobjid = $6::pg_catalog.regclass))), "
      "  c.relkind = 'f', "
      "  EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname IN ($2, $5) "
      "    AND g.tgfoid = $4::pg_catalog.regprocedure AND g.tgenabled <> 'A'), "
      "  c.relowner, "
      "  EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname IN ($2, $5) "
      "    AND g.tgfoid = $4::pg_catalog.regprocedure AND g.tgenabled IN ('D', 'R')) "
      "FROM tree t JOIN pg_catalog.pg_class c ON c.oid = t.relid "
      "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = $3::name AND NOT a.attisdropped "
      "LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum "
      "ORDER BY t.level, c.oid",
      {std::to_string(source), upd, order_column, change_fn + "()", del, sequence});
  const std::string shown = rels.empty() ? std::to_string(source) : *rels[0][0];
  for (const auto& r : rels) {
    if (*r[5] == "t")
      throw Error(ERRCODE_FEATURE_NOT_SUPPORTED, "foreign table " + *r[0] + " in " + shown + " cannot be tracked by a rollup",
                  "Its rows' updates and deletes cannot be seen (no statement triggers with transition tables on a foreign "
                  "table).",
                  "Detach it, or keep it out of the tables rollups read.");
    if (*r[4] == "t")
      throw Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                  "column \"" + order_column + "\" of " + *r[0] + " is not filled by " + sequence,
                  "Its own identity or default gives rows order values the rollup of " + shown + " cannot place "
                  "(a table made with LIKE ... INCLUDING ALL, then attached).",
                  "ALTER TABLE " + *r[0] + " ALTER COLUMN " + core::QuoteIdent(order_column) +
                      " DROP IDENTITY IF EXISTS, ALTER COLUMN " + core::QuoteIdent(order_column) +
                      " SET DEFAULT nextval('" + sequence + "').");
  }
  int changed = 0;
  // Buckets are queued as the rollup's owner (the pending table is its), from the bucket expression only:
  // never the rollup's filter, which is its owner's code and may run here from another role's DDL.
  Oid rollup_owner = InvalidOid;
  if (absorbed != nullptr)
    rollup_owner = static_cast<Oid>(std::stoul(
        *pg::Query("SELECT relowner FROM pg_catalog.pg_class WHERE oid = $1::pg_catalog.oid", {std::to_string(absorbed->data_oid)})
             .at(0)
             .at(0)));
  auto queue = [&](const std::string& select, bool watermark) {
    pg::AsRole(rollup_owner, [&] {
      pg::Query("INSERT INTO " + absorbed->spec.pending_table + " (b) " + select,
                watermark ? pg::Row{std::to_string(absorbed->watermark)} : pg::Row{});
    });
  };
  auto passed_rows = [&](const std::string& rel) {
    const rs::Spec& s = absorbed->spec;
    return "SELECT DISTINCT " + s.bucket_expr + " FROM ONLY " + rel + " WHERE " + core::QuoteIdent(s.order_column) +
           " <= $1::bigint";
  };
  bool all_queued = false;
  for (const auto& r : rels) {
    const std::string rel = *r[0];
    const Oid owner = static_cast<Oid>(std::stoul(*r[7]));
    if (*r[2] == "t") {
      pg::Exec("DROP TRIGGER IF EXISTS " + core::QuoteIdent(upd) + " ON " + rel);
      pg::Exec("DROP TRIGGER IF EXISTS " + core::QuoteIdent(del) + " ON " + rel);
    }
    const bool create = *r[1] == "t";
    if (create) {
      pg::Exec("CREATE TRIGGER " + core::QuoteIdent(upd) + " AFTER UPDATE ON " + rel +
               " REFERENCING OLD TABLE AS __strata_old NEW TABLE AS __strata_new FOR EACH STATEMENT EXECUTE FUNCTION " +
               change_fn + "()");
      pg::Exec("CREATE TRIGGER " + core::QuoteIdent(del) + " AFTER DELETE ON " + rel +
               " REFERENCING OLD TABLE AS __strata_old FOR EACH STATEMENT EXECUTE FUNCTION " + change_fn + "()");
      changed++;
    }
    // Fired in every session_replication_role (pg_restore --disable-triggers and bulk loaders run as
    // replica). Enabling a trigger is ALTER TABLE: done as the table's owner, for strata's own trigger.
    if (create || *r[6] == "t") {
      pg::AsRole(owner, [&] {
        pg::Exec("ALTER TABLE " + rel + " ENABLE ALWAYS TRIGGER " + core::QuoteIdent(upd) + ", ENABLE ALWAYS TRIGGER " +
                 core::QuoteIdent(del));
      });
    }
    if (absorbed != nullptr && !create && *r[8] == "t" && !in_ddl_event) {
      // Someone disabled our triggers (ALTER TABLE ... DISABLE TRIGGER, or ENABLE REPLICA) and writes
      // may have passed them: what changed meanwhile is unknown, so every bucket the rollup holds (once)
      // and every bucket of this relation's absorbed rows is recomputed. (From the event trigger of that
      // very ALTER TABLE nothing has passed yet. A trigger of 0.8.0, enabled in origin mode only, is just
      // made ALWAYS.)
      if (!all_queued)
        queue("SELECT DISTINCT " + core::QuoteIdent(absorbed->spec.bucket_name) + " FROM " + absorbed->spec.data_table, false);
      all_queued = true;
      queue(passed_rows(rel), true);
      const std::string msg = "change triggers of rollup " + absorbed->view + " were disabled on " + rel +
                              ": enabled again, every bucket queued for a recompute";
      jobs::RecordJob("rollup_tracking", absorbed->view, "ok", msg, "{}", GetCurrentTimestamp());
      pg::Call([&] { ereport(LOG, (errmsg("strata: %s", msg.c_str()))); });
      changed++;
    } else if (create && absorbed != nullptr) {
      // A relation that joins the tree after the rollup was made (ATTACH PARTITION of a filled table)
      // may hold rows with order values the watermark has passed: their buckets are recomputed, which
      // reads every processed order value, so they are absorbed instead of passed by.
      queue(passed_rows(rel), true);
    }
    if (*r[3] == "t") {
      pg::Exec("ALTER TABLE " + rel + " ALTER COLUMN " + core::QuoteIdent(order_column) +
               " SET DEFAULT pg_catalog.nextval(" + core::QuoteLiteral(sequence) + "::pg_catalog.regclass)");
      changed++;
    }
  }
  // A relation that left the tree (DETACH PARTITION, NO INHERIT) stops affecting the rollup: its triggers
  // go (the change function ignores them meanwhile).
  const auto gone = pg::Query(
      std::string(kTreeOf1) +
          "SELECT DISTINCT g.tgrelid::pg_catalog.regclass::text, c.relowner FROM pg_catalog.pg_trigger g "
      "JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid WHERE g.tgname IN ($2, $3) "
      "AND g.tgfoid = $4::pg_catalog.regprocedure AND g.tgrelid NOT IN (SELECT relid FROM tree)",
      {std::to_string(source), upd, del, change_fn + "()"});
  for (const auto& g : gone) {
    pg::AsRole(static_cast<Oid>(std::stoul(*g[1])), [&] {
      pg::Exec("DROP TRIGGER IF EXISTS " + core::QuoteIdent(upd) + " ON " + *g[0]);
      pg::Exec("DROP TRIGGER IF EXISTS " + core::QuoteIdent(del) + " ON " + *g[0]);
    });
    changed++;
  }
  return changed;
}

bool BreaksRollup(int sqlstate) {
  // Class 42 (undefined or mismatched column, function, type) and 0A (a feature the source no longer
  // allows): the stored SQL no longer fits; a retry fails the same way. Insufficient privilege may be
  // granted back, so it is retried.
  const int cls = ERRCODE_TO_CATEGORY(sqlstate);
  return (cls == ERRCODE_TO_CATEGORY(ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION) &&
          sqlstate != ERRCODE_INSUFFICIENT_PRIVILEGE) ||
         cls == ERRCODE_TO_CATEGORY(ERRCODE_FEATURE_NOT_SUPPORTED) || sqlstate == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
}

namespace {

// The i-th target entry's expression of q.
Node* TargetExpr(Query* q, int i) { return reinterpret_cast<Node*>(list_nth_node(TargetEntry, q->targetList, i)->expr); }

Error DefinitionChanged(const std::string& view, const std::string& why) {
  return Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "definition view of rollup " + view + " " + why, {},
               "Drop the rollup with strata.drop_rollup() and create it again.");
}

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

bool Differs(const rs::Spec& a, const rs::Spec& b) {
  bool same = a.time_column == b.time_column && a.order_column == b.order_column && a.where == b.where &&
              a.bucket_expr == b.bucket_expr;
  for (size_t k = 0; k < a.dims.size(); k++) same = same && a.dims[k].expr == b.dims[k].expr;
  for (size_t k = 0; k < a.measures.size(); k++) same = same && a.measures[k].args == b.measures[k].args;
  return !same;
}

}  // namespace

bool FollowSource(Rollup& r, bool quiet) {
  if (r.spec.source_is_rollup || !OidIsValid(r.definition)) return false;
  CheckRelationsExist(r);
  const rs::Spec now = ReadDefinition(r.view, r.definition, r.spec);
  if (!Differs(now, r.spec)) return false;

  // The catalog first, then the change function (as its owner: it runs with the owner's rights).
  pg::AsExtensionOwner([&] {
    pg::Query("UPDATE strata.rollup SET time_column = $2::name, bucket_expr = $3, where_clause = $4, order_column = $5::name "
              "WHERE id = $1::int",
              {std::to_string(r.id), now.time_column, now.bucket_expr, now.where, now.order_column});
    int ord = 0;
    for (const auto& d : now.dims)
      pg::Query("UPDATE strata.rollup_column SET expr = $3 WHERE rollup_id = $1::int AND ord = $2::int",
                {std::to_string(r.id), std::to_string(++ord), d.expr});
    for (const auto& m : now.measures)
      pg::Query("UPDATE strata.rollup_column SET expr = $3 WHERE rollup_id = $1::int AND ord = $2::int",
                {std::to_string(r.id), std::to_string(++ord), m.args});
  });
  if (!r.change_function.empty()) {
    const auto owner = pg::Query("SELECT proowner FROM pg_catalog.pg_proc WHERE oid = $1::pg_catalog.regprocedure",
                                 {r.change_function + "()"});
    const Oid fn_owner = static_cast<Oid>(std::stoul(*owner.at(0).at(0)));
    pg::AsRole(fn_owner, [&] {
      pg::Exec(rs::InvalidationFunctionSql(now, r.change_function, std::to_string(r.source_oid), true));
    });
  }
  r.spec = now;
  if (!quiet)
    pg::Call([&] { ereport(NOTICE, (errmsg("rollup %s follows the renamed columns of its source", r.view.c_str()))); });
  return true;
}

void PinSessionForRollupSql() {
  pg::SetGuc("search_path", "pg_catalog, pg_temp");
  // Generated SQL quotes literals by doubling quotes only.
  pg::SetGuc("standard_conforming_strings", "on");
  // Deparsed constants are written, and read back by the worker, in these styles whatever the
  // creator's or the worker's own settings are.
  pg::SetGuc("DateStyle", "ISO, YMD");
  pg::SetGuc("IntervalStyle", "postgres");
  pg::SetGuc("lock_timeout", std::to_string(config::lock_timeout_ms) + "ms");
}

}  // namespace strata::rollups

using namespace strata;
using namespace strata::rollups;
namespace rs = strata::core::rollup;

// strata.create_rollup(name, query, realtime, refresh_interval, batch_size, order_column, backfill)
STRATA_FUNCTION(strata_create_rollup) {
  for (int i : {0, 1, 2, 3, 4, 6})
    if (PG_ARGISNULL(i))
      throw core::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "arguments of create_rollup must not be null (except order_column)");
  const std::string name = *pg::TextArg(fcinfo, 0);
  const std::string query = *pg::TextArg(fcinfo, 1);
  const bool realtime = PG_GETARG_BOOL(2);
  const std::string interval = IntervalArg(fcinfo, 3, "refresh_interval");
  const int64_t batch = PG_GETARG_INT64(4);
  std::optional<std::string> order_given;
  if (!PG_ARGISNULL(5)) order_given = NameStr(*PG_GETARG_NAME(5));
  const bool backfill = PG_GETARG_BOOL(6);
  if (batch <= 0)
    throw core::Error(ERRCODE_INVALID_PARAMETER_VALUE, "batch_size must be positive", {},
                      "batch_size is the number of source rows one refresh transaction processes.");

  pg::SpiConnect();
  std::string schema, rel;
  ResolveNewName(name, &schema, &rel);
  const int level = pg::NewGucLevel();
  Parsed p = Analyze(query);
  rs::Spec& s = p.spec;
  const std::string shown = QualifiedRel(p.source);
  AclResult acl = ACLCHECK_OK;
  pg::Call([&] { acl = pg_class_aclcheck(p.source, GetUserId(), ACL_SELECT); });
  if (acl != ACLCHECK_OK)
    throw core::Error(ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied for table " + shown, {},
                      "The creator of a rollup must be able to read its source.");

  // A rollup over another rollup reads that rollup's table; everything else must be a table.
  std::optional<int> source_rollup;
  Oid source_owner = InvalidOid;
  int lvl = 0;
  // Locking the source rollup's catalog row serializes with its refresh (which queues our buckets).
  std::vector<pg::Row> parent;
  pg::AsExtensionOwner([&] {
    parent = pg::Query("SELECT id, data_table::oid, level FROM strata.rollup WHERE view = $1::oid OR "
                       "data_table = $1::oid FOR UPDATE",
                       {std::to_string(p.source)});
  });
  if (!parent.empty()) {
    source_rollup = std::stoi(*parent[0][0]);
    lvl = std::stoi(*parent[0][2]) + 1;
    const Oid data = static_cast<Oid>(std::stoul(*parent[0][1]));
    for (const auto& c : p.used_columns) {
      AttrNumber att = InvalidAttrNumber;
      pg::Call([&] { att = get_attnum(data, c.c_str()); });
      if (att == InvalidAttrNumber)
        throw core::Error(ERRCODE_FEATURE_NOT_SUPPORTED, "column \"" + c + "\" of rollup " + shown + " is an average",
                          "An average cannot be re-aggregated from averages.",
                          "Roll up sum and count measures of the source rollup instead.");
    }
    p.source = data;
    s.source_is_rollup = true;
    pg::Call([&] {
      HeapTuple t = SearchSysCache1(RELOID, ObjectIdGetDatum(data));
      if (HeapTupleIsValid(t)) {
        source_owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(t))->relowner;
        ReleaseSysCache(t);
      }
    });
  } else if (p.relkind != RELKIND_RELATION && p.relkind != RELKIND_PARTITIONED_TABLE) {
    throw core::Error(ERRCODE_WRONG_OBJECT_TYPE, shown + " is not a table or a rollup", {},
                      "A rollup reads a table, a partitioned table or another rollup.");
  }
  s.source = QualifiedRel(p.source);
  OrderInfo order;
  if (!s.source_is_rollup) {
    order = FindOrderColumn(p.source, s.source, order_given);
    s.order_column = order.column;
  }
  pg::AsExtensionOwner([&] { s.id = std::stoi(*pg::Query("SELECT pg_catalog.nextval('strata.rollup_id_seq')")[0][0]); });
  s.data_table = core::QualifiedName(schema, core::PartitionName(rel, "data"));
  s.pending_table = core::QualifiedName(schema, core::PartitionName(rel, "pending"));
  const std::string view = core::QualifiedName(schema, rel);
  std::string change_fn;
  for (const auto& sql : rs::CreateTablesSql(s)) pg::Exec(sql);

  int64_t watermark = 0;
  std::optional<int64_t> cursor, floor;
  std::string definition;
  if (!s.source_is_rollup) {
    // The stored SQL is read back from the definition view at once, so it is written as every later
    // read of the view writes it (a rename is then the only thing that changes it).
    definition = core::QualifiedName(schema, core::PartitionName(rel, "definition"));
    pg::Exec(rs::DefinitionViewSql(s, definition));
    s = ReadDefinition(view, static_cast<Oid>(std::stoul(*pg::Query("SELECT $1::pg_catalog.regclass::pg_catalog.oid",
                                                                     {definition}).at(0).at(0))), s);
    change_fn = core::QualifiedName(schema, core::PartitionName(rel, "changes"));
    pg::Exec(rs::InvalidationFunctionSql(s, change_fn, std::to_string(p.source)));
    ProtectSourceObjects(change_fn, definition);
    // The triggers take SHARE ROW EXCLUSIVE on the source and its partitions: once they are in place
    // no writer is in flight, so every order value handed out so far belongs to a committed or aborted
    // row, and the backfill below sees them all.
    EnsureSourceHooks(s.id, p.source, change_fn, order.column, order.sequence, nullptr);
    watermark = SequenceValue(order.sequence);
    if (backfill) {
      const auto mn = pg::Query("SELECT min(" + core::QuoteIdent(order.column) + ") - 1 FROM " + s.source);
      if (mn.at(0).at(0) && std::stoll(*mn[0][0]) < watermark) {
        floor = std::stoll(*mn[0][0]);
        cursor = watermark;
      }
    }
  } else {
    ShareDependentPending(s.pending_table, source_owner);
  }
  if (s.source_is_rollup && backfill) {
    // Every bucket of the source rollup is queued; refreshes compute them newest first.
    pg::Exec("INSERT INTO " + s.pending_table + " (b) SELECT DISTINCT " + s.bucket_expr + " FROM " + s.source);
  }
  // The view's form depends on whether a backfill is left to do (see ViewSql).
  pg::Exec(ViewSqlFor(s, view, realtime, false, cursor.has_value()));
  InsertCatalog(s, p, view, query, source_rollup, lvl, realtime, interval, batch, order, change_fn);
  pg::AsExtensionOwner([&] {
    pg::Query("UPDATE strata.rollup SET watermark = $2::bigint, backfill_cursor = $3::bigint, backfill_floor = $4::bigint, "
              "definition = $5::regclass WHERE id = $1::int",
              {std::to_string(s.id), std::to_string(watermark),
               cursor ? std::optional<std::string>(std::to_string(*cursor)) : std::nullopt,
               floor ? std::optional<std::string>(std::to_string(*floor)) : std::nullopt,
               definition.empty() ? std::nullopt : std::optional<std::string>(definition)});
  });
  jobs::RecordJob("rollup_create", view, "ok", "rollup created over " + shown,
                        "{\"watermark\": " + std::to_string(watermark) + ", \"backfill\": " +
                            (cursor || s.source_is_rollup ? "true" : "false") + "}",
                        GetCurrentTimestamp());
  pg::RestoreGucs(level);
  pg::SpiFinish();
  PG_RETURN_INT32(s.id);
}

// strata.drop_rollup(name, if_exists): drops the view, the tables, the triggers and the catalog row.
STRATA_FUNCTION(strata_drop_rollup) {
  if (PG_ARGISNULL(0)) throw core::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "name must not be null");
  const std::string name = *pg::TextArg(fcinfo, 0);
  const bool if_exists = !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
  pg::SpiConnect();
  std::optional<int> id;
  try {
    id = RollupIdByName(name);
  } catch (const core::Error& e) {
    if (!if_exists) throw;
    pg::Call([&] { ereport(NOTICE, (errmsg("rollup \"%s\" does not exist, skipping", name.c_str()))); });
  }
  if (id) {
    const int level = pg::NewGucLevel();
    PinSessionForRollupSql();
    const Rollup r = LoadRollup(*id, true);
    if (!pg::OwnsTable(r.data_oid))
      throw core::Error(ERRCODE_INSUFFICIENT_PRIVILEGE, "must be owner of rollup " + r.view);
    // Rollups of the same owner that read this one must be dropped first; another role's cannot block
    // the owner: they are unregistered (their data tables and views kept), as when a source is dropped.
    const auto deps = pg::Query("SELECT x.id, x.view::text, c.relowner = o.relowner FROM strata.rollup x "
                                "JOIN pg_catalog.pg_class c ON c.oid = x.data_table, pg_catalog.pg_class o "
                                "WHERE x.source_rollup = $1::int AND o.oid = $2::pg_catalog.oid ORDER BY x.level DESC, x.id",
                                {std::to_string(*id), std::to_string(r.data_oid)});
    for (const auto& d : deps)
      if (*d[2] == "t")
        throw core::Error(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST, "rollup " + r.view + " is read by rollup " + *d[1], {},
                          "Drop the rollups that read it first.");
    for (const auto& d : deps) UnregisterRollup(std::stoi(*d[0]), *d[1], "the rollup it reads, " + r.view + ", was dropped");
    // The catalog row goes first: the sql_drop event trigger unregisters a rollup whose objects are
    // dropped by anything else, and must find nothing to do here.
    pg::AsExtensionOwner([&] { pg::Query("DELETE FROM strata.rollup WHERE id = $1::int", {std::to_string(*id)}); });
    if (!r.spec.source_is_rollup) {
      // Ours only (this rollup's function), each dropped as its table's owner: the tree's relations
      // (inner partitioned tables, inheritance children) may belong to other roles.
      for (const auto& t : pg::Query("SELECT g.tgrelid::regclass::text, g.tgname, c.relowner FROM pg_catalog.pg_trigger g "
                                     "JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid WHERE g.tgname IN ($1, $2) "
                                     "AND g.tgfoid = pg_catalog.to_regprocedure($3)",
                                     {"strata_rollup_" + std::to_string(*id) + "_upd",
                                      "strata_rollup_" + std::to_string(*id) + "_del", r.change_function + "()"}))
        pg::AsRole(static_cast<Oid>(std::stoul(*t[2])),
                   [&] { pg::Exec("DROP TRIGGER " + core::QuoteIdent(*t[1]) + " ON " + *t[0]); });
    }
    // Each part that still exists (some may have been dropped with event triggers off).
    const auto parts = pg::Query(
        "SELECT (SELECT c.oid::pg_catalog.regclass::text FROM pg_catalog.pg_class c WHERE c.oid = u.x) "
        "FROM pg_catalog.unnest(ARRAY[$1, $2, $3, $4]::pg_catalog.oid[]) WITH ORDINALITY u(x, n) ORDER BY u.n",
        {std::to_string(r.definition), std::to_string(r.data_oid), std::to_string(r.pending_oid), std::to_string(r.view_oid)});
    if (parts[3][0]) pg::Exec("DROP VIEW " + *parts[3][0]);
    if (parts[0][0]) pg::Exec("DROP VIEW " + *parts[0][0]);
    if (parts[1][0]) pg::Exec("DROP TABLE " + *parts[1][0]);
    // A rollup of a rollup's pending table belongs to the extension's owner (ShareDependentPending).
    if (parts[2][0]) {
      if (r.spec.source_is_rollup)
        pg::AsExtensionOwner([&] { pg::Exec("DROP TABLE " + *parts[2][0]); });
      else
        pg::Exec("DROP TABLE " + *parts[2][0]);
    }
    if (!r.change_function.empty()) pg::Exec("DROP FUNCTION " + r.change_function + "()");
    jobs::RecordJob("rollup_drop", r.view, "ok", "rollup dropped", "{}", GetCurrentTimestamp());
    pg::RestoreGucs(level);
  }
  pg::SpiFinish();
  PG_RETURN_VOID();
}

// strata.alter_rollup(name, refresh_interval, realtime, batch_size, enabled)
STRATA_FUNCTION(strata_alter_rollup) {
  if (PG_ARGISNULL(0)) throw core::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "name must not be null");
  const std::string name = *pg::TextArg(fcinfo, 0);
  pg::SpiConnect();
  const int id = RollupIdByName(name);
  const int level = pg::NewGucLevel();
  PinSessionForRollupSql();
  Rollup r = LoadRollup(id, true);
  if (!pg::OwnsTable(r.data_oid)) throw core::Error(ERRCODE_INSUFFICIENT_PRIVILEGE, "must be owner of rollup " + r.view);
  std::vector<std::optional<std::string>> args{std::to_string(id), std::nullopt, std::nullopt, std::nullopt, std::nullopt};
  if (!PG_ARGISNULL(1)) args[1] = IntervalArg(fcinfo, 1, "refresh_interval");
  if (!PG_ARGISNULL(2)) args[2] = PG_GETARG_BOOL(2) ? "true" : "false";
  if (!PG_ARGISNULL(3)) {
    if (PG_GETARG_INT64(3) <= 0) throw core::Error(ERRCODE_INVALID_PARAMETER_VALUE, "batch_size must be positive");
    args[3] = std::to_string(PG_GETARG_INT64(3));
  }
  if (!PG_ARGISNULL(4)) args[4] = PG_GETARG_BOOL(4) ? "true" : "false";
  if (!PG_ARGISNULL(2)) pg::Exec(ViewSqlFor(r.spec, r.view, PG_GETARG_BOOL(2), true, r.cursor.has_value()));
  pg::AsExtensionOwner([&] {
    pg::Query("UPDATE strata.rollup SET refresh_interval = COALESCE($2::interval, refresh_interval), "
              "realtime = COALESCE($3::boolean, realtime), batch_size = COALESCE($4::bigint, batch_size), "
              "enabled = COALESCE($5::boolean, enabled), broken = CASE WHEN $5::boolean THEN NULL ELSE broken END "
              "WHERE id = $1::int",
              args);
  });
  jobs::RecordJob("rollup_alter", r.view, "ok", "rollup settings changed", "{}", GetCurrentTimestamp());
  pg::RestoreGucs(level);
  pg::SpiFinish();
  PG_RETURN_VOID();
}

// strata._on_alter_table(): the ddl_command_end event trigger of ALTER TABLE, CREATE TABLE and CREATE
// FOREIGN TABLE. Every raw-source rollup reading a relation the command touched (or a tree it belongs to)
// follows renamed columns in its stored SQL and change function and tracks every relation of its tree,
// in the same transaction. Written in C: DETACH PARTITION CONCURRENTLY run by a worker at top level ends
// with no snapshot and no portal, where PL/pgSQL could not run a query.
STRATA_FUNCTION(strata_on_alter_table) {
  if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
    throw core::Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED, "strata._on_alter_table() may only run as an event trigger");
  // strata's own DDL (inside EnsureSourceHooks or this trigger) fires it again: nothing to do then.
  if (hooks_depth > 0) PG_RETURN_VOID();
  Nested(&hooks_depth, [&] {
    in_ddl_event = true;
    try {
      OnAlterTable();
    } catch (...) {
      in_ddl_event = false;
      throw;
    }
    in_ddl_event = false;
  });
  PG_RETURN_VOID();
}

namespace strata::rollups {

void OnAlterTable() {
  bool pushed = false;
  pg::Call([&] {
    if (!ActiveSnapshotSet()) {
      PushActiveSnapshot(GetTransactionSnapshot());
      pushed = true;
    }
  });
  pg::SpiConnect();
  const int level = pg::NewGucLevel();
  PinSessionForRollupSql();
  std::vector<pg::Row> ids;
  if (RollupCatalogExists()) {
    ids = pg::Query(
        "WITH rels AS (SELECT DISTINCT c.objid AS x FROM pg_catalog.pg_event_trigger_ddl_commands() c "
        "  WHERE c.classid = 'pg_catalog.pg_class'::pg_catalog.regclass) "
        "SELECT r.id FROM strata.rollup r WHERE r.source_rollup IS NULL AND r.definition IS NOT NULL AND "
        "r.source::pg_catalog.oid IN (SELECT a.r FROM rels, LATERAL (WITH RECURSIVE up(r) AS (SELECT rels.x UNION "
        "  SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN up ON i.inhrelid = up.r) SELECT r FROM up) a) "
        "ORDER BY r.id");
  }
  for (const auto& row : ids) {
    Rollup r = LoadRollup(std::stoi(*row[0]), false);
    ProtectLegacy(r);
    FollowSource(r);
    // A relation new in the tree (CREATE TABLE ... PARTITION OF, ATTACH PARTITION, INHERIT) is tracked
    // from its first statement, or refused here (a foreign table, an order column of its own).
    EnsureSourceHooksNow(r.id, r.source_oid, r.change_function, r.spec.order_column, r.order_sequence, &r);
  }
  pg::RestoreGucs(level);
  pg::SpiFinish();
  if (pushed) pg::Call([] { PopActiveSnapshot(); });
}

}  // namespace strata::rollups

// strata._rollup_protect_all(): ProtectLegacy for every rollup now (superuser only; the worker and
// refresh_rollup() do it for each rollup they meet).
STRATA_FUNCTION(strata_rollup_protect_all) {
  pg::SpiConnect();
  const int level = pg::NewGucLevel();
  PinSessionForRollupSql();
  for (const auto& row : pg::Query("SELECT id FROM strata.rollup ORDER BY level, id")) {
    Rollup r = LoadRollup(std::stoi(*row[0]), true);
    ProtectLegacy(r);
  }
  pg::RestoreGucs(level);
  pg::SpiFinish();
  PG_RETURN_VOID();
}
