// A raw source's hooks: change triggers on every relation of its tree, the order column's default, the
// definition view and the guarded change function; following the source's DDL (renamed columns,
// relations attached or created in the tree); bringing rollups made before 0.9.0 up to date.
#pragma once

#include <string>

#include "rollups/catalog.hpp"

namespace strata::rollups {

// Creates the source's capture triggers (and, where identity is not inherited, the order column's
// default) on every relation of its tree lacking them; returns how many relations it changed. A
// relation given triggers after rows were absorbed queues, for every rollup of the source, the buckets
// of its rows that rollup's watermark has passed.
// `queue_new` false: the relations given triggers now were tracked otherwise until now (the move of a
// rollup from its own triggers to the capture, under the same lock): nothing is queued for them.
int EnsureSourceHooks(Oid source, const std::string& order_column, const std::string& sequence, bool queue_new = true);
inline int EnsureSourceHooks(const Rollup& r) {
  return EnsureSourceHooks(r.source_oid, r.spec.order_column, r.order_sequence);
}
// The body of EnsureSourceHooks, without marking strata's own DDL (for the ALTER TABLE event trigger,
// which marks it itself).
int EnsureSourceHooksNow(Oid source, const std::string& order_column, const std::string& sequence, bool queue_new = true);

// Gives the pending table of a rollup of a rollup to the extension's owner, with SELECT, INSERT and DELETE
// for the current user (the rollup's creator) and INSERT for `source_owner` (whose refresh queues buckets).
void ShareDependentPending(const std::string& pending, Oid source_owner);
// Makes the definition view (a qualified name) depend on the extension.
void ProtectDefinition(const std::string& definition);
// Brings a rollup made before 0.9.0 up to date, once, outside the extension's update script: its pending
// table takes NULL, a raw-source rollup gets its definition view (dropped with the extension), a rollup
// of a rollup's pending table passes to the extension's owner. Does nothing for a rollup already up to
// date (one catalog query).
void ProtectLegacy(Rollup& r);

// Reads the current names of the source columns the rollup uses from its definition view (they follow
// renames) and, when any changed, rewrites the stored SQL (catalog) and the change function. Returns
// whether anything changed. Needs search_path pinned (PinSessionForRollupSql).
bool FollowSource(Rollup& r, bool quiet = false);
// The ALTER/CREATE TABLE event trigger's work (see strata._on_alter_table).
void OnAlterTable();

}  // namespace strata::rollups
