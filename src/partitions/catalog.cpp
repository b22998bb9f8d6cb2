// Partition sets as strata stores them and as Postgres has them; see catalog.hpp.
#include "partitions/catalog.hpp"

#include <algorithm>
#include <cstdlib>

#include "config.hpp"
#include "core/error.hpp"
#include "core/naming.hpp"
#include "pg/spi.hpp"
#include "pg/names.hpp"

namespace strata::partitions {

using core::KeyKind;

KeyKind KindOf(Oid type) {
  switch (type) {
    case TIMESTAMPTZOID: return KeyKind::kTimestampTz;
    case TIMESTAMPOID: return KeyKind::kTimestamp;
    case DATEOID: return KeyKind::kDate;
    case INT4OID: return KeyKind::kInt32;
    case INT8OID: return KeyKind::kInt64;
    default:
      throw core::Error(ERRCODE_DATATYPE_MISMATCH, "partition key column has an unsupported type",
                        {}, "strata partitions on timestamptz, timestamp, date, bigint or integer columns.");
  }
}

core::Step ParseStep(KeyKind kind, const std::string& text, const std::string& param) {
  if (!core::IsTimeKind(kind)) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    while (end && *end == ' ') end++;
    if (errno != 0 || end == text.c_str() || *end != '\0')
      throw core::Error(ERRCODE_INVALID_PARAMETER_VALUE, "invalid " + param + " \"" + text + "\" for an integer column",
                        {}, param == "retention" ? "Give retention as a whole number of key values, for example 1000000."
                                                 : "Give a whole number of key values, for example 100000.");
    return core::MakeIntStep(kind, v, param);
  }
  // Postgres reads a bare number as seconds; a number given for a time column is a mistake.
  {
    char* end = nullptr;
    (void) std::strtoll(text.c_str(), &end, 10);
    while (end && *end == ' ') end++;
    if (end != text.c_str() && end && *end == '\0') (void) core::MakeIntStep(kind, 0, param);  // throws
  }
  Interval* iv = nullptr;
  const char* t = text.c_str();
  try {
    pg::Call([&] {
      iv = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(t), ObjectIdGetDatum(InvalidOid),
                                                 Int32GetDatum(-1)));
    });
  } catch (const pg::PgError& e) {
    // Postgres's words name the type, not the argument: say which argument, keep its SQLSTATE and words.
    throw core::Error(e.sqlstate(), "invalid " + param + " \"" + text + "\"", e.what(),
                      param == "retention" ? "Give retention as an interval, for example '90 days'."
                                           : "Give the partition width as an interval, for example '1 day'.");
  }
  return core::MakeTimeStep(kind, iv->month, iv->day, iv->time, param);
}

int64_t DatumToKey(Datum d, Oid type) {
  switch (type) {
    case TIMESTAMPTZOID:
    case TIMESTAMPOID: return DatumGetInt64(d);
    case DATEOID: {
      const DateADT v = DatumGetDateADT(d);
      if (DATE_NOT_FINITE(v)) return DATE_IS_NOBEGIN(v) ? core::MinKey(KeyKind::kDate) : core::MaxKey(KeyKind::kDate);
      return int64_t(v) * USECS_PER_DAY;
    }
    case INT4OID: return DatumGetInt32(d);
    case INT8OID: return DatumGetInt64(d);
    default: throw core::Error(ERRCODE_DATATYPE_MISMATCH, "unsupported partition key type");
  }
}

int64_t ParseKey(const std::string& text, Oid type) {
  Datum d = 0;
  const char* t = text.c_str();
  pg::Call([&] {
    Oid input, ioparam;
    getTypeInputInfo(type, &input, &ioparam);
    d = OidInputFunctionCall(input, const_cast<char*>(t), ioparam, -1);
  });
  return DatumToKey(d, type);
}

int64_t NowKey(KeyKind kind) {
  TimestampTz now = GetCurrentTimestamp();
  if (config::test_now != nullptr && config::test_now[0] != '\0') {
    const char* t = config::test_now;
    pg::Call([&] {
      now = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(t), ObjectIdGetDatum(InvalidOid),
                                                    Int32GetDatum(-1)));
    });
  }
  if (kind == KeyKind::kTimestampTz) return now;
  Datum local = 0;
  pg::Call([&] { local = DirectFunctionCall1(timestamptz_timestamp, TimestampTzGetDatum(now)); });
  return DatumGetTimestamp(local);
}

std::vector<SetRow> LoadSets(Oid only) {
  std::vector<SetRow> out;
  // parent::oid keeps working for dangling rows; the join skips tables dropped behind our back.
  const std::string sql =
      "SELECT s.parent::oid, s.control_column, s.key_type::oid, s.partition_interval, s.premake, s.retention, "
      "s.retention_keep_table, s.default_partition, NULL, s.partition_tablespace, s.enabled, "
      "n.nspname, c.relname "
      "FROM strata.partition_set s JOIN pg_catalog.pg_class c ON c.oid = s.parent "
      "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
      "WHERE $1::oid IS NULL OR s.parent = $1::oid ORDER BY s.parent::oid";
  std::optional<std::string> arg;
  if (OidIsValid(only)) arg = std::to_string(only);
  for (const auto& r : pg::Query(sql, {arg})) {
    SetRow s;
    s.parent = static_cast<Oid>(std::strtoul(r[0]->c_str(), nullptr, 10));
    s.column = *r[1];
    s.key_type = static_cast<Oid>(std::strtoul(r[2]->c_str(), nullptr, 10));
    s.interval_text = *r[3];
    s.spec.premake = std::atoi(r[4]->c_str());
    s.retention_text = r[5];
    s.spec.keep_detached = *r[6] == "t";
    s.spec.default_partition = *r[7] == "t";
    if (r[9]) s.tmpl.tablespace = *r[9];
    s.enabled = *r[10] == "t";
    s.spec.schema = *r[11];
    s.spec.parent = *r[12];
    s.spec.kind = KindOf(s.key_type);
    s.spec.step = ParseStep(s.spec.kind, s.interval_text, "partition_interval");
    if (s.retention_text) s.spec.retention = ParseStep(s.spec.kind, *s.retention_text, "retention");
    out.push_back(std::move(s));
  }
  // Options one per row (Postgres splits the array; out is ordered by parent, as is this query).
  if (!out.empty()) {
    size_t i = 0;
    for (const auto& r : pg::Query("SELECT s.parent::oid, o FROM strata.partition_set s, "
                                   "pg_catalog.unnest(s.partition_options) WITH ORDINALITY AS u(o, n) "
                                   "WHERE $1::oid IS NULL OR s.parent = $1::oid ORDER BY s.parent::oid, u.n",
                                   {arg})) {
      const Oid parent = static_cast<Oid>(std::strtoul(r[0]->c_str(), nullptr, 10));
      while (i < out.size() && out[i].parent < parent) i++;
      if (i < out.size() && out[i].parent == parent) out[i].tmpl.reloptions.push_back(*r[1]);
    }
  }
  return out;
}

namespace {

// The range of a partition bound at position i of the relcache's sorted bound array: indexes[i] is the
// partition whose upper bound is datums[i], so its lower bound is datums[i-1] (unbounded below for
// i == 0).
core::Range BoundRange(PartitionBoundInfo bi, int i, Oid key_type) {
  core::Range r;
  r.lo = (i == 0 || bi->kind[i - 1][0] == PARTITION_RANGE_DATUM_MINVALUE)
             ? INT64_MIN
             : (bi->kind[i - 1][0] == PARTITION_RANGE_DATUM_MAXVALUE ? INT64_MAX : DatumToKey(bi->datums[i - 1][0], key_type));
  r.hi = (i >= bi->ndatums || bi->kind[i][0] == PARTITION_RANGE_DATUM_MAXVALUE)
             ? INT64_MAX
             : (bi->kind[i][0] == PARTITION_RANGE_DATUM_MINVALUE ? INT64_MIN : DatumToKey(bi->datums[i][0], key_type));
  return r;
}

// The set's range partitions (with their names and pending detaches) and its default partition, from
// the parent's partition descriptor.
void ReadPartitions(PartitionDesc pd, Oid key_type, Facts* f) {
  PartitionBoundInfo bi = pd->boundinfo;
  std::vector<core::Range> ranges(pd->nparts);
  std::vector<bool> have(pd->nparts, false);
  if (bi != nullptr && bi->strategy == PARTITION_STRATEGY_RANGE) {
    for (int i = 0; i < bi->ndatums + 1 && i < bi->nindexes; i++) {
      const int p = bi->indexes[i];
      if (p < 0) continue;
      ranges[p] = BoundRange(bi, i, key_type);
      have[p] = true;
    }
    if (bi->default_index >= 0) f->default_oid = pd->oids[bi->default_index];
  }
  for (int p = 0; p < pd->nparts; p++) {
    if (!have[p]) continue;
    core::ExistingPartition e;
    e.id = pd->oids[p];
    e.range = ranges[p];
    e.name = pg::RelName(pd->oids[p]);
    e.schema = pg::RelSchema(pd->oids[p]);
    if (pd->detached_exist) {
      const Oid poid = pd->oids[p];
      bool pending = false;
      pg::Call([&] { pending = PartitionHasPendingDetach(poid); });
      e.detach_pending = pending;
    }
    f->state.partitions.push_back(std::move(e));
  }
  if (OidIsValid(f->default_oid)) {
    f->default_name = pg::RelName(f->default_oid);
    f->default_schema = pg::RelSchema(f->default_oid);
  }
}

// An integer set's data frontier: the largest key in the newest premake+1 partitions (pruning keeps
// the query to those partitions), outside the default partition; with none there, the frontier is
// below them and nothing is due.
std::optional<int64_t> IntegerFrontier(const SetRow& set, const Facts& f) {
  std::string sql = "SELECT max(" + core::QuoteIdent(set.column) + ") FROM " +
                    core::QualifiedName(set.spec.schema, set.spec.parent);
  const std::string not_default = OidIsValid(f.default_oid) ? "tableoid <> " + std::to_string(f.default_oid) : "";
  Oid t;
  if (f.state.partitions.empty()) {
    if (!not_default.empty()) sql += " WHERE " + not_default;
    if (auto d = pg::QueryDatum(sql, &t)) return DatumToKey(*d, set.key_type);
    return std::nullopt;
  }
  std::vector<core::Range> sorted;
  for (const auto& p : f.state.partitions) sorted.push_back(p.range);
  std::sort(sorted.begin(), sorted.end(), [](const core::Range& a, const core::Range& b) { return a.lo < b.lo; });
  const size_t from = sorted.size() > size_t(set.spec.premake) + 1 ? sorted.size() - set.spec.premake - 1 : 0;
  const core::Range& first = sorted[from];
  sql += " WHERE ";
  if (first.lo != INT64_MIN)
    sql += core::QuoteIdent(set.column) + " >= " + core::KeySql(set.spec.kind, first.lo);
  else
    sql += "true";
  if (!not_default.empty()) sql += " AND " + not_default;
  if (auto d = pg::QueryDatum(sql, &t)) return DatumToKey(*d, set.key_type);
  return first.lo == INT64_MIN ? first.hi - 1 : first.lo;
}

}  // namespace

Facts ReadFacts(const SetRow& set, bool wait_for_lock) {
  Facts f;
  f.state.partitions.reserve(64);
  bool locked = false;
  Relation rel = nullptr;
  PartitionDesc pd = nullptr;
  const Oid parent = set.parent;
  pg::Call([&] {
    // AccessShareLock only conflicts with ACCESS EXCLUSIVE; a worker never queues for it.
    if (wait_for_lock) {
      LockRelationOid(parent, AccessShareLock);
      locked = true;
    } else {
      locked = ConditionalLockRelationOid(parent, AccessShareLock);
    }
    if (!locked) return;
    rel = RelationIdGetRelation(parent);
    if (rel == nullptr) elog(ERROR, "could not open relation %u", parent);
    f.owner = rel->rd_rel->relowner;
    pd = RelationGetPartitionDesc(rel, false);
  });
  if (!locked) {
    f.locked_out = true;
    return f;
  }
  ReadPartitions(pd, set.key_type, &f);
  pg::Call([&] { RelationClose(rel); });
  if (core::IsTimeKind(set.spec.kind)) {
    f.state.reference = NowKey(set.spec.kind);
  } else if (const auto frontier = IntegerFrontier(set, f)) {
    f.state.reference = *frontier;
  }
  return f;
}

}  // namespace strata::partitions
