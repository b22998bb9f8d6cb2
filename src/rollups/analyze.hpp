// Reading a rollup query into a spec (core::rollup::Spec), and reading a rollup's definition view back
// into one when its source's columns were renamed.
#pragma once

#include <string>
#include <vector>

#include "core/rollup_sql.hpp"
#include "pg/guard.hpp"

namespace strata::rollups {

// A rollup query, analyzed.
struct Parsed {
  Oid source = InvalidOid;
  char relkind = 0;
  core::rollup::Spec spec;
  std::vector<std::string> used_columns;  // source columns the query reads
};

// Parses and analyzes the query with the caller's search_path, then pins the session (see
// PinSessionForRollupSql) before reading it into a spec, so every deparsed name comes out qualified
// and every constant in an unambiguous style; refuses what a rollup cannot keep (the message says
// which part, with a hint). Call inside a GUC nest level the caller restores.
Parsed Analyze(const std::string& query);

// The spec `old` with the source column references read back from the definition view: current names,
// each part as Postgres deparses the view's stored tree (casts it added implicitly then show).
core::rollup::Spec ReadDefinition(const std::string& view, Oid definition, const core::rollup::Spec& old);
// Whether two specs of one rollup read different source columns (time, order, filter, bucket,
// dimensions or measure arguments).
bool SpecDiffers(const core::rollup::Spec& a, const core::rollup::Spec& b);

}  // namespace strata::rollups
