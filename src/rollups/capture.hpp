// A raw source's change capture, shared by every rollup reading it: one pair of statement triggers per
// relation of the source's tree (made by hooks), one statement per UPDATE or DELETE logging the changed
// buckets at each grain into strata.rollup_change, and each rollup's position in that log. See the
// design note (README.md in this folder, "One capture per source").
#pragma once

#include <cstdint>
#include <string>

#include "rollups/catalog.hpp"

namespace strata::rollups {

// The id of the source's capture (strata.rollup_source), made when missing.
// Whether strata.rollup_source has row_triggers (0.14.0): a database whose extension is not updated yet
// tracks every source with statement triggers.
bool RowTriggersInCatalog();

int CaptureIdOf(Oid source);
// The names of the capture's two triggers on each relation of the tree.
std::string CaptureTrigger(int capture_id, bool update);
// The name of a capture's BEFORE TRUNCATE statement trigger (logs the buckets of the rows a TRUNCATE removes).
std::string CaptureTruncateTrigger(int capture_id);

// Makes the rollup's bucket a grain of its source's capture and starts its position at the log's end.
// The caller holds a lock on the source and every relation of its tree that keeps writers out (SHARE
// ROW EXCLUSIVE), so no statement can log a change the rollup would then pass by.
void AttachCapture(int rollup_id, Oid source, const core::rollup::Spec& s);
// Locks the source and every relation of its tree in SHARE ROW EXCLUSIVE mode (strata.lock_timeout).
void LockSourceTree(Oid source);
// Forgets grains no rollup uses (with their log entries) and the capture of a source no rollup reads
// (its triggers dropped, as each table's owner); running writers re-plan their capture statement.
void SyncCaptures();
// After a rename of the source's columns: the rollup's grain takes its new bucket expression.
void FollowGrain(const Rollup& r, const core::rollup::Spec& now);

// The change log's high mark: every entry a statement logged so far has a position at most this.
int64_t ChangeLogEnd();
// Whether the log holds entries of the rollup's grain past its position, up to `upto`.
bool HasChanges(const Rollup& r, int64_t upto);
// Queues the buckets logged for the rollup in (change_pos, upto] in its pending table (each once) and
// moves r.change_pos to upto. Only after the writer wait: every statement that logged a position at
// most `upto` has then ended. The caller stores r.change_pos with the step, then calls TrimChangeLog.
void ConsumeChanges(Rollup& r, int64_t upto);
// Deletes the grain's entries every rollup of it has passed.
void TrimChangeLog(int grain);

// Before a relation leaves a captured source's tree by hand (DROP TABLE, DETACH PARTITION, NO INHERIT:
// `parent` InvalidOid) or enters it (ATTACH PARTITION, INHERIT: `parent` the relation it joins): logs the
// buckets of all its rows (its own tree's too) at every grain of the capture, as a TRUNCATE would, so
// its rollups' groups there are recomputed from the rows the source then has (recomputes read only
// absorbed rows: an entering relation's unabsorbed rows are still appended once). `locks`: the
// command's own locks, in its order, taken first, and only when the caller owns `target` (the table
// whose ownership the statement checks before it locks anything). Nothing for a relation that is a
// source itself. Retention's own detach and drop do not come here (retention.hpp).
void LogRelationRows(Oid rel, Oid parent, Oid target, const std::vector<std::pair<Oid, LOCKMODE>>& locks);
}  // namespace strata::rollups
