// SQL glue of core::keyset: strata.keyset_agg(VARIADIC "any") builds a keyset of the keys it is given;
// strata.keyset_lacks(keyset, VARIADIC "any") is true unless the keyset holds the key. The real-time
// rollup view uses them to drop the stored groups its tail touches (src/rollups/README.md).
// Key columns must be smallint, integer, bigint, date, timestamp or timestamptz: their btree equality is
// the equality of their integer values, which the keyset compares.
#include <cstring>

#include "core/error.hpp"
#include "core/keyset.hpp"
#include "pg/guard.hpp"
#include "rollups/int_key.hpp"

namespace {

namespace ks = strata::core::keyset;
using strata::core::Error;

// The largest keyset built: a bytea value's limit.
constexpr size_t kMaxKeysetBytes = MaxAllocSize - VARHDRSZ;

// Refuses a key column of a type the keyset cannot compare as integers.
void CheckKeyType(Oid type, int position) {
  if (strata::rollups::IsIntKeyType(type)) return;
  char* name = nullptr;
  strata::pg::Call([&] { name = format_type_be(type); });
  throw Error(ERRCODE_FEATURE_NOT_SUPPORTED, std::string("keyset key column ") + std::to_string(position) +
                                                 " has type " + name,
              "", "Keyset keys are smallint, integer, bigint, date, timestamp or timestamptz values.");
}

// The key columns of a call: arguments first .. nargs-1, their types read once per call site.
struct Columns {
  int first = 0;
  int count = 0;
  Oid type[ks::kMaxKeysetColumns];
};

const Columns& ColumnsOf(FunctionCallInfo fcinfo, int first) {
  if (fcinfo->flinfo->fn_extra != nullptr) return *static_cast<const Columns*>(fcinfo->flinfo->fn_extra);
  const int count = fcinfo->nargs - first;
  if (count < 1 || count > ks::kMaxKeysetColumns)
    throw Error(ERRCODE_INVALID_PARAMETER_VALUE,
                "a keyset key has 1 to " + std::to_string(ks::kMaxKeysetColumns) + " columns, not " + std::to_string(count),
                "", "Pass each key column as its own argument.");
  if (get_fn_expr_variadic(fcinfo->flinfo))
    throw Error(ERRCODE_FEATURE_NOT_SUPPORTED, "keyset functions take their key columns as separate arguments",
                "", "Call them without VARIADIC.");
  Columns c;
  c.first = first;
  c.count = count;
  for (int i = 0; i < count; i++) {
    Oid type = InvalidOid;
    strata::pg::Call([&] { type = get_fn_expr_argtype(fcinfo->flinfo, first + i); });
    CheckKeyType(type, i + 1);
    c.type[i] = type;
  }
  void* mem = nullptr;
  strata::pg::Call([&] { mem = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(Columns)); });
  std::memcpy(mem, &c, sizeof c);
  fcinfo->flinfo->fn_extra = mem;
  return *static_cast<const Columns*>(mem);
}

// Keys an aggregate collected: palloc'd in the aggregate context, row-major.
struct KeyList {
  int columns;
  uint64_t n;
  uint64_t capacity;  // keys
  int64_t* keys;
};

void AppendKey(MemoryContext cxt, KeyList* list, const int64_t* key) {
  if (list->n == list->capacity) {
    const uint64_t capacity = list->capacity == 0 ? 64 : list->capacity * 2;
    if (ks::BytesFor(list->columns, capacity, kMaxKeysetBytes) == 0)
      throw Error(ERRCODE_PROGRAM_LIMIT_EXCEEDED, "keyset of " + std::to_string(list->n) + " keys is too large", "",
                  "A keyset value is limited to 1GB.");
    const Size bytes = capacity * static_cast<Size>(list->columns) * sizeof(int64_t);
    strata::pg::Call([&] {
      list->keys = static_cast<int64_t*>(list->keys == nullptr ? MemoryContextAllocHuge(cxt, bytes)
                                                                : repalloc_huge(list->keys, bytes));
    });
    list->capacity = capacity;
  }
  std::memcpy(list->keys + list->n * list->columns, key, list->columns * sizeof(int64_t));
  list->n++;
}

// The state of keyset_agg: the keys without NULLs, and the first columns of keys with a NULL later.
struct KeysetState {
  KeyList keys;
  KeyList null_rest;
};

}  // namespace

STRATA_FUNCTION(strata_keyset_trans) {
  MemoryContext agg = nullptr;
  if (!AggCheckCallContext(fcinfo, &agg))
    throw Error(ERRCODE_FEATURE_NOT_SUPPORTED, "keyset transition function called outside an aggregate");
  const Columns& c = ColumnsOf(fcinfo, 1);
  auto* state = PG_ARGISNULL(0) ? nullptr : reinterpret_cast<KeysetState*>(PG_GETARG_POINTER(0));
  if (state == nullptr) {
    strata::pg::Call([&] { state = static_cast<KeysetState*>(MemoryContextAllocZero(agg, sizeof(KeysetState))); });
    state->keys.columns = c.count;
    state->null_rest.columns = 1;
  }
  // NULL never equals a key: a key with a NULL is not kept. When only later columns are NULL its first
  // column goes to the second table (see core/keyset.hpp).
  int64_t key[ks::kMaxKeysetColumns];
  bool later_null = false;
  if (PG_ARGISNULL(c.first)) PG_RETURN_POINTER(state);
  for (int i = 0; i < c.count; i++) {
    if (PG_ARGISNULL(c.first + i)) {
      later_null = true;
      break;
    }
    key[i] = strata::rollups::IntKeyValue(PG_GETARG_DATUM(c.first + i), c.type[i]);
  }
  AppendKey(agg, later_null ? &state->null_rest : &state->keys, key);
  PG_RETURN_POINTER(state);
}

STRATA_FUNCTION(strata_keyset_final) {
  if (PG_ARGISNULL(0)) PG_RETURN_NULL();
  const auto* state = reinterpret_cast<const KeysetState*>(PG_GETARG_POINTER(0));
  const size_t main_bytes = ks::BytesFor(state->keys.columns, state->keys.n, kMaxKeysetBytes);
  const size_t aux_bytes = state->null_rest.n == 0 ? 0 : ks::BytesFor(1, state->null_rest.n, kMaxKeysetBytes);
  if (main_bytes == 0 || (state->null_rest.n > 0 && aux_bytes == 0) || main_bytes + aux_bytes > kMaxKeysetBytes)
    throw Error(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                "keyset of " + std::to_string(state->keys.n + state->null_rest.n) + " keys is too large", "",
                "A keyset value is limited to 1GB.");
  bytea* out = nullptr;
  strata::pg::Call(
      [&] { out = static_cast<bytea*>(palloc_extended(main_bytes + aux_bytes + VARHDRSZ, MCXT_ALLOC_HUGE)); });
  SET_VARSIZE(out, main_bytes + aux_bytes + VARHDRSZ);
  auto* buf = reinterpret_cast<unsigned char*>(VARDATA(out));
  ks::Build(state->keys.keys, state->keys.n, state->keys.columns, buf);
  if (aux_bytes > 0) ks::Build(state->null_rest.keys, state->null_rest.n, 1, buf + main_bytes);
  PG_RETURN_BYTEA_P(out);
}

// Runs once per stored row the real-time view reads from the tail's first bucket on: no allocation, no
// Postgres call, the keyset probed where it lies.
STRATA_FUNCTION(strata_keyset_lacks) {
  const Columns& c = ColumnsOf(fcinfo, 1);
  if (PG_ARGISNULL(0)) PG_RETURN_BOOL(true);  // no keyset: an empty tail
  // The view passes the keyset as an init-plan value: in memory, never compressed or out of line (a
  // pg::Call per row would cost a setjmp).
  auto* v = reinterpret_cast<struct varlena*>(PG_GETARG_POINTER(0));
  if (VARATT_IS_EXTENDED(v)) strata::pg::Call([&] { v = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0)); });
  const auto* buf = reinterpret_cast<const unsigned char*>(VARDATA_ANY(v));
  const unsigned char* aux = nullptr;
  if (const char* why = ks::Split(buf, VARSIZE_ANY_EXHDR(v), &aux))
    throw Error(ERRCODE_INVALID_PARAMETER_VALUE, std::string("invalid keyset: ") + why, "",
                "Pass a value made by strata.keyset_agg.");
  // A keyset of fewer columns than the key (keyset_agg of the first columns) matches on those.
  const int columns = ks::Columns(buf);
  if (columns > c.count)
    throw Error(ERRCODE_INVALID_PARAMETER_VALUE,
                "keyset has " + std::to_string(columns) + " key columns, the call passes " + std::to_string(c.count),
                "", "Pass the key columns the keyset was built from, in the same order.");
  if (PG_ARGISNULL(c.first)) PG_RETURN_BOOL(true);
  int64_t key[ks::kMaxKeysetColumns];
  for (int i = 0; i < columns; i++) {
    if (PG_ARGISNULL(c.first + i)) {
      // Held when its first column is in the second table (keys with a NULL after the first column).
      const int64_t first = strata::rollups::IntKeyValue(PG_GETARG_DATUM(c.first), c.type[0]);
      PG_RETURN_BOOL(aux == nullptr || !ks::Contains(aux, &first));
    }
    key[i] = strata::rollups::IntKeyValue(PG_GETARG_DATUM(c.first + i), c.type[i]);
  }
  PG_RETURN_BOOL(!ks::Contains(buf, key));
}
