// All that src/routing may include from rollups: the rollups that could answer a query on a raw table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/rollup_sql.hpp"
#include "pg/postgres.hpp"

namespace strata::rollups {

struct Candidate {
  int id = 0;
  std::string name;        // the rollup (its view), as regclass text
  // A rollup of a rollup is a candidate for its raw table through the chain of rollups it reads: its
  // spec is written in the raw table's terms (its dimensions and measures as the raw columns and
  // aggregates they amount to, its bucket over the raw time column). `progress_id` is the first rollup
  // of the chain (the one reading the raw table: watermark, cursor, change position, frozen cutoff);
  // `through` holds the bucket expression, pending table and its oid of every rollup between, raw side first.
  int progress_id = 0;
  struct Through {
    std::string bucket_expr;  // over the raw time column
    std::string pending_table;
    Oid pending_oid = InvalidOid;
  };
  std::vector<Through> through;
  std::string refused;  // a rollup of a rollup routing cannot read (e.g. its own WHERE): why; "" otherwise
  Oid view_oid = InvalidOid;
  Oid data_oid = InvalidOid;
  bool realtime = true;
  bool caught_up_within_staleness = false;
  bool has_history = true;  // rollup.has_history
  std::string order_sequence;  // the order column's sequence, qualified
  Oid sequence_oid = InvalidOid;  // materialized-only rollups: caught up within strata.routing_max_staleness
  // Progress at planning time: the watermark only rises and the backfill cursor only falls (then stays
  // NULL), so a plan may bound the rows a rollup lacks by these values as well as by the live ones.
  int64_t watermark = 0;
  std::optional<int64_t> cursor;
  std::optional<int> grain;  // its grain in the source's change log
  Oid pending_oid = InvalidOid;
  core::rollup::Spec spec;
  // A candidate for queries on the view of the rollup it reads (ViewCandidatesOf): the rollup of a
  // rollup with its own spec (over the viewed rollup's columns), and what the viewed rollup's view reads.
  struct Viewed {
    int id = 0;
    Oid view_oid = InvalidOid;
    std::string data_table;  // qualified
    Oid data_oid = InvalidOid;
    Oid raw_oid = InvalidOid;  // the raw table its tail is read from (none for a materialized-only view)
    bool tail = false;         // its view adds its unabsorbed rows (core::rollup::TailSql)
    int64_t watermark = 0;     // when loaded (a planner reads it again: ReadProgress(id))
    core::rollup::Spec spec;   // its own
  };
  std::optional<Viewed> viewed;
};

// Whether a relation carries strata's change capture, and whether its capture logs TRUNCATE too (made
// by 0.11.0 and later), read from the relation's trigger names in its relation cache entry. Cannot ERROR
// for a relation the caller has locked (the planner hook calls it outside the guard layer).
struct CaptureMark {
  bool captured = false;
  bool tracks_truncate = false;
};
CaptureMark CaptureOn(Oid relid);

// The raw tables that rollups read (directly), by oid.
std::vector<Oid> RollupSources();
// The rollups whose source is the raw table `source`, then the rollups of those rollups (composed, see
// Candidate::through), by id within each level.
std::vector<Candidate> CandidatesOf(Oid source, int max_staleness_s);
// The rollups that read the rollup whose view is `view` (directly), each with its own spec and the
// viewed rollup's parts (Candidate::viewed); empty when `view` is no rollup's view.
std::vector<Candidate> ViewCandidatesOf(Oid view);
// The views of the rollups that other rollups read (the views ViewCandidatesOf has candidates for).
std::vector<Oid> ViewedRollupViews();
// The rollup's watermark and backfill cursor as the active snapshot sees them: the state a plan made now
// is executed in, or a later one (the watermark only rises, the cursor only falls), never an earlier one.
void ReadProgress(int id, int64_t* watermark, std::optional<int64_t>* cursor);
// The buckets waiting in the candidate's pending table, counted up to `limit`, as the active snapshot
// sees them (a rollup of a rollup reads each of them raw: many make it a poor choice, however small it is).
int64_t PendingBuckets(const Candidate& c, int64_t limit);

}  // namespace strata::rollups
