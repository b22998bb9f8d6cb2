// SQL functions of strata.topk: I/O, topk_agg, merge, topk_items.
#include <charconv>

#include "aggregates/sketch_glue.hpp"
#include "core/sketch/topk.hpp"

namespace strata::aggregates {
namespace {

using TopK = core::sketch::BasicTopK<Alloc>;

// Items are the values' text form; integers and text take allocation-free paths.
struct ItemInfo {
  Oid type;
  FmgrInfo out;
};

ItemInfo* Resolve(FunctionCallInfo fcinfo) {
  if (fcinfo->flinfo->fn_extra != nullptr) return static_cast<ItemInfo*>(fcinfo->flinfo->fn_extra);
  ItemInfo* it = nullptr;
  pg::Call([&] {
    it = static_cast<ItemInfo*>(MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ItemInfo)));
    it->type = get_fn_expr_argtype(fcinfo->flinfo, 1);
    if (!OidIsValid(it->type)) elog(ERROR, "could not determine the type of the aggregated value");
    Oid out;
    bool varlena;
    getTypeOutputInfo(it->type, &out, &varlena);
    fmgr_info_cxt(out, &it->out, fcinfo->flinfo->fn_mcxt);
    fcinfo->flinfo->fn_extra = it;
  });
  return it;
}

void AddValue(TopK* s, const ItemInfo* it, Datum d) {
  char buf[24];
  switch (it->type) {
    case INT8OID:
    case INT4OID:
    case INT2OID: {
      const int64 v = it->type == INT8OID ? DatumGetInt64(d) : it->type == INT4OID ? DatumGetInt32(d) : DatumGetInt16(d);
      const auto r = std::to_chars(buf, buf + sizeof buf, v);
      s->Add(std::string_view(buf, size_t(r.ptr - buf)));
      return;
    }
    case TEXTOID:
    case VARCHAROID: {
      struct varlena* v = reinterpret_cast<struct varlena*>(DatumGetPointer(d));
      if (VARATT_IS_EXTENDED(v) && !VARATT_IS_SHORT(v)) pg::Call([&] { v = pg_detoast_datum_packed(v); });
      s->Add(std::string_view(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v)));
      return;
    }
    default: {
      char* str = nullptr;
      pg::Call([&] { str = OutputFunctionCall(const_cast<FmgrInfo*>(&it->out), d); });
      s->Add(std::string_view(str));
    }
  }
}

}  // namespace
}  // namespace strata::aggregates

using namespace strata::aggregates;
namespace pg = strata::pg;

STRATA_SKETCH_FUNCTIONS(topk, TopK)
STRATA_FUNCTION(strata_topk_trans) {
  return TransStep<TopK>(
      fcinfo,
      [&](MemoryContext cxt) {
        if (PG_ARGISNULL(2)) throw strata::core::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "topk k must not be null");
        strata::core::sketch::CheckTopK(PG_GETARG_INT32(2));
        return NewIn<TopK>(cxt, static_cast<uint32_t>(PG_GETARG_INT32(2)));
      },
      [&](TopK* s) { AddValue(s, Resolve(fcinfo), PG_GETARG_DATUM(1)); });
}
// topk_items(topk) -> setof (item text, count bigint, error bigint): the k heaviest items. Every true
// count is in [count, count + error].
STRATA_FUNCTION(strata_topk_items) {
  TopK* s = FromValue<TopK>(CurrentMemoryContext, PG_GETARG_DATUM(0));
  const auto items = s->Top();
  const int64 err = static_cast<int64>(s->error());
  pg::Call([&] { InitMaterializedSRF(fcinfo, 0); });
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  for (const auto& it : items) {
    const std::string& item = it.item;
    const int64 c = static_cast<int64>(it.count);
    pg::Call([&] {
      Datum v[3] = {PointerGetDatum(cstring_to_text_with_len(item.data(), int(item.size()))), Int64GetDatum(c),
                    Int64GetDatum(err)};
      bool n[3] = {false, false, false};
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
    });
  }
  return (Datum) 0;
}
