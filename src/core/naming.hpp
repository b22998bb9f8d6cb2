// Names and quoting for generated SQL, free of Postgres.
// A partition is named <parent>_<suffix> (suffix from keyspace.hpp). Postgres truncates identifiers at
// 63 bytes, so a long parent name is cut at a character boundary and tagged with a hash of the full
// name, keeping names unique and predictable for any parent name.
#pragma once
#include "core/no_postgres.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace strata::core {

inline constexpr size_t kMaxIdentifierBytes = 63;  // NAMEDATALEN - 1

// Always-quoted SQL identifier: "name" with embedded double quotes doubled. Always quoting is valid
// SQL for every name, keywords included, so generated statements never depend on a keyword list.
std::string QuoteIdent(std::string_view ident);
// A column name as Postgres deparses it ("Name" when it must be quoted, name otherwise) read back:
// the quotes removed and doubled quotes undone. Text that is not one identifier is returned as it is.
std::string UnquoteIdent(std::string_view deparsed);
// schema.name, both quoted.
std::string QualifiedName(std::string_view schema, std::string_view name);
// Quoted SQL string literal: 'text' with embedded single quotes doubled (standard_conforming_strings).
std::string QuoteLiteral(std::string_view text);
// <parent>_<suffix>, fitted into 63 bytes.
std::string PartitionName(std::string_view parent, std::string_view suffix);
// JSON string literal with escapes ("a\"b").
std::string JsonString(std::string_view s);
// 32-bit FNV-1a, stable across platforms (used for name tags and jitter seeds).
uint32_t Fnv1a32(std::string_view s);

}  // namespace strata::core
