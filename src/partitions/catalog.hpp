// Partition sets as strata stores them (strata.partition_set) and as Postgres has them (relcache).
// Terms: a "set" is a range-partitioned parent table managed by strata; its "facts" are what exists now
// (partitions with their bounds, the default partition, where the data is).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/partition_plan.hpp"
#include "core/partition_sql.hpp"
#include "pg/postgres.hpp"

namespace strata::partitions {

struct SetRow {
  Oid parent = InvalidOid;
  std::string column;
  Oid key_type = InvalidOid;
  std::string interval_text;
  std::optional<std::string> retention_text;
  bool enabled = true;
  core::SetSpec spec;            // schema/parent names filled from the catalog
  core::PartitionTemplate tmpl;  // reloptions and tablespace; owner and grants filled when creating
};

struct Facts {
  bool locked_out = false;  // the parent could not be locked now (someone holds ACCESS EXCLUSIVE)
  Oid owner = InvalidOid;
  Oid default_oid = InvalidOid;
  std::string default_schema, default_name;
  core::SetState state;
};

// Key kind of a column type; throws core::Error (datatype mismatch) for unsupported types.
core::KeyKind KindOf(Oid type);
// Parses a partition interval or retention ("1 day", "100000") for a key kind; errors name `param`, the
// argument the text came from ("partition_interval" or "retention").
core::Step ParseStep(core::KeyKind kind, const std::string& text, const std::string& param);
// A key Datum of the column type as int64 (see core/keyspace.hpp).
int64_t DatumToKey(Datum d, Oid type);
// Parses a key value written as text in the column type ("2026-01-01", "5000").
int64_t ParseKey(const std::string& text, Oid type);
// The reference "now" for time kinds (UTC for timestamptz, server-local wall clock otherwise); the
// clock is strata.test_now when set.
int64_t NowKey(core::KeyKind kind);

// Loads set configuration (all sets, or one). Requires an SPI connection.
std::vector<SetRow> LoadSets(Oid only);
// Reads partitions and bounds from the relcache; computes the reference key (integer sets: one query
// over the newest partitions). Requires an SPI connection and a transaction.
Facts ReadFacts(const SetRow& set, bool wait_for_lock);

}  // namespace strata::partitions
