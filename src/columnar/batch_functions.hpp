// Postgres values <-> column batches (core/columnar/codec.hpp), for the batch functions and the
// compression of partitions.
#pragma once

#include "pg/postgres.hpp"

namespace strata::core::columnar {
struct Batch;
}

namespace strata::columnar {

// How a column type's values are read and stored (resolved once per type).
struct TypeLayout {
  Oid type = InvalidOid;
  int16 typlen = 0;
  bool byval = false;
  char align = 'i';
  uint8_t kind = 0;  // core::columnar::Kind
  bool is_float4 = false;
  uint32_t tag = 0;  // the batch's type tag: the base type's OID
};

// The layout of `type`; refused (0A000) for types without a length (cstring).
TypeLayout LayoutOf(Oid type);
// Appends n values (nulls may be null: none is NULL) to `batch`, detoasting varlenas.
void AddDatums(const TypeLayout& t, const Datum* values, const bool* nulls, int n, core::columnar::Batch* batch);
// Refuses (XX001, as MakeDatums does) a decoded integer batch with a value outside its type's range or a
// float4 batch with a value wider than 32 bits: for readers of the values that make no Datums.
void CheckFits(const TypeLayout& t, const core::columnar::Batch& batch);
// Fills values/nulls (batch.size() of each) with palloc'd Datums of the batch's values.
void MakeDatums(const TypeLayout& t, const core::columnar::Batch& batch, Datum* values, bool* nulls);

}  // namespace strata::columnar
