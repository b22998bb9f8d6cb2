// Key columns whose btree order and equality are those of their integer values (smallint, integer,
// bigint, date, timestamp, timestamptz), read as signed 64-bit integers: the refresh's in-memory key
// sort (materialize.cpp) and the real-time view's keysets (rollups/keyset.cpp) compare them that way.
#pragma once

#include "pg/postgres.hpp"

extern "C" {
#include "utils/date.h"
#include "utils/timestamp.h"
}

namespace strata::rollups {

inline bool IsIntKeyType(Oid type) {
  switch (type) {
    case INT2OID:
    case INT4OID:
    case INT8OID:
    case DATEOID:
    case TIMESTAMPOID:
    case TIMESTAMPTZOID: return true;
    default: return false;
  }
}

// The value of a non-NULL Datum of an IsIntKeyType type, widened with its sign.
inline int64 IntKeyValue(Datum v, Oid type) {
  switch (type) {
    case INT2OID: return DatumGetInt16(v);
    case INT4OID: return DatumGetInt32(v);
    case DATEOID: return DatumGetDateADT(v);
    default: return DatumGetInt64(v);  // int8, timestamp, timestamptz
  }
}

}  // namespace strata::rollups
