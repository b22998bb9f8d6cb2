// A partition set's figures for ingest health (figures.hpp), and strata._partition_set_figures().
#include "partitions/figures.hpp"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/naming.hpp"
#include "pg/guard.hpp"
#include "pg/names.hpp"
#include "pg/spi.hpp"

namespace strata::partitions {
namespace {

// A set's partitions (oid and lower bound; 0 for one created this pass) and its default partition.
struct Layout {
  std::vector<std::pair<Oid, int64_t>> partitions;
  Oid default_oid = InvalidOid;
};

// Worker-lifetime: what the last partition pass read, valid until a health pass used it.
std::vector<SetRow> pass_sets;
std::map<Oid, Layout> pass_layouts;
bool pass_valid = false;

Layout LayoutOf(const Facts& f) {
  Layout l;
  l.partitions.reserve(f.state.partitions.size());
  for (const auto& p : f.state.partitions) l.partitions.emplace_back(static_cast<Oid>(p.id), p.range.lo);
  l.default_oid = f.default_oid;
  return l;
}

// The statistics' counters of one table (zero when it has none: never written, or dropped since);
// returns its rows (live, or inserted minus deleted before the first vacuum or analyze counted them).
int64_t AddCounters(Oid relid, TableCounters* c) {
  int64_t rows = 0;
  pg::Call([&] {
    // PostgreSQL 16 renames n_live_tuples / n_dead_tuples to live_tuples / dead_tuples.
    PgStat_StatTabEntry* e = pgstat_fetch_stat_tabentry(relid);
    if (e == nullptr) return;
    c->inserted += e->tuples_inserted;
    c->updated += e->tuples_updated;
    c->deleted += e->tuples_deleted;
    c->dead += e->n_dead_tuples;
    c->live += e->n_live_tuples;
    rows = e->n_live_tuples > 0 ? e->n_live_tuples : e->tuples_inserted - e->tuples_deleted;
  });
  return rows;
}

// The rows of a default partition: 0 when it has no page (the normal case: nothing read), else counted
// (it should be small) under a lock taken only if that needs no wait; none when the lock was not free.
std::optional<int64_t> DefaultRows(Oid def) {
  bool locked = false, empty = false;
  pg::Call([&] {
    locked = ConditionalLockRelationOid(def, AccessShareLock);
    if (!locked) return;
    Relation d = RelationIdGetRelation(def);
    if (d != nullptr) {
      empty = RelationGetNumberOfBlocks(d) == 0;
      RelationClose(d);
    } else {
      empty = true;  // dropped since the layout was read
    }
  });
  if (!locked) return std::nullopt;
  int64_t rows = 0;
  if (!empty) {
    const auto r = pg::Query("SELECT count(*) FROM ONLY " + core::QualifiedName(pg::RelSchema(def), pg::RelName(def)));
    rows = std::stoll(*r[0][0]);
  }
  pg::Call([&] { UnlockRelationOid(def, AccessShareLock); });
  return rows;
}

SetFigures FiguresOf(const SetRow& set, const Layout& l) {
  SetFigures out;
  out.parent = set.parent;
  out.premake = set.spec.premake;
  int64_t newest_lo = INT64_MIN;
  bool any_rows = false;
  for (const auto& [oid, lo] : l.partitions)
    if (OidIsValid(oid) && AddCounters(oid, &out.counters) > 0 && lo > newest_lo) {
      newest_lo = lo;
      any_rows = true;
    }
  if (OidIsValid(l.default_oid)) {
    AddCounters(l.default_oid, &out.counters);
    out.default_rows = DefaultRows(l.default_oid);
  }
  if (any_rows) {
    int ahead = 0;
    for (const auto& p : l.partitions)
      if (p.second > newest_lo) ahead++;
    out.partitions_ahead = ahead;
  }
  return out;
}

}  // namespace

void ForgetPassLayouts() {
  pass_sets.clear();
  pass_layouts.clear();
  pass_valid = false;
}

void RememberPassSets(const std::vector<SetRow>& sets) {
  pass_sets = sets;
  pass_valid = true;
}

void RememberPassLayout(const SetRow& set, const Facts& facts) {
  if (pass_valid && !facts.locked_out) pass_layouts[set.parent] = LayoutOf(facts);
}

std::vector<SetFigures> ReadFigures(bool reuse_pass, std::vector<Oid>* left_out) {
  const bool reuse = reuse_pass && pass_valid;
  const std::vector<SetRow> sets = reuse ? pass_sets : LoadSets(InvalidOid);
  std::vector<SetFigures> out;
  out.reserve(sets.size());
  for (const auto& set : sets) {
    const auto known = reuse ? pass_layouts.find(set.parent) : pass_layouts.end();
    if (known != pass_layouts.end()) {
      out.push_back(FiguresOf(set, known->second));
      continue;
    }
    const Facts f = ReadFacts(set, false);
    if (f.locked_out) {
      if (left_out != nullptr) left_out->push_back(set.parent);
      continue;
    }
    // Only the relation cache was read under the lock: let it go now (a pass over many sets would
    // otherwise hold one per set to its end).
    pg::Call([&] { UnlockRelationOid(set.parent, AccessShareLock); });
    out.push_back(FiguresOf(set, LayoutOf(f)));
  }
  if (reuse) ForgetPassLayouts();  // used once: the next health pass without a partition pass reads afresh
  return out;
}

TableCounters TreeCounters(Oid relid) {
  TableCounters c;
  List* tree = NIL;
  // No lock: a health check must not queue behind the DDL it is to report.
  pg::Call([&] { tree = find_all_inheritors(relid, NoLock, nullptr); });
  ListCell* lc;
  foreach (lc, tree) AddCounters(lfirst_oid(lc), &c);
  return c;
}

}  // namespace strata::partitions

// strata._partition_set_figures(): every set's figures as the health pass reads them (read afresh). As
// the extension's owner only (not granted to PUBLIC).
STRATA_FUNCTION(strata_partition_set_figures) {
  strata::pg::Call([&] { InitMaterializedSRF(fcinfo, 0); });
  strata::pg::SpiConnect();
  const std::vector<strata::partitions::SetFigures> figs = strata::partitions::ReadFigures(false, nullptr);
  strata::pg::Call([&] {
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    for (const auto& f : figs) {
      Datum values[8] = {ObjectIdGetDatum(f.parent), Int64GetDatum(f.counters.inserted),
                         Int64GetDatum(f.counters.updated), Int64GetDatum(f.counters.deleted),
                         Int64GetDatum(f.counters.dead), Int64GetDatum(f.counters.live),
                         Int32GetDatum(f.partitions_ahead.value_or(0)), Int64GetDatum(f.default_rows.value_or(0))};
      bool nulls[8] = {false, false, false, false, false, false, !f.partitions_ahead, !f.default_rows};
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
  });
  strata::pg::SpiFinish();
  return (Datum)0;
}
