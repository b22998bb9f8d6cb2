// Shared Postgres glue of the sketch types: aggregate states as C++ objects in the aggregate memory
// context (destroyed by a reset callback), conversion between sketches and varlena values, and the
// text/binary I/O every sketch type has. Terms: a "state" is the transition value of an aggregate
// (internal), a "value" is a stored sketch (varlena holding the serialized, validated format).
#pragma once

#include <algorithm>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/sketch/bytes.hpp"
#include "pg/guard.hpp"
#include "pg/palloc_allocator.hpp"

extern "C" {
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/fmgrprotos.h"
}

namespace strata::aggregates {

using Alloc = pg::PallocAllocator<uint8_t>;

// The aggregate context of the current call; errors if called outside an aggregate.
inline MemoryContext AggContext(FunctionCallInfo fcinfo) {
  MemoryContext cxt = nullptr;
  if (!AggCheckCallContext(fcinfo, &cxt))
    throw core::Error(ERRCODE_FEATURE_NOT_SUPPORTED, "sketch transition function called outside an aggregate");
  return cxt;
}

// A sketch living in a memory context; its destructor runs when the context is reset or deleted.
template <class Sketch>
struct Held {
  Sketch sketch;
  MemoryContextCallback cb;
  explicit Held(Sketch&& s) : sketch(std::move(s)) {}
  static void Destroy(void* arg) noexcept { static_cast<Held*>(arg)->~Held(); }
};

// Sketch types whose every byte lives in the context they were made with (their members use the
// context's allocator and own nothing else): resetting the context frees them whole, so no destructor
// needs to run. Registering one per group would cost a callback and a pfree per buffer at the reset of a
// hash aggregation with hundreds of thousands of groups. Other types get their destructor registered.
template <class Sketch>
struct ContextOwned : std::false_type {};

// Places the sketch make(allocator) returns in cxt (registering its destructor with the context unless
// the type is ContextOwned).
template <class Sketch, class Make>
Sketch* Place(MemoryContext cxt, Make&& make) {
  if constexpr (ContextOwned<Sketch>::value) {
    void* mem = nullptr;
    pg::Call([&] { mem = MemoryContextAlloc(cxt, sizeof(Sketch)); });
    return new (mem) Sketch(make(Alloc(cxt)));
  }
  void* mem = nullptr;
  pg::Call([&] { mem = MemoryContextAlloc(cxt, sizeof(Held<Sketch>)); });
  auto* h = new (mem) Held<Sketch>(make(Alloc(cxt)));
  h->cb.func = &Held<Sketch>::Destroy;
  h->cb.arg = h;
  // Registering a callback only links a struct into the context: it cannot fail.
  MemoryContextRegisterResetCallback(cxt, &h->cb);
  return &h->sketch;
}

// Constructs a sketch in cxt from its parameters (the allocator is appended).
template <class Sketch, class... Args>
Sketch* NewIn(MemoryContext cxt, Args... args) {
  return Place<Sketch>(cxt, [&](const Alloc& a) { return Sketch(args..., a); });
}

// The bytes of a stored sketch value (detoasted).
inline std::pair<const uint8_t*, size_t> ValueBytes(Datum d) {
  struct varlena* v = nullptr;
  pg::Call([&] { v = PG_DETOAST_DATUM_PACKED(d); });
  return {reinterpret_cast<const uint8_t*>(VARDATA_ANY(v)), VARSIZE_ANY_EXHDR(v)};
}

// Reads and validates a sketch value into a new sketch in cxt.
template <class Sketch>
Sketch* FromValue(MemoryContext cxt, Datum d) {
  const auto [p, n] = ValueBytes(d);
  return Place<Sketch>(cxt, [&](const Alloc& a) { return Sketch::Deserialize(p, n, a); });
}

// Transition skeleton shared by the sketch aggregates: NULL values are skipped (no non-NULL value means
// a NULL result, as with SQL's own aggregates); the state is made on the first value by make(cxt),
// where the aggregate's parameters are checked; add(state) adds the current value.
template <class Sketch, class Make, class Add>
Datum TransStep(FunctionCallInfo fcinfo, Make&& make, Add&& add) {
  // A non-NULL internal state can only come from an earlier call of this aggregate (SQL cannot make
  // one), so the aggregate context is looked up (and checked) when the state is made.
  Sketch* s = PG_ARGISNULL(0) ? nullptr : reinterpret_cast<Sketch*>(PG_GETARG_POINTER(0));
  if (PG_ARGISNULL(1)) {
    if (s == nullptr) PG_RETURN_NULL();
    PG_RETURN_POINTER(s);
  }
  if (s == nullptr) s = make(AggContext(fcinfo));
  add(s);
  PG_RETURN_POINTER(s);
}

// The byte container sketches serialize into when producing a value: a palloc'd varlena in the current
// memory context that grows with repalloc, so the value is written in place (no intermediate vector,
// no copy). Offers what ByteWriter uses: push_back, insert at the end, reserve, size.
class VarlenaBuf {
 public:
  // Nothing is allocated until the first reserve or write: serializers reserve their size first, so a
  // value usually takes one palloc.
  VarlenaBuf() = default;
  size_t size() const { return len_; }
  uint8_t* end() { return Data() + len_; }
  void reserve(size_t n) {
    if (n > cap_) Grow(n);
  }
  void push_back(uint8_t b) {
    if (len_ == cap_) Grow(std::max<size_t>(64, cap_ * 2));
    Data()[len_++] = b;
  }
  void insert(uint8_t* /* end */, const uint8_t* first, const uint8_t* last) {
    const size_t n = static_cast<size_t>(last - first);
    if (len_ + n > cap_) Grow(std::max(cap_ * 2, len_ + n));
    memcpy(Data() + len_, first, n);
    len_ += n;
  }
  void insert(uint8_t* /* end */, size_t n, uint8_t value) {
    if (len_ + n > cap_) Grow(std::max(cap_ * 2, len_ + n));
    memset(Data() + len_, value, n);
    len_ += n;
  }
  Datum Finish() {
    if (p_ == nullptr) Grow(0);
    SET_VARSIZE(p_, VARHDRSZ + len_);
    return PointerGetDatum(p_);
  }

 private:
  uint8_t* Data() { return reinterpret_cast<uint8_t*>(p_) + VARHDRSZ; }
  void Grow(size_t cap) {
    // Values are bounded by the sketch's own limits; MaxAllocSize is checked by palloc itself.
    pg::Call([&] {
      p_ = p_ == nullptr ? static_cast<char*>(palloc(VARHDRSZ + cap)) : static_cast<char*>(repalloc(p_, VARHDRSZ + cap));
    });
    cap_ = cap;
  }
  char* p_ = nullptr;
  size_t len_ = 0, cap_ = 0;
};

template <class Sketch>
Datum ToValue(Sketch* s) {
  VarlenaBuf out;
  s->Serialize(&out);
  return out.Finish();
}

// Text form: \x followed by the hex of the serialized format (like bytea).
template <class Sketch>
Datum TextIn(FunctionCallInfo fcinfo) {
  const char* s = PG_GETARG_CSTRING(0);
  const size_t len = strlen(s);
  if (len < 2 || s[0] != '\\' || s[1] != 'x' || len % 2 != 0)
    throw core::Error(ERRCODE_INVALID_TEXT_REPRESENTATION, "invalid input syntax for a sketch", {},
                      "A sketch is written as \\x followed by hexadecimal digits.");
  std::vector<uint8_t> bytes((len - 2) / 2);
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < bytes.size(); i++) {
    const int hi = hex(s[2 + 2 * i]), lo = hex(s[3 + 2 * i]);
    if (hi < 0 || lo < 0)
      throw core::Error(ERRCODE_INVALID_TEXT_REPRESENTATION, "invalid hexadecimal digit in a sketch");
    bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  // Validates fully; stores the canonical re-serialization.
  Sketch sk = Sketch::Deserialize(bytes.data(), bytes.size(), Alloc(CurrentMemoryContext));
  return ToValue(&sk);
}

inline Datum TextOut(FunctionCallInfo fcinfo) {
  struct varlena* v = nullptr;
  pg::Call([&] { v = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0)); });
  const auto* p = reinterpret_cast<const uint8_t*>(VARDATA_ANY(v));
  const size_t n = VARSIZE_ANY_EXHDR(v);
  char* out = nullptr;
  pg::Call([&] { out = static_cast<char*>(palloc(3 + 2 * n)); });
  static const char digits[] = "0123456789abcdef";
  out[0] = '\\';
  out[1] = 'x';
  for (size_t i = 0; i < n; i++) {
    out[2 + 2 * i] = digits[p[i] >> 4];
    out[3 + 2 * i] = digits[p[i] & 15];
  }
  out[2 + 2 * n] = '\0';
  PG_RETURN_CSTRING(out);
}

template <class Sketch>
Datum BinaryRecv(FunctionCallInfo fcinfo) {
  StringInfo buf = reinterpret_cast<StringInfo>(PG_GETARG_POINTER(0));
  const auto* p = reinterpret_cast<const uint8_t*>(buf->data + buf->cursor);
  const size_t n = static_cast<size_t>(buf->len - buf->cursor);
  Sketch sk = Sketch::Deserialize(p, n, Alloc(CurrentMemoryContext));
  buf->cursor = buf->len;
  return ToValue(&sk);
}

inline Datum BinarySend(FunctionCallInfo fcinfo) {
  struct varlena* v = nullptr;
  pg::Call([&] { v = PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0)); });
  // The send form is the stored format itself, as bytea.
  return PointerGetDatum(v);
}

// serialfunc / deserialfunc for parallel aggregation: the stored format.
template <class Sketch>
Datum Serial(FunctionCallInfo fcinfo) {
  Sketch* s = reinterpret_cast<Sketch*>(PG_GETARG_POINTER(0));
  return ToValue(s);
}

template <class Sketch>
Datum Deserial(FunctionCallInfo fcinfo) {
  return PointerGetDatum(FromValue<Sketch>(AggContext(fcinfo), PG_GETARG_DATUM(0)));
}

// combinefunc: merges the second state into the first (either may be NULL).
template <class Sketch>
Datum Combine(FunctionCallInfo fcinfo) {
  (void) AggContext(fcinfo);
  Sketch* a = PG_ARGISNULL(0) ? nullptr : reinterpret_cast<Sketch*>(PG_GETARG_POINTER(0));
  Sketch* b = PG_ARGISNULL(1) ? nullptr : reinterpret_cast<Sketch*>(PG_GETARG_POINTER(1));
  if (b == nullptr) {
    if (a == nullptr) PG_RETURN_NULL();
    PG_RETURN_POINTER(a);
  }
  // States reaching a combine function were made by the transition or deserial function in the
  // aggregate context, so one can be returned as it is.
  if (a == nullptr) PG_RETURN_POINTER(b);
  a->Merge(*b);
  PG_RETURN_POINTER(a);
}

// merge(sketch) aggregate transition: state (internal) merged with one stored value.
template <class Sketch>
Datum MergeTrans(FunctionCallInfo fcinfo) {
  MemoryContext cxt = AggContext(fcinfo);
  Sketch* state = PG_ARGISNULL(0) ? nullptr : reinterpret_cast<Sketch*>(PG_GETARG_POINTER(0));
  if (PG_ARGISNULL(1)) {
    if (state == nullptr) PG_RETURN_NULL();
    PG_RETURN_POINTER(state);
  }
  if (state == nullptr) PG_RETURN_POINTER(FromValue<Sketch>(cxt, PG_GETARG_DATUM(1)));
  // Merge straight from the stored bytes: no per-row sketch object. (A value that fails validation
  // raises, and the aggregate's partial state is discarded with the query.)
  const auto [p, n] = ValueBytes(PG_GETARG_DATUM(1));
  state->MergeSerialized(p, n);
  PG_RETURN_POINTER(state);
}

// Two-argument merge of stored values (NULL-tolerant), for INSERT ... ON CONFLICT DO UPDATE.
template <class Sketch>
Datum MergeValues(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(0) && PG_ARGISNULL(1)) PG_RETURN_NULL();
  if (PG_ARGISNULL(0)) PG_RETURN_DATUM(PG_GETARG_DATUM(1));
  if (PG_ARGISNULL(1)) PG_RETURN_DATUM(PG_GETARG_DATUM(0));
  // The second value merges straight from its bytes (validated as it is read): one sketch object per
  // call, which matters in an ON CONFLICT upsert that merges every group of a batch.
  Sketch* a = FromValue<Sketch>(CurrentMemoryContext, PG_GETARG_DATUM(0));
  const auto [p, n] = ValueBytes(PG_GETARG_DATUM(1));
  a->MergeSerialized(p, n);
  return ToValue(a);
}

// finalfunc: the state as a stored value (NULL when no row was aggregated).
template <class Sketch>
Datum Final(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(0)) PG_RETURN_NULL();
  return ToValue(reinterpret_cast<Sketch*>(PG_GETARG_POINTER(0)));
}

}  // namespace strata::aggregates

// Declares the SQL functions every sketch type has (text and binary I/O, aggregate support, merges):
// strata_<name>_in/_out/_recv/_send/_final/_combine/_serial/_deserial/_merge_trans/_merge.
#define STRATA_SKETCH_FUNCTIONS(name, Type)                                                     \
  STRATA_FUNCTION(strata_##name##_in) { return ::strata::aggregates::TextIn<Type>(fcinfo); }    \
  STRATA_FUNCTION(strata_##name##_out) { return ::strata::aggregates::TextOut(fcinfo); }        \
  STRATA_FUNCTION(strata_##name##_recv) { return ::strata::aggregates::BinaryRecv<Type>(fcinfo); } \
  STRATA_FUNCTION(strata_##name##_send) { return ::strata::aggregates::BinarySend(fcinfo); }    \
  STRATA_FUNCTION(strata_##name##_final) { return ::strata::aggregates::Final<Type>(fcinfo); }  \
  STRATA_FUNCTION(strata_##name##_combine) { return ::strata::aggregates::Combine<Type>(fcinfo); } \
  STRATA_FUNCTION(strata_##name##_serial) { return ::strata::aggregates::Serial<Type>(fcinfo); } \
  STRATA_FUNCTION(strata_##name##_deserial) { return ::strata::aggregates::Deserial<Type>(fcinfo); } \
  STRATA_FUNCTION(strata_##name##_merge_trans) { return ::strata::aggregates::MergeTrans<Type>(fcinfo); } \
  STRATA_FUNCTION(strata_##name##_merge) { return ::strata::aggregates::MergeValues<Type>(fcinfo); }
