// Guarded SPI: statements and queries of the current (sub)transaction, the arguments of a SQL-callable
// function and the row it returns. Every function here may throw PgError (see guard.hpp); none returns
// Postgres-owned memory to the caller except where it says so.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/guard.hpp"

namespace strata::pg {

using Row = std::vector<std::optional<std::string>>;

// SPI_connect / SPI_finish for the current (sub)transaction. No destructor: on error, transaction abort
// cleans up SPI (AtEOXact_SPI), so unwinding must not call SPI_finish.
void SpiConnect();
void SpiFinish();
// Runs a statement (utility or DML); returns rows processed.
uint64_t Exec(const std::string& sql);
// Runs a query with text parameters ($1..$n, NULL when nullopt) and returns its rows as text.
std::vector<Row> Query(const std::string& sql, const std::vector<std::optional<std::string>>& args = {});
// The same, read-only: with the active snapshot (no new one), as a STABLE function's queries read.
std::vector<Row> QueryReadOnly(const std::string& sql, const std::vector<std::optional<std::string>>& args = {});
// Runs a query returning one datum of the first row, first column (binary), or nullopt.
// The datum is copied into the memory context current before the call (for pass-by-reference types).
std::optional<Datum> QueryDatum(const std::string& sql, Oid* type_out);

// The composite result of a function returning a row (OUT parameters), built from text values (nullopt:
// NULL) in column order.
Datum RowResult(FunctionCallInfo fcinfo, const Row& values);
// The text argument n of a SQL function call, or nullopt for NULL.
std::optional<std::string> TextArg(FunctionCallInfo fcinfo, int n);

}  // namespace strata::pg
