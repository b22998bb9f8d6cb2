// SQL functions of strata.qsketch: I/O, qsketch_agg, merge, quantile(s) (percentile_disc's definition),
// quantile_cont (percentile_cont's), count/min/max/mean.
#include "aggregates/sketch_glue.hpp"
#include "core/sketch/qsketch.hpp"

extern "C" {
#include "utils/array.h"
}

namespace strata::aggregates {

// Every buffer of the sketch is allocated in its context (see ContextOwned).
template <>
struct ContextOwned<core::sketch::BasicQSketch<Alloc>> : std::true_type {};

namespace {

using QSketch = core::sketch::BasicQSketch<Alloc>;

// make(cxt) creates the state (checking the aggregate's parameters); every value is added.
template <class Make>
Datum Trans(FunctionCallInfo fcinfo, Make&& make) {
  return TransStep<QSketch>(fcinfo, make, [&](QSketch* s) { s->Add(PG_GETARG_FLOAT8(1)); });
}

QSketch* Arg(FunctionCallInfo fcinfo) { return FromValue<QSketch>(CurrentMemoryContext, PG_GETARG_DATUM(0)); }

}  // namespace
}  // namespace strata::aggregates

using namespace strata::aggregates;
namespace pg = strata::pg;

STRATA_SKETCH_FUNCTIONS(qsketch, QSketch)
STRATA_FUNCTION(strata_qsketch_trans) {
  return Trans(fcinfo, [](MemoryContext cxt) { return NewIn<QSketch>(cxt, strata::core::sketch::kQDefaultAccuracy); });
}
STRATA_FUNCTION(strata_qsketch_trans_a) {
  return Trans(fcinfo, [&](MemoryContext cxt) {
    if (PG_ARGISNULL(2))
      throw strata::core::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "qsketch relative accuracy must not be null");
    strata::core::sketch::CheckQAccuracy(PG_GETARG_FLOAT8(2));
    return NewIn<QSketch>(cxt, PG_GETARG_FLOAT8(2));
  });
}
STRATA_FUNCTION(strata_qsketch_quantile) { PG_RETURN_FLOAT8(Arg(fcinfo)->Quantile(PG_GETARG_FLOAT8(1))); }
STRATA_FUNCTION(strata_qsketch_quantile_cont) { PG_RETURN_FLOAT8(Arg(fcinfo)->QuantileCont(PG_GETARG_FLOAT8(1))); }
STRATA_FUNCTION(strata_qsketch_quantiles) {
  QSketch* s = Arg(fcinfo);
  Datum* elems = nullptr;
  bool* nulls = nullptr;
  int n = 0;
  pg::Call([&] {
    deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
  });
  for (int i = 0; i < n; i++) {
    if (nulls[i]) throw strata::core::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "quantiles must not contain nulls");
    elems[i] = Float8GetDatum(s->Quantile(DatumGetFloat8(elems[i])));
  }
  ArrayType* out = nullptr;
  pg::Call([&] { out = construct_array(elems, n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE); });
  PG_RETURN_ARRAYTYPE_P(out);
}
STRATA_FUNCTION(strata_qsketch_count) { PG_RETURN_INT64(static_cast<int64>(Arg(fcinfo)->count())); }
STRATA_FUNCTION(strata_qsketch_min) { PG_RETURN_FLOAT8(Arg(fcinfo)->min()); }
STRATA_FUNCTION(strata_qsketch_max) { PG_RETURN_FLOAT8(Arg(fcinfo)->max()); }
STRATA_FUNCTION(strata_qsketch_mean) { PG_RETURN_FLOAT8(Arg(fcinfo)->Mean()); }
STRATA_FUNCTION(strata_qsketch_accuracy) { PG_RETURN_FLOAT8(Arg(fcinfo)->accuracy()); }
