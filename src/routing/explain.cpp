// strata.explain_routing(query): every candidate rollup of a query with its decision and why.
#include "core/error.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"
#include "routing/routing.hpp"

namespace {

using strata::routing::Decision;

// Every relation entry of the query and of its subqueries (views expanded by the rewriter keep theirs
// there), as the executor checks them.
bool CollectRelations(Node* node, void* arg) {
  if (node == nullptr) return false;
  if (IsA(node, RangeTblEntry)) {
    RangeTblEntry* rte = castNode(RangeTblEntry, node);
    if (rte->rtekind == RTE_RELATION) *static_cast<List**>(arg) = lappend(*static_cast<List**>(arg), rte);
    return false;
  }
  if (IsA(node, Query))
    return query_tree_walker(castNode(Query, node), reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(CollectRelations)),
                             arg, QTW_EXAMINE_RTES_BEFORE);
  return expression_tree_walker(node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(CollectRelations)), arg);
}

}  // namespace

// strata.explain_routing(query text) -> TABLE(rollup, decision, reason_code, reason, est_rows, est_cost)
STRATA_FUNCTION(strata_explain_routing) {
  const auto sql = strata::pg::TextArg(fcinfo, 0);
  if (!sql)
    throw strata::core::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "the query must not be NULL", {},
                              "Pass the text of one SELECT statement.");
  Query* query = nullptr;
  bool one_select = false;
  strata::pg::Call([&] {
    InitMaterializedSRF(fcinfo, 0);
    List* raw = raw_parser(sql->c_str(), RAW_PARSE_DEFAULT);
    if (list_length(raw) != 1 || !IsA(linitial_node(RawStmt, raw)->stmt, SelectStmt)) return;
    Query* q = parse_analyze_fixedparams(linitial_node(RawStmt, raw), sql->c_str(), nullptr, 0, nullptr);
    List* rewritten = QueryRewrite(q);
    if (list_length(rewritten) != 1) return;
    query = linitial_node(Query, rewritten);
    // Plans and estimates only of what the caller may read (as EXPLAIN would refuse).
    List* relations = NIL;
    CollectRelations((Node*)query, &relations);
    ExecCheckRTPerms(relations, true);
    one_select = true;
  });
  if (!one_select)
    throw strata::core::Error(ERRCODE_INVALID_PARAMETER_VALUE, "explain_routing takes one SELECT statement", {},
                              "Pass the text of one SELECT statement, without a trailing second statement.");
  std::vector<Decision> rows;
  strata::routing::Route(query, CURSOR_OPT_PARALLEL_OK, nullptr, &rows, nullptr);
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  for (const auto& d : rows) {
    const char* strs[4] = {d.rollup.c_str(), d.decision.c_str(), d.reason_code.c_str(), d.reason.c_str()};
    const double nums[2] = {d.est_rows, d.est_cost};
    strata::pg::Call([&] {
      Datum values[6];
      bool nulls[6] = {false, false, false, false, false, false};
      for (int i = 0; i < 4; i++) {
        values[i] = CStringGetTextDatum(strs[i]);
        nulls[i] = i == 2 && strs[i][0] == '\0';
      }
      for (int i = 0; i < 2; i++) {
        values[4 + i] = Float8GetDatum(nums[i]);
        nulls[4 + i] = nums[i] < 0;
      }
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    });
  }
  return (Datum)0;
}

// strata._last_routed(forget boolean) -> TABLE(known boolean, rollup text, approximate text): the planner
// hook's last decision in this backend (routing.hpp), then forgotten when `forget`.
STRATA_FUNCTION(strata_last_routed) {
  const bool forget = !PG_ARGISNULL(0) && PG_GETARG_BOOL(0);
  const strata::routing::LastDecision d = strata::routing::Last();
  if (forget) strata::routing::Forget();
  strata::pg::Call([&] {
    InitMaterializedSRF(fcinfo, 0);
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    Datum values[3];
    bool nulls[3] = {false, !d.known || d.rollup.empty(), d.approximate.empty()};
    values[0] = BoolGetDatum(d.known);
    values[1] = nulls[1] ? (Datum)0 : CStringGetTextDatum(d.rollup.c_str());
    values[2] = nulls[2] ? (Datum)0 : CStringGetTextDatum(d.approximate.c_str());
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  });
  return (Datum)0;
}
