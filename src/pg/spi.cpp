// Guarded SPI queries, function-call arguments and row results; see spi.hpp.
#include "pg/spi.hpp"

namespace strata::pg {

void SpiConnect() {
  Call([] {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
  });
}

void SpiFinish() {
  Call([] { SPI_finish(); });
}

uint64_t Exec(const std::string& sql) {
  uint64_t n = 0;
  const char* q = sql.c_str();
  Call([&] {
    int rc = SPI_execute(q, false, 0);
    if (rc < 0) elog(ERROR, "SPI_execute failed (%d): %s", rc, q);
    n = SPI_processed;
  });
  return n;
}

namespace {
std::vector<Row> RunQuery(const std::string& sql, const std::vector<std::optional<std::string>>& args, bool read_only) {
  std::vector<Row> out;
  const int nargs = static_cast<int>(args.size());
  // Text parameters: Postgres resolves their types from the query (unknown-typed literals).
  std::vector<Oid> types(nargs, TEXTOID);
  std::vector<Datum> values(nargs);
  std::vector<char> nulls(nargs, ' ');
  const char* q = sql.c_str();
  uint64_t nrows = 0;
  int ncols = 0;
  Call([&] {
    for (int i = 0; i < nargs; i++) {
      if (args[i])
        values[i] = CStringGetTextDatum(args[i]->c_str());
      else
        nulls[i] = 'n';
    }
    int rc = SPI_execute_with_args(q, nargs, types.data(), values.data(), nulls.data(), read_only, 0);
    if (rc < 0) elog(ERROR, "SPI_execute_with_args failed (%d): %s", rc, q);
    nrows = SPI_processed;
    ncols = SPI_tuptable ? SPI_tuptable->tupdesc->natts : 0;
  });
  // Text of every cell in one guarded call (palloc'd in the caller's context), then C++ strings outside it.
  char** cells = nullptr;
  Call([&] {
    cells = static_cast<char**>(palloc(sizeof(char*) * (nrows * ncols + 1)));
    for (uint64_t r = 0; r < nrows; r++)
      for (int c = 0; c < ncols; c++) cells[r * ncols + c] = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c + 1);
  });
  out.reserve(nrows);
  for (uint64_t r = 0; r < nrows; r++) {
    Row row(ncols);
    for (int c = 0; c < ncols; c++)
      if (const char* v = cells[r * ncols + c]) row[c] = v;
    out.push_back(std::move(row));
  }
  return out;
}
}  // namespace

std::vector<Row> Query(const std::string& sql, const std::vector<std::optional<std::string>>& args) {
  return RunQuery(sql, args, false);
}

std::vector<Row> QueryReadOnly(const std::string& sql, const std::vector<std::optional<std::string>>& args) {
  return RunQuery(sql, args, true);
}

std::optional<Datum> QueryDatum(const std::string& sql, Oid* type_out) {
  const char* q = sql.c_str();
  bool isnull = true;
  Datum d = 0;
  MemoryContext const target = CurrentMemoryContext;
  Call([&] {
    // read_only = false: take a fresh snapshot, so rows changed earlier in this transaction are seen.
    int rc = SPI_execute(q, false, 1);
    if (rc < 0) elog(ERROR, "SPI_execute failed (%d): %s", rc, q);
    if (SPI_processed > 0) {
      TupleDesc td = SPI_tuptable->tupdesc;
      *type_out = SPI_gettypeid(td, 1);
      d = SPI_getbinval(SPI_tuptable->vals[0], td, 1, &isnull);
      if (!isnull) {
        int16 typlen;
        bool typbyval;
        get_typlenbyval(*type_out, &typlen, &typbyval);
        MemoryContext old = MemoryContextSwitchTo(target);
        d = datumCopy(d, typbyval, typlen);
        MemoryContextSwitchTo(old);
      }
    }
  });
  if (isnull) return std::nullopt;
  return d;
}

Datum RowResult(FunctionCallInfo fcinfo, const Row& values) {
  Datum result = 0;
  Call([&] {
    TupleDesc td;
    if (get_call_result_type(fcinfo, nullptr, &td) != TYPEFUNC_COMPOSITE) elog(ERROR, "return type must be a row type");
    AttInMetadata* meta = TupleDescGetAttInMetadata(td);
    char** cvals = static_cast<char**>(palloc0(sizeof(char*) * std::max<size_t>(values.size(), 1)));
    for (size_t i = 0; i < values.size(); i++) cvals[i] = values[i] ? pstrdup(values[i]->c_str()) : nullptr;
    result = HeapTupleGetDatum(BuildTupleFromCStrings(meta, cvals));
  });
  return result;
}

std::optional<std::string> TextArg(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n)) return std::nullopt;
  const char* s = nullptr;
  Call([&] { s = text_to_cstring(PG_GETARG_TEXT_PP(n)); });
  return std::string(s);
}

}  // namespace strata::pg
