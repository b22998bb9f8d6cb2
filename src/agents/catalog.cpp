// The metrics catalog's terms (strata.metrics, README.md): every measure of every rollup as the raw
// table's aggregate it equals, with the dimensions and the bucket it can be asked by, in the raw
// table's terms (rollups of rollups composed through their chain, as routing reads them).
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "core/naming.hpp"
#include "core/rollup_sql.hpp"
#include "pg/guard.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "rollups/candidates.hpp"

namespace {

namespace rs = strata::core::rollup;

// The error bound of a sketch measure, from its own parameters ("" when exact): hll's precision (the
// argument after the column, 14 by default), qsketch's relative accuracy (0.005 by default).
std::string ErrorBound(const rs::Measure& m) {
  const auto param = [&]() -> std::string {
    const size_t comma = m.args.rfind(", ");
    if (comma == std::string::npos) return "";
    std::string p = m.args.substr(comma + 2);
    // As deparsed: (0.01)::double precision, or 12.
    std::string digits;
    for (char ch : p)
      if ((ch >= '0' && ch <= '9') || ch == '.' || ch == 'e' || ch == 'E' || ch == '-') digits += ch;
      else if (ch == ':') break;
    return digits;
  };
  char out[128];
  switch (m.kind) {
    case rs::MeasureKind::kHll: {
      const std::string p = param();
      const double precision = p.empty() ? 14 : std::atof(p.c_str());
      snprintf(out, sizeof out, "relative standard error %.2f%%", 104.0 / std::sqrt(std::pow(2.0, precision)));
      return out;
    }
    case rs::MeasureKind::kQsketch: {
      const std::string p = param();
      return "relative accuracy " + (p.empty() ? std::string("0.005") : p);
    }
    case rs::MeasureKind::kTopk: return "each count within its error: at most the rows counted / (capacity + 1)";
    default: return "";
  }
}

// The aggregate over raw rows a stored measure equals, as a query on the raw table writes it.
std::string RawAggregate(const rs::Measure& m) {
  const std::string args = m.args.empty() ? "*" : m.args;
  switch (m.kind) {
    case rs::MeasureKind::kHll:
    case rs::MeasureKind::kQsketch:
    case rs::MeasureKind::kTopk:
    case rs::MeasureKind::kMerge: return "strata." + rs::KindName(m.kind) + "(" + args + ")";
    default: return rs::KindName(m.kind) + "(" + args + ")";
  }
}

}  // namespace

// strata._metric_terms() -> TABLE(rollup_id int, metric name, kind text, raw_expression text,
// dimensions text[], bucket_expression text, time_column name, source oid, first_bucket text,
// last_bucket text, error_bound text, raw_where text): one row per measure of every rollup routing reads as a candidate (rollups of
// rollups included), in the raw table's terms; the bucket range only for a caller who may read the rollup.
STRATA_FUNCTION(strata_metric_terms) {
  using strata::rollups::Candidate;
  strata::pg::Call([&] { InitMaterializedSRF(fcinfo, 0); });
  strata::pg::SpiConnect();
  std::vector<Candidate> all;
  std::vector<Oid> sources;
  for (const Oid source : strata::rollups::RollupSources()) {
    // Only what routing reads: a rollup of a rollup it refuses (its own WHERE, ...) is no metric.
    for (const auto& c : strata::rollups::CandidatesOf(source, 0)) {
      if (!c.refused.empty()) continue;
      all.push_back(c);
      sources.push_back(source);
    }
  }
  // The buckets a rollup holds, first and last (its key index's ends), for a caller who may read it.
  std::vector<std::optional<std::string>> first(all.size()), last(all.size());
  for (size_t i = 0; i < all.size(); i++) {
    bool may = false;
    strata::pg::Call([&] { may = pg_class_aclcheck(all[i].view_oid, GetUserId(), ACL_SELECT) == ACLCHECK_OK; });
    if (!may) continue;
    const std::string b = strata::core::QuoteIdent(all[i].spec.bucket_name);
    std::vector<strata::pg::Row> rows;
    strata::pg::AsExtensionOwner([&] {
      rows = strata::pg::QueryReadOnly("SELECT min(" + b + ")::pg_catalog.text, max(" + b + ")::pg_catalog.text FROM " +
                                       all[i].spec.data_table + " WHERE pg_catalog.isfinite(" + b + ")");
    });
    if (!rows.empty()) {
      first[i] = rows[0][0];
      last[i] = rows[0][1];
    }
  }
  strata::pg::SpiFinish();
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  for (size_t ci = 0; ci < all.size(); ci++) {
    const Candidate& c = all[ci];
    std::vector<std::string> dims;
    for (const auto& d : c.spec.dims) dims.push_back(strata::core::UnquoteIdent(d.expr));
    for (const auto& m : c.spec.measures) {
      const std::string raw = RawAggregate(m);
      const std::string kind = rs::KindName(m.kind);
      const std::string bound = ErrorBound(m);
      strata::pg::Call([&] {
        Datum values[12];
        bool nulls[12] = {false, false, false, false, false, false, false, false, false, false, false, false};
        values[0] = Int32GetDatum(c.id);
        values[1] = CStringGetDatum(m.name.c_str());
        values[1] = DirectFunctionCall1(namein, values[1]);
        values[2] = CStringGetTextDatum(kind.c_str());
        values[3] = CStringGetTextDatum(raw.c_str());
        Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (dims.empty() ? 1 : dims.size())));
        for (size_t i = 0; i < dims.size(); i++) elems[i] = CStringGetTextDatum(dims[i].c_str());
        values[4] = PointerGetDatum(construct_array(elems, static_cast<int>(dims.size()), TEXTOID, -1, false, TYPALIGN_INT));
        values[5] = CStringGetTextDatum(c.spec.bucket_expr.c_str());
        values[6] = DirectFunctionCall1(namein, CStringGetDatum(c.spec.time_column.c_str()));
        values[7] = ObjectIdGetDatum(sources[ci]);
        // The bucket values as text, in the session's DateStyle.
        nulls[8] = !first[ci];
        nulls[9] = !last[ci];
        if (first[ci]) values[8] = CStringGetTextDatum(first[ci]->c_str());
        if (last[ci]) values[9] = CStringGetTextDatum(last[ci]->c_str());
        nulls[10] = bound.empty();
        if (!bound.empty()) values[10] = CStringGetTextDatum(bound.c_str());
        // The raw side's WHERE (a rollup's own, or the one of the rollup a chain starts from).
        nulls[11] = c.spec.where.empty();
        if (!c.spec.where.empty()) values[11] = CStringGetTextDatum(c.spec.where.c_str());
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
      });
    }
  }
  return (Datum)0;
}
