// The worker's one read of new rows per source: the rows of an order-value range staged once, in this
// backend's memory for the current transaction, and read in place by every due rollup of the source
// (an ephemeral named relation of the current SPI connection) instead of the source. See README.md in
// this folder ("One read per source").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rollups/catalog.hpp"

namespace strata::rollups {

// Stages the rows of the rollups' source with order values in (lo, hi], as the current role, keeping
// the columns any of the rollups' definition views reads. Sets *from to the name the statements of the
// current SPI connection read them by (with the source's column names and types); returns the number of
// rows staged. The rollups share their source and order column, and all have a definition view.
int64_t StageNewRows(const std::vector<Rollup>& rollups, int64_t lo, int64_t hi, std::string* from);
// Drops what StageNewRows kept (its memory also goes with the transaction).
void ReleaseStagedRows();

}  // namespace strata::rollups
