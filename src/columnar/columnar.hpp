// Compressed partitions (src/columnar/README.md): the build of a partition's batches, the conversion
// both ways, the read path and the utility hooks that keep every other command right about them.
#pragma once

#include <string>
#include <vector>

#include "pg/guard.hpp"

namespace strata::columnar {

// What BuildBatches made: the batch table and its layout (state.hpp's Compressed).
struct BuildResult {
  Oid sibling = InvalidOid;
  int64_t rows = 0, batches = 0;
  std::vector<AttrNumber> segment, batch;
  AttrNumber order = 0;
};

// Builds `leaf`'s rows (as the caller's snapshot and the read path see them) as batches in a new table
// `sibling`, in `sibling_schema` made by strata's owner, or beside the leaf as the caller's when
// sibling_schema is null. Within an SPI connection; the caller must own the leaf.
BuildResult BuildBatches(Oid leaf, const std::string* sibling_schema, const std::string& sibling,
                         const std::vector<std::string>& segment_by, const std::string& order_by);

// The outcome of a conversion, for the caller, job_runs and strata.compressed_partitions.
struct Conversion {
  bool done = false;  // false: nothing to do (already in that form)
  int64_t rows = 0, batches = 0, bytes_before = 0, bytes_after = 0;
  int attempts = 0;   // of the swap's lock
  std::string note;
};

// Compresses the partition (again, when rows were written or moved back since); within an SPI
// connection, in the caller's transaction. Settings: the partition set's compress_segment_by and
// compress_order_by, else the ones it was compressed with, else none and the set's control column.
Conversion Compress(Oid leaf);
// Moves every row back into the heap and drops the batches.
Conversion Decompress(Oid leaf);

// Drops a batch table (an extension member: released from the extension first); nothing if it is gone.
void DropSibling(Oid sibling);
// Deletes a partition's state row and sends the relcache invalidation that makes backends plan it as
// a heap. Within an SPI connection.
void ForgetState(Oid leaf);

const CustomScanMethods& ScanMethods();
// The aggregate mode of the scan (aggregate.cpp plans it; scan.cpp runs it).
const CustomScanMethods& AggScanMethods();
// Whether the path is the scan of a compressed partition (set_rel_pathlist_hook's).
bool IsScanPath(const Path* path);
// The scan's plan for `rel` with the quals `clauses` (RestrictInfos) and target list `tlist`; throws.
CustomScan* MakeScanPlan(PlannerInfo* root, RelOptInfo* rel, CustomPath* path, List* tlist, List* clauses);
void InitScan();
// Partial aggregation over batches: the planner's hooks (aggregate.cpp).
void InitAggregate();
// Lets the planner offer aggregation over batches for compressed partition `rel` (from
// get_relation_info_hook; throws).
void OfferAggregation(PlannerInfo* root, RelOptInfo* rel);
void InitUtility();

}  // namespace strata::columnar
