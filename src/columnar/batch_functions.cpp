// SQL functions over one column batch (src/columnar/README.md): strata._columnar_encode(anyarray) and
// strata._columnar_decode(bytea, anyelement). Each Postgres type maps to a codec kind:
//   float4, float8              -> kFloat (bit patterns: NaN payloads, -0 and infinities kept);
//   other pass-by-value types   -> kInt (integers, bool, date, time, timestamps, oid, money ...);
//   fixed-length by reference   -> kBytes (uuid, interval, name, macaddr ...: the value's typlen bytes);
//   varlena                     -> kBytes (text, numeric, jsonb, arrays ...: the detoasted bytes).
// Domains map as their base type. Values come back bit for bit; collations play no part in storage.
// A batch records its base type's OID (pg_upgrade keeps type OIDs) and a checksum: it decodes only as
// that type, and any change of its bytes is refused (XX001). Decoding returns the stored values as they
// were written (a domain's CHECK is not evaluated again) in an array with lower bound 1.
// The Postgres-free core first: it refuses to be included after Postgres headers.
#include "core/columnar/codec.hpp"

#include "columnar/batch_functions.hpp"
#include "pg/guard.hpp"

namespace strata::columnar {

namespace col = core::columnar;

TypeLayout LayoutOf(Oid type) {
  TypeLayout t;
  t.type = type;
  pg::Call([&] {
    const Oid base = getBaseType(type);
    get_typlenbyvalalign(type, &t.typlen, &t.byval, &t.align);
    if (t.typlen == -2)
      ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                      errmsg("type %s cannot be stored in a compressed batch", format_type_be(type)),
                      errhint("Store the column as text or another type with a length.")));
    t.kind = base == FLOAT4OID || base == FLOAT8OID ? uint8_t(col::Kind::kFloat)
             : t.byval                             ? uint8_t(col::Kind::kInt)
                                                   : uint8_t(col::Kind::kBytes);
    t.is_float4 = base == FLOAT4OID;
    t.tag = base;
  });
  return t;
}

namespace {

// The value of a pass-by-value Datum of typlen bytes, sign-extended (Datums of narrower types keep
// only their low bytes meaningful).
int64_t ByvalInt(Datum d, int16 typlen) {
  switch (typlen) {
    case 1: return int8_t(DatumGetChar(d));  // signed on every platform, as stored batches must be
    case 2: return DatumGetInt16(d);
    case 4: return DatumGetInt32(d);
    default: return DatumGetInt64(d);
  }
}

Datum IntByval(int64_t v, int16 typlen) {
  switch (typlen) {
    case 1: return CharGetDatum(char(v));
    case 2: return Int16GetDatum(int16(v));
    case 4: return Int32GetDatum(int32(v));
    default: return Int64GetDatum(v);
  }
}

}  // namespace

void AddDatums(const TypeLayout& t, const Datum* values, const bool* nulls, int n, col::Batch* batch) {
  batch->kind = col::Kind(t.kind);
  batch->type_tag = t.tag;
  // One guard for the batch: the loop only detoasts (which may ERROR) and appends to `batch`, owned by
  // the caller; the lambda itself owns nothing.
  pg::Call([&] {
    for (int i = 0; i < n; i++) {
      if (nulls != nullptr && nulls[i]) {
        batch->AddNull();
      } else if (t.kind == uint8_t(col::Kind::kFloat)) {
        if (t.is_float4) {
          const float4 f = DatumGetFloat4(values[i]);
          uint32_t bits;
          memcpy(&bits, &f, sizeof bits);
          batch->AddFloat(bits);
        } else {
          const float8 f = DatumGetFloat8(values[i]);
          uint64_t bits;
          memcpy(&bits, &f, sizeof bits);
          batch->AddFloat(bits);
        }
      } else if (t.kind == uint8_t(col::Kind::kInt)) {
        batch->AddInt(ByvalInt(values[i], t.typlen));
      } else if (t.typlen > 0) {
        batch->AddBytes(std::string_view(DatumGetPointer(values[i]), size_t(t.typlen)));
      } else {
        struct varlena* stored = reinterpret_cast<struct varlena*>(DatumGetPointer(values[i]));
        struct varlena* v = pg_detoast_datum_packed(stored);
        batch->AddBytes(std::string_view(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v)));
        if (v != stored) pfree(v);  // the bytes are copied: a detoasted copy would live as long as the context
      }
    }
  });
}

namespace {

[[noreturn]] void Refuse(const char* what) {
  ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("invalid compressed batch: %s", what), errhint("%s", col::kCorruptHint)));
}

}  // namespace

namespace {

// Integers and floats: no allocation, no Postgres call (the read path's hot loop), one pass.
template <int16 kLen>
bool IntDatums(const col::Batch& batch, Datum* values, bool* nulls) {
  const size_t n = batch.size();
  const uint8_t* null = batch.null.data();
  const int64_t* v = batch.ints.data();
  size_t k = 0;
  bool in_range = true;
  for (size_t i = 0; i < n; i++) {
    nulls[i] = null[i] != 0;
    if (nulls[i]) {
      values[i] = (Datum) 0;
      continue;
    }
    const int64_t x = v[k++];
    values[i] = IntByval(x, kLen);
    if constexpr (kLen < 8) in_range &= ByvalInt(values[i], kLen) == x;
  }
  return in_range;
}

bool FloatDatums(const col::Batch& batch, bool is_float4, Datum* values, bool* nulls) {
  const size_t n = batch.size();
  const uint8_t* null = batch.null.data();
  const uint64_t* v = batch.floats.data();
  size_t k = 0;
  bool fits = true;
  for (size_t i = 0; i < n; i++) {
    nulls[i] = null[i] != 0;
    if (nulls[i]) {
      values[i] = (Datum) 0;
      continue;
    }
    const uint64_t bits = v[k++];
    if (is_float4) {
      fits &= bits >> 32 == 0;
      const uint32_t narrow = uint32_t(bits);
      float4 f;
      memcpy(&f, &narrow, sizeof f);
      values[i] = Float4GetDatum(f);
    } else {
      float8 f;
      memcpy(&f, &bits, sizeof f);
      values[i] = Float8GetDatum(f);
    }
  }
  return fits;
}

[[noreturn]] void Damaged(const char* what) {
  throw core::Error(ERRCODE_DATA_CORRUPTED, std::string("invalid compressed batch: ") + what, {}, col::kCorruptHint);
}

}  // namespace

void CheckFits(const TypeLayout& t, const col::Batch& batch) {
  if (t.kind == uint8_t(col::Kind::kInt) && t.typlen < 8) {
    const int64_t lo = t.typlen == 1 ? INT8_MIN : t.typlen == 2 ? INT16_MIN : INT32_MIN;
    const int64_t hi = t.typlen == 1 ? INT8_MAX : t.typlen == 2 ? INT16_MAX : INT32_MAX;
    bool in_range = true;
    for (const int64_t x : batch.ints) in_range &= x >= lo && x <= hi;
    if (!in_range) Damaged("an integer out of its type's range");
  } else if (t.kind == uint8_t(col::Kind::kFloat) && t.is_float4) {
    uint64_t wide = 0;
    for (const uint64_t bits : batch.floats) wide |= bits >> 32;
    if (wide != 0) Damaged("a float4 value with more than 32 bits");
  }
}

void MakeDatums(const TypeLayout& t, const col::Batch& batch, Datum* values, bool* nulls) {
  if (t.kind == uint8_t(col::Kind::kInt)) {
    bool ok = true;
    switch (t.typlen) {
      case 1: ok = IntDatums<1>(batch, values, nulls); break;
      case 2: ok = IntDatums<2>(batch, values, nulls); break;
      case 4: ok = IntDatums<4>(batch, values, nulls); break;
      default: ok = IntDatums<8>(batch, values, nulls); break;
    }
    if (!ok) Damaged("an integer out of its type's range");
    return;
  }
  if (t.kind == uint8_t(col::Kind::kFloat)) {
    if (!FloatDatums(batch, t.is_float4, values, nulls)) Damaged("a float4 value with more than 32 bits");
    return;
  }
  pg::Call([&] {
    // What the values will take, before any is made: a dictionary's one entry repeated is stored once
    // but made once per value.
    uint64 total = 0;
    for (const auto& span : batch.spans) total += span.length + (t.typlen > 0 ? 0 : VARHDRSZ);
    if (total > MaxAllocSize) Refuse("its values would take more than 1 GB");
    size_t k = 0;
    for (size_t i = 0; i < batch.size(); i++) {
      nulls[i] = batch.null[i] != 0;
      if (nulls[i]) {
        values[i] = (Datum) 0;
        continue;
      }
      const std::string_view v = batch.value(k++);
      if (t.typlen > 0 && v.size() != size_t(t.typlen)) Refuse("a value of another length than its type's");
      if (t.typlen > 0) {
        char* p = static_cast<char*>(palloc(v.size()));
        memcpy(p, v.data(), v.size());
        values[i] = PointerGetDatum(p);
      } else {
        struct varlena* p = static_cast<struct varlena*>(palloc(v.size() + VARHDRSZ));
        SET_VARSIZE(p, v.size() + VARHDRSZ);
        memcpy(VARDATA(p), v.data(), v.size());
        values[i] = PointerGetDatum(p);
      }
    }
  });
}

namespace {

const TypeLayout& CachedLayout(FunctionCallInfo fcinfo, Oid type) {
  auto* cached = static_cast<TypeLayout*>(fcinfo->flinfo->fn_extra);
  if (cached != nullptr && cached->type == type) return *cached;
  const TypeLayout t = LayoutOf(type);
  if (cached == nullptr) {
    pg::Call([&] { cached = static_cast<TypeLayout*>(MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(TypeLayout))); });
    fcinfo->flinfo->fn_extra = cached;
  }
  *cached = t;
  return *cached;
}

}  // namespace
}  // namespace strata::columnar

namespace pg = strata::pg;
namespace col = strata::core::columnar;
using strata::columnar::TypeLayout;

// _columnar_encode(values anyarray) -> bytea: the one-dimensional array as one compressed batch.
STRATA_FUNCTION(strata_columnar_encode) {
  ArrayType* arr = nullptr;
  Datum* values = nullptr;
  bool* nulls = nullptr;
  int n = 0;
  pg::Call([&] { arr = PG_GETARG_ARRAYTYPE_P(0); });
  if (ARR_NDIM(arr) > 1)
    throw strata::core::Error(strata::core::sqlstate::kInvalidParameterValue, "a compressed batch holds a one-dimensional array");
  const TypeLayout& t = strata::columnar::CachedLayout(fcinfo, ARR_ELEMTYPE(arr));
  pg::Call([&] { deconstruct_array(arr, t.type, t.typlen, t.byval, t.align, &values, &nulls, &n); });
  col::Batch batch;
  strata::columnar::AddDatums(t, values, nulls, n, &batch);
  const std::vector<uint8_t> bytes = col::Encode(batch);
  bytea* out = nullptr;
  pg::Call([&] {
    out = static_cast<bytea*>(palloc(bytes.size() + VARHDRSZ));
    SET_VARSIZE(out, bytes.size() + VARHDRSZ);
    memcpy(VARDATA(out), bytes.data(), bytes.size());
  });
  PG_RETURN_BYTEA_P(out);
}

// _columnar_decode(batch bytea, like anyelement) -> anyarray: the batch's values as an array of like's
// type (which must be the type the batch was encoded from: a batch of another kind is refused).
STRATA_FUNCTION(strata_columnar_decode) {
  if (PG_ARGISNULL(0)) PG_RETURN_NULL();
  bytea* in = nullptr;
  Oid type = InvalidOid;
  pg::Call([&] {
    in = PG_GETARG_BYTEA_PP(0);
    type = get_fn_expr_argtype(fcinfo->flinfo, 1);
    if (!OidIsValid(type)) elog(ERROR, "could not determine the type of the batch's values");
  });
  const TypeLayout& t = strata::columnar::CachedLayout(fcinfo, type);
  const col::Batch batch = col::Decode(reinterpret_cast<const uint8_t*>(VARDATA_ANY(in)), VARSIZE_ANY_EXHDR(in), col::Kind(t.kind), t.tag);
  ArrayType* out = nullptr;
  pg::Call([&] {
    const int n = int(batch.size());
    if (n == 0) {
      out = construct_empty_array(t.type);
      return;
    }
    Datum* values = static_cast<Datum*>(palloc(sizeof(Datum) * size_t(n)));
    bool* nulls = static_cast<bool*>(palloc(sizeof(bool) * size_t(n)));
    strata::columnar::MakeDatums(t, batch, values, nulls);
    int dims[1] = {n}, lbs[1] = {1};
    out = construct_md_array(values, nulls, 1, dims, lbs, t.type, t.typlen, t.byval, t.align);
  });
  PG_RETURN_ARRAYTYPE_P(out);
}
