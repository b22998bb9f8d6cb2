// The reader's query taken apart for routing, and its match against one rollup (see README.md).
#pragma once

#include <string>
#include <vector>

#include "rollups/candidates.hpp"
#include "pg/postgres.hpp"

namespace strata::routing {

// Why a candidate (or the query) was not used: a stable code and a sentence.
struct Reason {
  std::string code;
  std::string text;
};

struct Request;  // the analyzed query (match.cpp)

// The view a query reads, when its FROM is that one view (expanded by the rewriter into a subquery) and
// nothing else; InvalidOid otherwise. `perms`: the view's entry with the reader's permission fields.
// Reads only the query tree (the planner hook's cheap test).
Oid ViewOfQuery(const Query* query, RangeTblEntry** perms);

// Takes the query apart (it is not modified); nullptr and `why` when no rollup could answer it whatever
// rollups exist (its shape: joins, subqueries, grouping sets, volatile functions, ...).
// May throw PgError.
std::shared_ptr<Request> Analyze(Query* query, Reason* why);
// The raw relation the query aggregates.
Oid SourceOf(const Request& r);
// The statement answering the query from candidate `c`, or "" and `why`; `arms` and `rare` as
// core::routing::UnionSql gives them; `approximate` says which aggregates are answered from sketches and
// with what error (only with strata.routing_approximate; "" when the answer is exact). Without `render`,
// only whether it matches ("matched"): the statement is written for the candidates that get planned.
// May throw PgError.
std::string MatchCandidate(const Request& r, const rollups::Candidate& c, Reason* why, int* arms,
                           std::vector<int>* rare, std::string* approximate, bool render = true);
// The types of the query's parameters $1..$n (n = the highest number used), for parsing the routed text.
std::vector<Oid> ParamTypes(const Request& r);
// The query's range table entry for the source (its permission fields are copied to the routed query).
RangeTblEntry* SourceEntry(const Request& r);
// Whether the query reads a rollup's view (its candidates are the rollups of that rollup, see README.md).
bool OverView(const Request& r);

}  // namespace strata::routing
