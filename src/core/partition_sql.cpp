// SQL text of partition maintenance; see partition_sql.hpp.
#include "core/partition_sql.hpp"

#include "core/naming.hpp"

namespace strata::core {
namespace {

std::string Literal(KeyKind kind, int64_t key) {
  const std::string lit = QuoteLiteral(KeyLiteral(kind, key));
  switch (kind) {
    case KeyKind::kTimestampTz: return lit + "::timestamptz";
    case KeyKind::kTimestamp: return lit + "::timestamp";
    case KeyKind::kDate: return lit + "::date";
    case KeyKind::kInt32:
    case KeyKind::kInt64: return KeyLiteral(kind, key);
  }
  return lit;
}

std::string ColumnList(const std::vector<std::string>& columns) {
  std::string out;
  for (size_t i = 0; i < columns.size(); i++) {
    if (i) out += ", ";
    out += QuoteIdent(columns[i]);
  }
  return out;
}

}  // namespace

std::string KeySql(KeyKind kind, int64_t key) { return Literal(kind, key); }

std::string TableRef::Sql() const { return QualifiedName(schema, name); }

std::string BoundSpecSql(KeyKind kind, const Range& r) {
  // Bound literals must be plain constants: casts of quoted literals are folded by Postgres.
  return "FOR VALUES FROM (" + Literal(kind, r.lo) + ") TO (" + Literal(kind, r.hi) + ")";
}

std::string CreateStandaloneSql(const TableRef& parent, const TableRef& part, const PartitionTemplate& t) {
  // INCLUDING CONSTRAINTS and GENERATED: ATTACH requires the parent's CHECK constraints and generated
  // columns on the partition. Indexes are left out: ATTACH builds the parent's indexes on the new,
  // empty table.
  std::string sql = "CREATE TABLE " + part.Sql() + " (LIKE " + parent.Sql() +
                    " INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE"
                    " INCLUDING COMMENTS INCLUDING COMPRESSION INCLUDING STATISTICS)";
  if (!t.reloptions.empty()) {
    sql += " WITH (";
    for (size_t i = 0; i < t.reloptions.size(); i++) {
      const std::string& opt = t.reloptions[i];
      const auto eq = opt.find('=');
      if (i) sql += ", ";
      // name is quoted as an identifier, value as a literal: reloption syntax accepts both.
      if (eq == std::string::npos) {
        sql += QuoteIdent(opt);
      } else {
        const std::string name = opt.substr(0, eq);
        const auto dot = name.find('.');
        if (dot == std::string::npos)
          sql += QuoteIdent(name);
        else
          sql += QuoteIdent(name.substr(0, dot)) + "." + QuoteIdent(name.substr(dot + 1));
        sql += " = " + QuoteLiteral(opt.substr(eq + 1));
      }
    }
    sql += ")";
  }
  if (!t.tablespace.empty()) sql += " TABLESPACE " + QuoteIdent(t.tablespace);
  return sql;
}

std::vector<std::string> OwnershipSql(const TableRef& part, const PartitionTemplate& t) {
  std::vector<std::string> out;
  if (!t.owner.empty()) out.push_back("ALTER TABLE " + part.Sql() + " OWNER TO " + QuoteIdent(t.owner));
  for (const auto& g : t.grants) {
    std::string sql = "GRANT " + g.privilege + " ON " + part.Sql() + " TO " +
                      (g.grantee.empty() ? std::string("PUBLIC") : QuoteIdent(g.grantee));
    if (g.grantable) sql += " WITH GRANT OPTION";
    out.push_back(std::move(sql));
  }
  return out;
}

std::string AttachSql(const TableRef& parent, const TableRef& part, KeyKind kind, const Range& r) {
  return "ALTER TABLE " + parent.Sql() + " ATTACH PARTITION " + part.Sql() + " " + BoundSpecSql(kind, r);
}

std::string DetachSql(const TableRef& parent, const TableRef& part, DetachMode mode) {
  std::string sql = "ALTER TABLE " + parent.Sql() + " DETACH PARTITION " + part.Sql();
  if (mode == DetachMode::kConcurrently) sql += " CONCURRENTLY";
  if (mode == DetachMode::kFinalize) sql += " FINALIZE";
  return sql;
}

std::string DropSql(const TableRef& part) { return "DROP TABLE " + part.Sql(); }

std::string LockDefaultSql(const TableRef& def) {
  return "LOCK TABLE " + def.Sql() + " IN SHARE ROW EXCLUSIVE MODE";
}

std::string MoveRowsSql(const TableRef& def, const TableRef& part, const std::string& key_column,
                        const std::vector<std::string>& columns, KeyKind kind, const Range& r) {
  const std::string cols = ColumnList(columns);
  const std::string key = QuoteIdent(key_column);
  return "WITH moved AS (DELETE FROM ONLY " + def.Sql() + " WHERE " + key + " >= " + Literal(kind, r.lo) +
         " AND " + key + " < " + Literal(kind, r.hi) + " RETURNING " + cols + ") INSERT INTO " +
         part.Sql() + " (" + cols + ") SELECT " + cols + " FROM moved";
}

std::string AttachDefaultSql(const TableRef& parent, const TableRef& def) {
  return "ALTER TABLE " + parent.Sql() + " ATTACH PARTITION " + def.Sql() + " DEFAULT";
}

}  // namespace strata::core
