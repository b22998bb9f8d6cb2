// strata._columnar_build(leaf, sibling, segment_by, order_by): a table's rows as column batches in a new
// table beside it (the conversion's build step, docs/rfcs/columnar.md section 5; nothing reads the new
// table yet). Rows are read in (segment_by, order_by) order, cut into batches of at most 1,000 rows of one
// segment value, and written one row per batch: the segment columns as they are, the row count, the
// order column's min and max, and every other column as one batch (bytea, STORAGE EXTERNAL: already
// compressed, never again by TOAST).
//
// Transaction: one, the caller's. Memory: a context per fetched chunk of rows (reset per chunk) and one
// per batch (reset per batch); the values of a batch are held by the codecs' C++ batches until written.
// The C++ objects live in this function's frame; every Postgres call is a short pg::Call.
// The core first: it refuses to be included after Postgres headers.
#include "core/columnar/codec.hpp"
#include "core/naming.hpp"

#include "columnar/batch_functions.hpp"
#include "columnar/columnar.hpp"
#include "pg/guard.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"

namespace strata::columnar {
namespace {

namespace col = core::columnar;

constexpr int kBatchRows = 1000;
constexpr long kFetchRows = 10000;
const char* const kMeta[] = {"_strata_rows", "_strata_min", "_strata_max"};

struct Column {
  std::string name, type_sql;
  AttrNumber attnum = 0;
  Oid type = InvalidOid;
  bool segment = false, order = false;
  TypeLayout layout;
};

[[noreturn]] void Refuse(int sqlstate, const std::string& message, const std::string& hint = {}) {
  throw core::Error(sqlstate, message, {}, hint);
}

// The leaf's columns, segment columns first (in segment_by's order), then the others in attnum order.
std::vector<Column> ReadColumns(Oid leaf, const std::vector<std::string>& segment_by, const std::string& order_by) {
  std::vector<Column> all;
  // Type names as format_type gives them (qualified unless in pg_catalog: the function runs with
  // search_path = pg_catalog), with the column's collation when it is not the type's.
  for (const auto& r : pg::Query("SELECT a.attname, a.atttypid::pg_catalog.int8::text, a.attnum::text, pg_catalog.format_type(a.atttypid, a.atttypmod) || "
                                 "COALESCE((SELECT ' COLLATE ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(co.collname) "
                                 "FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace n ON n.oid = co.collnamespace "
                                 "WHERE co.oid = a.attcollation AND a.attcollation <> t.typcollation), '') "
                                 "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
                                 "WHERE a.attrelid = $1::pg_catalog.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                                 {std::to_string(leaf)})) {
    Column c;
    c.name = *r[0];
    c.type = Oid(std::stoul(*r[1]));
    c.attnum = AttrNumber(std::stoi(*r[2]));
    c.type_sql = *r[3];
    for (const char* m : kMeta)
      if (c.name == m)
        Refuse(core::sqlstate::kFeatureNotSupported, "column " + c.name + " has a name strata's batches use",
               "Rename the column.");
    c.order = c.name == order_by;
    all.push_back(std::move(c));
  }
  std::vector<Column> out;
  for (const std::string& s : segment_by) {
    auto it = std::find_if(all.begin(), all.end(), [&](const Column& c) { return c.name == s; });
    if (it == all.end()) Refuse(core::sqlstate::kInvalidParameterValue, "segment_by names no column: " + s);
    if (it->segment) Refuse(core::sqlstate::kInvalidParameterValue, "segment_by names a column twice: " + s);
    it->segment = true;
    out.push_back(*it);
  }
  if (!order_by.empty() && std::none_of(all.begin(), all.end(), [](const Column& c) { return c.order; }))
    Refuse(core::sqlstate::kInvalidParameterValue, "order_by names no column: " + order_by);
  if (std::any_of(all.begin(), all.end(), [](const Column& c) { return c.order && c.segment; }))
    Refuse(core::sqlstate::kInvalidParameterValue, "order_by names a segment_by column: " + order_by,
           "Within a batch the segment columns hold one value; order by another column.");
  for (const Column& c : all)
    if (!c.segment) out.push_back(c);
  for (Column& c : out) c.layout = LayoutOf(c.type);
  return out;
}

}  // namespace

BuildResult BuildBatches(Oid leaf, const std::string* sibling_schema, const std::string& sibling,
                         const std::vector<std::string>& segment_by, const std::string& order_by) {
  BuildResult out;
  const auto rel = pg::Query("SELECT c.relkind::text, n.nspname::text, c.relname::text, c.relforcerowsecurity::text "
                             "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                             "WHERE c.oid = $1::pg_catalog.oid",
                             {std::to_string(leaf)});
  if (rel.empty()) throw core::Error(core::sqlstate::kInvalidParameterValue, "no such table");
  const std::string schema = core::QuoteIdent(*rel[0][1]), source = schema + "." + core::QuoteIdent(*rel[0][2]);
  if (*rel[0][0] != "r")
    throw core::Error(core::sqlstate::kFeatureNotSupported, source + " is not a table", {},
                      "Batches are built from a plain table or a leaf partition.");
  if (!pg::OwnsTable(leaf)) throw core::Error(ERRCODE_INSUFFICIENT_PRIVILEGE, "must be owner of table " + source);
  if (*rel[0][3] == "true")
    throw core::Error(core::sqlstate::kFeatureNotSupported, source + " forces row level security", {},
                      "The batches must hold every row: ALTER TABLE ... NO FORCE ROW LEVEL SECURITY first.");
  // Its columns cannot change under the build (ALTER TABLE takes a conflicting lock); the rows built are
  // those of the caller's snapshot.
  pg::Call([&] { LockRelationOid(leaf, AccessShareLock); });
  const std::string target = (sibling_schema ? core::QuoteIdent(*sibling_schema) : schema) + "." + core::QuoteIdent(sibling);
  const std::vector<Column> cols = strata::columnar::ReadColumns(leaf, segment_by, order_by);
  const size_t ncols = cols.size(), nseg = segment_by.size();
  const size_t order_at = size_t(std::find_if(cols.begin(), cols.end(), [](const Column& c) { return c.order; }) - cols.begin());
  const Column* order = order_at < ncols ? &cols[order_at] : nullptr;  // the order_by column, if any

  // The sibling: segment columns, the row count, the order column's range, a batch per other column.
  std::string create = "CREATE TABLE " + target + " (", select = "SELECT ", sort, storage;
  std::vector<Oid> arg_types;
  for (const Column& c : cols) {
    const std::string q = core::QuoteIdent(c.name);
    select += (select.size() > 7 ? ", " : "") + q;
    if (c.segment) {
      create += q + " " + c.type_sql + ", ";
      sort += (sort.empty() ? "" : ", ") + q;
      arg_types.push_back(c.type);
    }
  }
  create += "_strata_rows integer NOT NULL";
  arg_types.push_back(INT4OID);
  if (order != nullptr) {
    create += ", _strata_min " + order->type_sql + ", _strata_max " + order->type_sql;
    arg_types.push_back(order->type);
    arg_types.push_back(order->type);
    sort += (sort.empty() ? "" : ", ") + core::QuoteIdent(order->name);
  }
  for (const Column& c : cols) {
    if (c.segment) continue;
    create += ", " + core::QuoteIdent(c.name) + " bytea";
    storage += std::string(storage.empty() ? "" : ", ") + "ALTER COLUMN " + core::QuoteIdent(c.name) + " SET STORAGE EXTERNAL";
    arg_types.push_back(BYTEAOID);
  }
  create += ")";
  // A partition's batch table is strata's (in strata's schema, made by its owner); a table built by
  // _columnar_build is the caller's, beside the source.
  auto make = [&] {
    pg::Exec(create);
    if (!storage.empty()) pg::Exec("ALTER TABLE " + target + " " + storage);
  };
  if (sibling_schema != nullptr)
    pg::AsExtensionOwner(make);
  else
    make();
  out.sibling = Oid(std::stoul(*pg::Query("SELECT $1::pg_catalog.regclass::pg_catalog.oid::text", {target})[0][0]));
  for (const Column& c : cols) {
    if (c.segment) out.segment.push_back(c.attnum);
    else out.batch.push_back(c.attnum);
    if (c.order) out.order = c.attnum;
  }
  const std::string query = select + " FROM ONLY " + source + (sort.empty() ? "" : " ORDER BY " + sort);

  // Batches go in frozen (the table is this transaction's: gone if it aborts), so the partition never
  // needs an anti-wraparound vacuum for them, hidden from logical decoding (a publication sends a
  // partition's rows, never its batches), and appended without a free-space map (nothing is ever
  // written into their pages again; the map alone would cost 24 kB per table and per TOAST table).
  Relation target_rel = nullptr;
  Portal portal = nullptr;
  MemoryContext chunk_cxt = nullptr, batch_cxt = nullptr;
  pg::Call([&] {
    target_rel = table_open(out.sibling, RowExclusiveLock);
    portal = SPI_cursor_open_with_args(nullptr, query.c_str(), 0, nullptr, nullptr, nullptr, true, 0);
    chunk_cxt = AllocSetContextCreate(CurrentMemoryContext, "strata columnar chunk", ALLOCSET_DEFAULT_SIZES);
    batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "strata columnar batch", ALLOCSET_DEFAULT_SIZES);
  });

  // The batch being built: a codec batch per non-segment column, its segment values, its order range.
  std::vector<col::Batch> batches(ncols);
  std::vector<Datum> seg_values(nseg), params(arg_types.size());
  std::vector<char> seg_nulls(nseg), param_nulls(arg_types.size());
  Datum order_min = 0, order_max = 0;
  bool have_min = false, have_max = false;
  int in_batch = 0;
  int64_t rows = 0;
  auto flush = [&] {
    if (in_batch == 0) return;
    std::vector<std::vector<uint8_t>> encoded(ncols);
    for (size_t c = nseg; c < ncols; c++) encoded[c] = col::Encode(batches[c]);
    pg::Call([&] {
      size_t p = 0;
      for (size_t s = 0; s < nseg; s++) params[p] = seg_values[s], param_nulls[p++] = seg_nulls[s] ? 'n' : ' ';
      params[p] = Int32GetDatum(in_batch), param_nulls[p++] = ' ';
      if (order != nullptr) {
        params[p] = order_min, param_nulls[p++] = have_min ? ' ' : 'n';
        params[p] = order_max, param_nulls[p++] = have_max ? ' ' : 'n';
      }
      MemoryContext old = MemoryContextSwitchTo(batch_cxt);
      for (size_t c = nseg; c < ncols; c++) {
        bytea* b = static_cast<bytea*>(palloc(encoded[c].size() + VARHDRSZ));
        SET_VARSIZE(b, encoded[c].size() + VARHDRSZ);
        memcpy(VARDATA(b), encoded[c].data(), encoded[c].size());
        params[p] = PointerGetDatum(b), param_nulls[p++] = ' ';
      }
      bool* isnull = static_cast<bool*>(palloc(sizeof(bool) * params.size()));
      for (size_t i = 0; i < params.size(); i++) isnull[i] = param_nulls[i] == 'n';
      HeapTuple tup = heap_form_tuple(RelationGetDescr(target_rel), params.data(), isnull);
      MemoryContextSwitchTo(old);
      heap_insert(target_rel, tup, GetCurrentCommandId(true), HEAP_INSERT_FROZEN | HEAP_INSERT_NO_LOGICAL | HEAP_INSERT_SKIP_FSM,
                  nullptr);
      MemoryContextReset(batch_cxt);
    });
    for (auto& b : batches) b = col::Batch();
    out.batches++;
    in_batch = 0;
    have_min = have_max = false;
  };

  Datum* values = nullptr;  // this chunk's rows, column-major: pointers into its tuple table, varlenas
  bool* nulls = nullptr;    // detoasted into the chunk context
  SPITupleTable* chunk = nullptr;
  std::vector<uint8_t> seg_change;  // row r's segment differs from the row before it (row 0: the batch's)
  for (;;) {
    uint64 n = 0;
    seg_change.assign(kFetchRows, 0);
    const bool batch_open = in_batch > 0;
    pg::Call([&] {
      if (chunk != nullptr) SPI_freetuptable(chunk), chunk = nullptr;
      MemoryContextReset(chunk_cxt);
      SPI_cursor_fetch(portal, true, kFetchRows);
      n = SPI_processed;
      chunk = SPI_tuptable;  // kept: the batch INSERTs replace SPI_tuptable
      if (n == 0) return;
      MemoryContext old = MemoryContextSwitchTo(chunk_cxt);
      values = static_cast<Datum*>(palloc(sizeof(Datum) * n * ncols));
      nulls = static_cast<bool*>(palloc(sizeof(bool) * n * ncols));
      for (uint64 r = 0; r < n; r++) {
        for (size_t c = 0; c < ncols; c++) {
          bool isnull;
          Datum d = SPI_getbinval(chunk->vals[r], chunk->tupdesc, int(c) + 1, &isnull);
          if (!isnull && cols[c].layout.typlen == -1)
            d = PointerGetDatum(pg_detoast_datum_packed(reinterpret_cast<struct varlena*>(DatumGetPointer(d))));
          values[c * n + r] = isnull ? (Datum) 0 : d;
          nulls[c * n + r] = isnull;
        }
      }
      // Segment changes, compared by content (a varlena's bytes without its header; exact bytes, as the
      // batches keep them: values that only sort as equal start a new batch).
      for (uint64 r = (batch_open ? 0 : 1); r < n; r++) {
        for (size_t s = 0; s < nseg && !seg_change[r]; s++) {
          const bool null_now = nulls[s * n + r];
          const bool null_then = r > 0 ? nulls[s * n + r - 1] : seg_nulls[s] != 0;
          const Datum now = values[s * n + r], then = r > 0 ? values[s * n + r - 1] : seg_values[s];
          bool same = null_now == null_then;
          if (same && !null_now) {
            if (cols[s].layout.typlen == -1) {
              const struct varlena* a = reinterpret_cast<const struct varlena*>(DatumGetPointer(now));
              const struct varlena* b = reinterpret_cast<const struct varlena*>(DatumGetPointer(then));
              same = VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) && memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
            } else {
              same = datumIsEqual(now, then, cols[s].layout.byval, cols[s].layout.typlen);
            }
          }
          seg_change[r] = !same;
        }
      }
      MemoryContextSwitchTo(old);
    });
    if (n == 0) break;
    // Walk the rows: a batch ends when it is full or the segment changes.
    uint64 start = 0;
    auto append = [&](uint64 end) {  // rows [start, end) of this chunk into the batch
      if (end == start) return;
      for (size_t c = nseg; c < ncols; c++)
        strata::columnar::AddDatums(cols[c].layout, &values[c * n + start], &nulls[c * n + start], int(end - start), &batches[c]);
      if (order_at < ncols) {
        pg::Call([&] {
          MemoryContext old = MemoryContextSwitchTo(batch_cxt);
          const Column& o = cols[order_at];
          for (uint64 r = start; r < end; r++) {
            if (nulls[order_at * n + r]) continue;
            const Datum d = values[order_at * n + r];
            if (!have_min) order_min = datumCopy(d, o.layout.byval, o.layout.typlen), have_min = true;
            if (r + 1 == end || nulls[order_at * n + r + 1]) {
              order_max = datumCopy(d, o.layout.byval, o.layout.typlen), have_max = true;
              break;  // sorted, NULLs last: the last non-NULL of the run is its maximum
            }
          }
          MemoryContextSwitchTo(old);
        });
      }
      in_batch += int(end - start);
      rows += int64_t(end - start);
      start = end;
    };
    for (uint64 r = 0; r < n; r++) {
      const bool open = in_batch > 0 || r > start;
      if (open && (in_batch + int(r - start) >= kBatchRows || (nseg > 0 && seg_change[r]))) {
        append(r);
        flush();
      }
      if (in_batch == 0 && r == start && nseg > 0) {
        pg::Call([&] {  // the new batch's segment values, kept past this chunk
          MemoryContext old = MemoryContextSwitchTo(batch_cxt);
          for (size_t s = 0; s < nseg; s++) {
            seg_nulls[s] = nulls[s * n + r];
            seg_values[s] = seg_nulls[s] ? (Datum) 0 : datumCopy(values[s * n + r], cols[s].layout.byval, cols[s].layout.typlen);
          }
          MemoryContextSwitchTo(old);
        });
      }
    }
    append(n);
  }
  flush();
  pg::Call([&] {
    if (chunk != nullptr) SPI_freetuptable(chunk);
    SPI_cursor_close(portal);
    table_close(target_rel, NoLock);
    CommandCounterIncrement();
    MemoryContextDelete(chunk_cxt);
    MemoryContextDelete(batch_cxt);
  });
  out.rows = rows;
  return out;
}

}  // namespace strata::columnar

namespace pg = strata::pg;
namespace core = strata::core;

// _columnar_build(leaf regclass, sibling name, segment_by name[], order_by name) -> bigint (rows).
STRATA_FUNCTION(strata_columnar_build) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
    throw core::Error(core::sqlstate::kInvalidParameterValue, "leaf and sibling must not be null");
  const Oid leaf = PG_GETARG_OID(0);
  std::string sibling;
  std::vector<std::string> segment_by;
  std::string order_by;
  pg::Call([&] {
    sibling = NameStr(*PG_GETARG_NAME(1));
    if (!PG_ARGISNULL(3)) order_by = NameStr(*PG_GETARG_NAME(3));
    if (!PG_ARGISNULL(2)) {
      Datum* names;
      bool* nulls;
      int n;
      deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR, &names, &nulls, &n);
      for (int i = 0; i < n; i++) {
        if (nulls[i]) ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("segment_by must not hold NULL")));
        segment_by.emplace_back(NameStr(*DatumGetName(names[i])));
      }
    }
  });
  pg::SpiConnect();
  const strata::columnar::BuildResult r = strata::columnar::BuildBatches(leaf, nullptr, sibling, segment_by, order_by);
  pg::SpiFinish();
  PG_RETURN_INT64(r.rows);
}
