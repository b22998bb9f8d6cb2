// The rollups a query on a raw table could be answered from (candidates.hpp).
#include "rollups/candidates.hpp"

#include "core/naming.hpp"
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

namespace {

namespace rs = core::rollup;

// The measure of the parent that a child's measure over column `column` of the parent reads, composed:
// sum of counts is a count, sum of sums a sum, min of mins a min, merge of sketches the sketch; min/max
// of a dimension is that of the raw column. nullopt when the child's measure is not one of the raw rows.
std::optional<rs::Measure> ComposeMeasure(const rs::Spec& parent, const rs::Measure& m) {
  using K = rs::MeasureKind;
  const std::string column = core::UnquoteIdent(m.args);
  rs::Measure out = m;
  for (const auto& p : parent.measures) {
    if (p.name != column) continue;
    if (p.kind == K::kAvg) return std::nullopt;  // the view shows the average, not its sum and count
    out.args = p.args;
    if (m.kind == K::kSum && (p.kind == K::kCount || p.kind == K::kSum)) out.kind = p.kind;
    else if ((m.kind == K::kMin || m.kind == K::kMax) && p.kind == m.kind) out.kind = m.kind;
    else if (m.kind == K::kMerge && (p.kind == K::kHll || p.kind == K::kQsketch || p.kind == K::kTopk || p.kind == K::kMerge))
      out.kind = p.kind;
    else return std::nullopt;
    return out;
  }
  if (m.kind != K::kMin && m.kind != K::kMax) return std::nullopt;
  for (const auto& d : parent.dims)
    if (d.name == column) {
      out.args = d.expr;
      return out;
    }
  return std::nullopt;
}

// The child rollup as a candidate for the parent's raw table (Candidate::through).
Candidate Compose(const Candidate& parent, const Rollup& child) {
  Candidate c = parent;
  c.id = child.id;
  c.name = child.view;
  c.view_oid = child.view_oid;
  c.data_oid = child.data_oid;
  c.pending_oid = child.pending_oid;
  c.through.push_back({parent.spec.bucket_expr, parent.spec.pending_table, parent.pending_oid});
  const rs::Spec& k = child.spec;
  rs::Spec s = parent.spec;  // source, order and time columns, WHERE: the raw side's
  s.id = k.id;
  s.data_table = k.data_table;
  s.pending_table = k.pending_table;
  s.bucket_name = k.bucket_name;
  s.bucket_type = k.bucket_type;
  s.bucket_width = k.bucket_width;
  s.time_zone = k.time_zone;
  s.dims.clear();
  s.measures.clear();
  if (!k.where.empty()) c.refused = "a rollup of a rollup with a WHERE clause of its own";
  if (k.time_column != parent.spec.bucket_name)
    c.refused = "its bucket is not over the bucket of the rollup it reads";
  std::optional<std::string> bucket;
  for (const std::string& col : {k.time_column, core::QuoteIdent(k.time_column)})
    if (!bucket) bucket = rs::RenameBucketColumn(k.bucket_expr, col, core::QuoteIdent(parent.spec.time_column));
  if (!bucket) c.refused = "its bucket expression is not one routing reads";
  s.bucket_expr = bucket.value_or("");
  // Its dimensions that are the parent's, as the raw columns those are; measures composed.
  for (const auto& d : k.dims)
    for (const auto& pd : parent.spec.dims)
      if (pd.name == core::UnquoteIdent(d.expr)) s.dims.push_back({d.name, pd.expr});
  for (const auto& m : k.measures)
    if (const auto composed = ComposeMeasure(parent.spec, m)) s.measures.push_back(*composed);
  c.spec = std::move(s);
  return c;
}

}  // namespace

std::vector<Oid> RollupSources() {
  std::vector<pg::Row> rows;
  pg::AsExtensionOwner([&] {
    rows = pg::Query("SELECT DISTINCT source::pg_catalog.oid FROM strata.rollup WHERE source_rollup IS NULL ORDER BY 1");
  });
  std::vector<Oid> out;
  for (const auto& r : rows) out.push_back(static_cast<Oid>(std::stoul(*r[0])));
  return out;
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
    c.progress_id = r.id;
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
  // Rollups of rollups, level by level (a chain ends where a rollup has no readers; the catalog's
  // source_rollup references make it acyclic).
  for (size_t i = 0; i < out.size(); i++) {
    if (!out[i].refused.empty()) continue;
    std::vector<pg::Row> readers;
    pg::AsExtensionOwner([&] {
      readers = pg::Query("SELECT id, has_history FROM strata.rollup WHERE source_rollup = $1::int ORDER BY id",
                          {std::to_string(out[i].id)});
    });
    for (const auto& row : readers) {
      const Rollup r = LoadRollup(std::stoi(*row[0]), false);
      if (!r.missing.empty()) continue;
      Candidate c = Compose(out[i], r);
      c.has_history = c.has_history && *row[1] == "t";
      out.push_back(std::move(c));
    }
  }
  return out;
}

std::vector<Candidate> ViewCandidatesOf(Oid view) {
  std::vector<pg::Row> rows;
  pg::AsExtensionOwner([&] {
    rows = pg::Query("SELECT id FROM strata.rollup WHERE view = $1::oid::pg_catalog.regclass", {std::to_string(view)});
  });
  std::vector<Candidate> out;
  if (rows.empty()) return out;
  const Rollup viewed = LoadRollup(std::stoi(*rows[0][0]), false);
  if (!viewed.missing.empty()) return out;
  Candidate::Viewed v;
  v.id = viewed.id;
  v.view_oid = viewed.view_oid;
  v.data_table = viewed.spec.data_table;
  v.data_oid = viewed.data_oid;
  // A rollup of a rollup has a materialized-only view (its stored groups): no tail.
  v.tail = viewed.realtime && !viewed.source_rollup;
  v.raw_oid = v.tail ? viewed.source_oid : InvalidOid;
  v.watermark = viewed.watermark;
  v.spec = viewed.spec;
  // Row security on the raw table: the view applies the policies of its owner, a routed plan would
  // apply them as the planning role. Not routed, as for queries on the raw table.
  bool rls = false;
  if (v.tail)
    pg::Call([&] {
      HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(v.raw_oid));
      if (HeapTupleIsValid(tup)) {
        rls = ((Form_pg_class)GETSTRUCT(tup))->relrowsecurity;
        ReleaseSysCache(tup);
      }
    });
  std::vector<pg::Row> readers;
  pg::AsExtensionOwner([&] {
    readers = pg::Query("SELECT id, has_history FROM strata.rollup WHERE source_rollup = $1::int ORDER BY id",
                        {std::to_string(viewed.id)});
  });
  for (const auto& row : readers) {
    const Rollup r = LoadRollup(std::stoi(*row[0]), false);
    if (!r.missing.empty()) continue;
    Candidate c;
    c.id = r.id;
    c.progress_id = r.id;
    c.name = r.view;
    c.view_oid = r.view_oid;
    c.data_oid = r.data_oid;
    c.pending_oid = r.pending_oid;
    c.has_history = *row[1] == "t";
    c.spec = r.spec;
    if (!r.spec.where.empty()) c.refused = "a rollup of a rollup with a WHERE clause of its own";
    if (rls) c.refused = "row-level security is enabled on the raw table the view reads";
    c.viewed = v;
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<Oid> ViewedRollupViews() {
  std::vector<pg::Row> rows;
  pg::AsExtensionOwner([&] {
    rows = pg::QueryReadOnly("SELECT DISTINCT s.view::pg_catalog.oid FROM strata.rollup r JOIN strata.rollup s ON s.id = r.source_rollup");
  });
  std::vector<Oid> out;
  for (const auto& r : rows) out.push_back(static_cast<Oid>(std::stoul(*r[0])));
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

int64_t PendingBuckets(const Candidate& c, int64_t limit) {
  std::vector<pg::Row> rows;
  pg::AsExtensionOwner([&] {
    rows = pg::QueryReadOnly("SELECT count(*) FROM (SELECT FROM " + c.spec.pending_table + " LIMIT $1::bigint) p",
                             {std::to_string(limit)});
  });
  return rows.empty() || !rows[0][0] ? 0 : std::stoll(*rows[0][0]);
}

}  // namespace strata::rollups
