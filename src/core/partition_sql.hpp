// SQL text of every statement partition maintenance runs, free of Postgres. Every identifier is
// quoted with QuoteIdent and every value is a quoted literal, so no name can inject SQL.
#pragma once
#include "core/no_postgres.hpp"

#include <string>
#include <vector>

#include "core/keyspace.hpp"

namespace strata::core {

struct Grant {
  std::string grantee;  // role name; empty for PUBLIC
  std::string privilege;  // SELECT, INSERT, ...
  bool grantable = false;
};

// What a new partition gets besides its columns: settings Postgres does not propagate.
struct PartitionTemplate {
  std::vector<std::string> reloptions;  // "fillfactor=90", "autovacuum_enabled=false"
  std::string tablespace;               // empty: the default
  std::string owner;                    // empty: leave as created
  std::vector<Grant> grants;
};

struct TableRef {
  std::string schema;
  std::string name;
  std::string Sql() const;
};

// A key as a typed SQL constant: '2026-11-24 00:00:00+00'::timestamptz, 42.
std::string KeySql(KeyKind kind, int64_t key);
// FOR VALUES FROM (...) TO (...)
std::string BoundSpecSql(KeyKind kind, const Range& r);
// CREATE TABLE new (LIKE parent ...) WITH (...) TABLESPACE ...: a standalone table to be attached.
std::string CreateStandaloneSql(const TableRef& parent, const TableRef& part, const PartitionTemplate& t);
// ALTER TABLE ... OWNER TO and GRANTs from the template.
std::vector<std::string> OwnershipSql(const TableRef& part, const PartitionTemplate& t);
// ALTER TABLE parent ATTACH PARTITION part FOR VALUES ...
std::string AttachSql(const TableRef& parent, const TableRef& part, KeyKind kind, const Range& r);
// ALTER TABLE parent DETACH PARTITION part [CONCURRENTLY | FINALIZE]
enum class DetachMode { kBlocking, kConcurrently, kFinalize };
std::string DetachSql(const TableRef& parent, const TableRef& part, DetachMode mode);
std::string DropSql(const TableRef& part);
// LOCK TABLE t IN SHARE ROW EXCLUSIVE MODE: stops writers of the default partition, not readers.
std::string LockDefaultSql(const TableRef& def);
// Moves one range's rows out of the default partition into the standalone table, in one statement.
std::string MoveRowsSql(const TableRef& def, const TableRef& part, const std::string& key_column,
                        const std::vector<std::string>& columns, KeyKind kind, const Range& r);
// ALTER TABLE parent ATTACH PARTITION def DEFAULT (after CreateStandaloneSql and OwnershipSql, so the
// default partition gets the same template as every other partition).
std::string AttachDefaultSql(const TableRef& parent, const TableRef& def);

}  // namespace strata::core
