// The analytics node (README.md): a publishing primary's heartbeat, which tells an analytics node how
// complete its replicated data is.
#pragma once

#include <cstdint>

namespace strata::analytics {

// Writes this database's row of strata.heartbeat (now, the current WAL position) when that table is in
// a publication of this database and the last beat is strata.heartbeat_interval old; its own transaction.
// Call with no transaction open. Returns the milliseconds until the next beat is due (-1: not published,
// nothing to do until the next maintenance pass looks again). May throw.
int64_t Beat();

}  // namespace strata::analytics
