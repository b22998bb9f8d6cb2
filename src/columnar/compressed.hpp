// What other capabilities may know of compressed partitions (src/columnar/README.md): which they are.
// The vacuum scheduler leaves them alone (their heap is emptied and frozen at each conversion, and the
// worker compresses them again rather than vacuuming their heap part).
#pragma once

#include <string>

namespace strata::columnar {

// The compressed partitions of this database as an SQL literal of type oid[] ('{}' when none, or when
// strata's state table does not exist yet). May throw PgError.
std::string CompressedOidArray();

}  // namespace strata::columnar
