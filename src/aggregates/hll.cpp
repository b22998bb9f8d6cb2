// SQL functions of strata.hll: I/O, hll_agg (with fast hashing paths), merge, distinct_count.
#include <cmath>

#include "aggregates/sketch_glue.hpp"
#include "core/sketch/hash.hpp"
#include "core/sketch/hll.hpp"

namespace strata::aggregates {

// Every buffer of the sketch is allocated in its context (see ContextOwned).
template <>
struct ContextOwned<core::sketch::BasicHll<Alloc>> : std::true_type {};

namespace {

using Hll = core::sketch::BasicHll<Alloc>;
using core::sketch::HashBytes;
using core::sketch::HashInt64;

// How values of the aggregated type are hashed; resolved once per query (fn_extra).
enum class HashPath { kInt8, kInt4, kInt2, kVarlenaBytes, kUuid, kSend };
struct HashInfo {
  Oid type;
  HashPath path;
  FmgrInfo send;
};

HashInfo* ResolveHash(FunctionCallInfo fcinfo, int argno) {
  if (fcinfo->flinfo->fn_extra != nullptr) return static_cast<HashInfo*>(fcinfo->flinfo->fn_extra);
  HashInfo* h = nullptr;
  pg::Call([&] {
    h = static_cast<HashInfo*>(MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(HashInfo)));
    h->type = get_fn_expr_argtype(fcinfo->flinfo, argno);
    if (!OidIsValid(h->type)) elog(ERROR, "could not determine the type of the aggregated value");
    switch (h->type) {
      case INT8OID: h->path = HashPath::kInt8; break;
      case INT4OID: h->path = HashPath::kInt4; break;
      case INT2OID: h->path = HashPath::kInt2; break;
      case TEXTOID:
      case VARCHAROID:
      case BYTEAOID:
      case NAMEOID: h->path = h->type == NAMEOID ? HashPath::kSend : HashPath::kVarlenaBytes; break;
      case UUIDOID: h->path = HashPath::kUuid; break;
      default: {
        // Any type with a binary send function: its wire format is stable across versions.
        Oid send;
        bool varlena;
        getTypeBinaryOutputInfo(h->type, &send, &varlena);
        fmgr_info_cxt(send, &h->send, fcinfo->flinfo->fn_mcxt);
        h->path = HashPath::kSend;
      }
    }
    fcinfo->flinfo->fn_extra = h;
  });
  return h;
}

// The hot path: no allocation, no setjmp, except for toasted values and the generic send path.
inline uint64_t HashValue(const HashInfo* h, Datum d) {
  switch (h->path) {
    case HashPath::kInt8: return HashInt64(DatumGetInt64(d));
    case HashPath::kInt4: return HashInt64(DatumGetInt32(d));
    case HashPath::kInt2: return HashInt64(DatumGetInt16(d));
    case HashPath::kUuid: return HashBytes(DatumGetPointer(d), 16);
    case HashPath::kVarlenaBytes: {
      struct varlena* v = reinterpret_cast<struct varlena*>(DatumGetPointer(d));
      if (VARATT_IS_EXTENDED(v) && !VARATT_IS_SHORT(v)) pg::Call([&] { v = pg_detoast_datum_packed(v); });
      return HashBytes(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
    }
    case HashPath::kSend: {
      bytea* b = nullptr;
      pg::Call([&] { b = SendFunctionCall(const_cast<FmgrInfo*>(&h->send), d); });
      return HashBytes(VARDATA(b), VARSIZE(b) - VARHDRSZ);
    }
  }
  return 0;
}

Datum Trans(FunctionCallInfo fcinfo, int precision) {
  return TransStep<Hll>(
      fcinfo, [&](MemoryContext cxt) { return NewIn<Hll>(cxt, precision); },
      [&](Hll* s) { s->AddHash(HashValue(ResolveHash(fcinfo, 1), PG_GETARG_DATUM(1))); });
}

}  // namespace
}  // namespace strata::aggregates

using namespace strata::aggregates;
namespace pg = strata::pg;

STRATA_SKETCH_FUNCTIONS(hll, Hll)
STRATA_FUNCTION(strata_hll_trans) { return Trans(fcinfo, strata::core::sketch::kHllDefaultPrecision); }
STRATA_FUNCTION(strata_hll_trans_p) {
  return TransStep<Hll>(
      fcinfo,
      [&](MemoryContext cxt) {
        if (PG_ARGISNULL(2)) throw strata::core::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "hll precision must not be null");
        strata::core::sketch::CheckHllPrecision(PG_GETARG_INT32(2));
        return NewIn<Hll>(cxt, PG_GETARG_INT32(2));
      },
      [&](Hll* s) { s->AddHash(HashValue(ResolveHash(fcinfo, 1), PG_GETARG_DATUM(1))); });
}
STRATA_FUNCTION(strata_hll_distinct_count) {
  Hll* s = FromValue<Hll>(CurrentMemoryContext, PG_GETARG_DATUM(0));
  PG_RETURN_INT64(static_cast<int64>(std::llround(s->Estimate())));
}
STRATA_FUNCTION(strata_hll_precision) {
  Hll* s = FromValue<Hll>(CurrentMemoryContext, PG_GETARG_DATUM(0));
  PG_RETURN_INT32(s->precision());
}
