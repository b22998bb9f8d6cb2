// SQL-callable functions of the vacuum scheduler: vacuum_plan() (dry run), set_vacuum_policy(),
// reset_vacuum_policy().
#include <cmath>
#include <string>

#include "core/error.hpp"
#include "core/naming.hpp"
#include "vacuum/scheduler.hpp"
#include "pg/security.hpp"
#include "pg/names.hpp"
#include "pg/spi.hpp"

namespace strata::vacuum {
namespace {

std::string Shown(Oid relid) { return core::QualifiedName(pg::RelSchema(relid), pg::RelName(relid)); }

// Refuses a target that is not a table or partitioned table, or that the caller does not own.
void CheckTarget(Oid relid) {
  char kind = 0;
  pg::Call([&] { kind = get_rel_relkind(relid); });
  if (kind == 0)
    throw core::Error(ERRCODE_UNDEFINED_TABLE, "relation with OID " + std::to_string(relid) + " does not exist");
  const std::string shown = Shown(relid);
  if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
    throw core::Error(ERRCODE_WRONG_OBJECT_TYPE, shown + " is not a table or partitioned table", {},
                      "Vacuum policies apply to tables and to partitioned tables (and through them to their partitions).");
  if (!pg::OwnsTable(relid))
    throw core::Error(ERRCODE_INSUFFICIENT_PRIVILEGE, "must be owner of table " + shown, {},
                      "Only the table's owner (or a superuser) may change how strata vacuums it.");
}

}  // namespace
}  // namespace strata::vacuum

using namespace strata;

// strata.vacuum_plan(): the plan the worker would run now, with facts and reasons, in order.
STRATA_FUNCTION(strata_vacuum_plan) {
  pg::Call([&] { InitMaterializedSRF(fcinfo, 0); });
  ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  pg::SpiConnect();
  if (!vacuum::CatalogExists())
    throw core::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "the vacuum scheduler needs strata 0.4.0 or later", {},
                      "Run ALTER EXTENSION strata UPDATE.");
  const vacuum::Snapshot snap = vacuum::ReadSnapshot(true);
  const auto plan = core::vacuum::PlanVacuum(snap.facts, snap.cfg);
  pg::SpiFinish();
  int priority = 0;
  for (const auto& a : plan) {
    const std::string action = core::vacuum::KindName(a.kind);
    const std::string decision = core::vacuum::DecisionName(a.decision);
    const std::string& rel = snap.facts[a.fact].name;
    const std::string& facts = snap.facts_json[a.fact];
    const int prio = ++priority;
    pg::Call([&] {
      Datum v[6];
      bool n[6] = {false, false, false, false, false, false};
      v[0] = Int32GetDatum(prio);
      v[1] = CStringGetTextDatum(action.c_str());
      v[2] = CStringGetTextDatum(rel.c_str());
      v[3] = CStringGetTextDatum(decision.c_str());
      v[4] = CStringGetTextDatum(a.reason.c_str());
      v[5] = DirectFunctionCall1(jsonb_in, CStringGetDatum(facts.c_str()));
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
    });
  }
  return (Datum) 0;
}

// strata.set_vacuum_policy(target, enabled, proactive_freeze, cold_after, analyze_fraction).
STRATA_FUNCTION(strata_set_vacuum_policy) {
  if (PG_ARGISNULL(0))
    throw core::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "target must not be null", {}, "Pass the table to configure.");
  const Oid relid = PG_GETARG_OID(0);
  const bool enabled = PG_ARGISNULL(1) ? true : PG_GETARG_BOOL(1);
  const bool freeze = PG_ARGISNULL(2) ? true : PG_GETARG_BOOL(2);
  std::optional<std::string> cold_after;
  if (!PG_ARGISNULL(3)) {
    const Interval* iv = PG_GETARG_INTERVAL_P(3);
    const double secs = double(iv->time) / 1e6 + double(iv->day) * 86400.0 + double(iv->month) * 30.0 * 86400.0;
    if (!(secs > 0))
      throw core::Error(ERRCODE_INVALID_PARAMETER_VALUE, "cold_after must be a positive interval", {},
                        "A partition not written for this long counts as cold, e.g. '6 hours'.");
    const Datum d = PG_GETARG_DATUM(3);
    const char* txt = nullptr;
    pg::Call([&] { txt = DatumGetCString(DirectFunctionCall1(interval_out, d)); });
    cold_after = std::string(txt);
  }
  std::optional<std::string> fraction;
  if (!PG_ARGISNULL(4)) {
    const double f = PG_GETARG_FLOAT8(4);
    if (!(f >= 0) || std::isinf(f))
      throw core::Error(ERRCODE_INVALID_PARAMETER_VALUE, "analyze_fraction must be a finite number >= 0", {},
                        "It is the share of a table's rows that must change before strata analyzes it, e.g. 0.05.");
    fraction = std::to_string(f);
  }
  pg::SpiConnect();
  vacuum::CheckTarget(relid);
  if (!vacuum::CatalogExists())
    throw core::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "the vacuum scheduler needs strata 0.4.0 or later", {},
                      "Run ALTER EXTENSION strata UPDATE.");
  pg::AsExtensionOwner([&] {
    pg::Query("INSERT INTO strata.vacuum_policy (relid, enabled, proactive_freeze, cold_after, analyze_fraction) "
              "VALUES ($1::oid::regclass, $2::bool, $3::bool, $4::interval, $5::float8) ON CONFLICT (relid) DO UPDATE SET "
              "enabled = EXCLUDED.enabled, proactive_freeze = EXCLUDED.proactive_freeze, cold_after = EXCLUDED.cold_after, "
              "analyze_fraction = EXCLUDED.analyze_fraction, updated_at = pg_catalog.now()",
              {std::to_string(relid), enabled ? "true" : "false", freeze ? "true" : "false", cold_after, fraction});
  });
  pg::SpiFinish();
  PG_RETURN_VOID();
}

// strata.reset_vacuum_policy(target): drops the override; true when there was one.
STRATA_FUNCTION(strata_reset_vacuum_policy) {
  const Oid relid = PG_GETARG_OID(0);
  pg::SpiConnect();
  vacuum::CheckTarget(relid);
  uint64_t n = 0;
  pg::AsExtensionOwner([&] {
    n = pg::Query("DELETE FROM strata.vacuum_policy WHERE relid = $1::oid::regclass RETURNING 1", {std::to_string(relid)})
            .size();
  });
  pg::SpiFinish();
  PG_RETURN_BOOL(n > 0);
}
