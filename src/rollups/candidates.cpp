// The rollups a query on a raw table could be answered from (candidates.hpp).
#include "rollups/candidates.hpp"

#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "rollups/catalog.hpp"

namespace strata::rollups {

CaptureMark CaptureOn(Oid relid) {
  CaptureMark mark;
  // RelationIdGetRelation returns NULL for a relation that is gone; no allocation that can fail.
  Relation rel = RelationIdGetRelation(relid);
  if (rel == nullptr) return mark;
  if (rel->trigdesc)
    for (int i = 0; i < rel->trigdesc->numtriggers; i++) {
      const char* name = rel->trigdesc->triggers[i].tgname;
      if (strncmp(name, "strata_changes_", 15) != 0) continue;
      mark.captured = true;
      const size_t len = strlen(name);
      if (len > 6 && strcmp(name + len - 6, "_trunc") == 0) mark.tracks_truncate = true;
    }
  RelationClose(rel);
  return mark;
}

std::vector<Candidate> CandidatesOf(Oid source, int max_staleness_s) {
  std::vector<pg::Row> rows;
  pg::AsExtensionOwner([&] {
    rows = pg::Query(
        "SELECT id, realtime, caught_up_at >= pg_catalog.now() - pg_catalog.make_interval(secs => $2::int), has_history, "
        "order_sequence::oid "
        "FROM strata.rollup WHERE source = $1::oid::pg_catalog.regclass AND source_rollup IS NULL ORDER BY id",
        {std::to_string(source), std::to_string(max_staleness_s)});
  });
  std::vector<Candidate> out;
  for (const auto& row : rows) {
    const Rollup r = LoadRollup(std::stoi(*row[0]), false);
    if (!r.missing.empty()) continue;
    Candidate c;
    c.id = r.id;
    c.name = r.view;
    c.view_oid = r.view_oid;
    c.data_oid = r.data_oid;
    c.realtime = *row[1] == "t";
    c.caught_up_within_staleness = row[2] && *row[2] == "t";
    c.has_history = *row[3] == "t";
    c.order_sequence = r.order_sequence;
    c.sequence_oid = row[4] ? static_cast<Oid>(std::stoul(*row[4])) : InvalidOid;
    c.watermark = r.watermark;
    c.cursor = r.cursor;
    c.grain = r.grain;
    c.pending_oid = r.pending_oid;
    c.spec = r.spec;
    out.push_back(std::move(c));
  }
  return out;
}

void ReadProgress(int id, int64_t* watermark, std::optional<int64_t>* cursor) {
  std::vector<pg::Row> rows;
  pg::AsExtensionOwner([&] {
    rows = pg::QueryReadOnly("SELECT watermark, backfill_cursor FROM strata.rollup WHERE id = $1::int", {std::to_string(id)});
  });
  if (rows.empty()) return;
  *watermark = rows[0][0] ? std::stoll(*rows[0][0]) : 0;
  *cursor = rows[0][1] ? std::optional<int64_t>(std::stoll(*rows[0][1])) : std::nullopt;
}

}  // namespace strata::rollups
