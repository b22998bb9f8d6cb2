// The worker's one read of new rows per source; see shared_read.hpp.
#include <algorithm>
#include <cctype>
#include <climits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/naming.hpp"
#include "pg/spi.hpp"
#include "rollups/shared_read.hpp"

namespace strata::rollups {
namespace {

constexpr const char* kStaged = "__strata_staged";

// The staged rows: a tuplestore in a context below the transaction's, registered with the current SPI
// connection as an ephemeral named relation (as trigger transition tables are), and the local
// transaction that made it.
struct Staged {
  MemoryContext cxt = nullptr;
  LocalTransactionId lxid = InvalidLocalTransactionId;
};
Staged staged;

LocalTransactionId CurrentLxid() {
#if PG_VERSION_NUM >= 170000
  return MyProc->vxid.lxid;
#else
  return MyProc->lxid;
#endif
}

}  // namespace

void ReleaseStagedRows() {
  if (staged.cxt != nullptr && staged.lxid == CurrentLxid())
    pg::Call([] {
      (void) SPI_unregister_relation(kStaged);
      MemoryContextDelete(staged.cxt);
    });
  staged = Staged{};
}

int64_t StageNewRows(const std::vector<Rollup>& rollups, int64_t lo, int64_t hi, std::string* from) {
  ReleaseStagedRows();
  const Rollup& first = rollups.at(0);
  std::string defs;
  for (const auto& r : rollups) defs += (defs.empty() ? "" : ",") + std::to_string(r.definition);
  // The source columns the definition views read (their dependencies on the source's columns): what
  // any rollup's stored SQL uses, the order column included.
  const auto cols = pg::Query(
      "SELECT a.attname, a.atttypid, a.atttypmod, a.attcollation "
      "FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::pg_catalog.oid AND NOT a.attisdropped AND a.attnum IN "
      "  (SELECT d.refobjsubid FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite w "
      "     ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = w.oid "
      "   WHERE w.ev_class = ANY (('{' || $2 || '}')::pg_catalog.oid[]) "
      "     AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = $1::pg_catalog.oid "
      "     AND d.refobjsubid > 0) "
      "ORDER BY a.attnum",
      {std::to_string(first.source_oid), defs});
  if (cols.empty()) throw core::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "no source column to stage for " + first.view);
  // The staged rows' columns, read out of the result before any Postgres call (no C++ conversion may
  // throw inside pg::Call).
  struct Column {
    std::string name;
    Oid type, collation;
    int32 typmod;
  };
  std::vector<Column> columns;
  std::string list;
  for (const auto& c : cols) {
    columns.push_back({*c[0], static_cast<Oid>(std::stoul(*c[1])), static_cast<Oid>(std::stoul(*c[3])),
                       static_cast<int32>(std::stol(*c[2]))});
    list += (list.empty() ? "" : ", ") + core::QuoteIdent(*c[0]);
  }
  const std::string order = core::QuoteIdent(first.spec.order_column);
  const std::string sql = "SELECT " + list + " FROM " + first.spec.source + " WHERE " + order + " > $1::bigint AND " +
                          order + " <= $2::bigint";
  int64_t n = 0;
  pg::Call([&] {
    staged.cxt = AllocSetContextCreate(TopTransactionContext, "strata staged rows", ALLOCSET_DEFAULT_SIZES);
    staged.lxid = CurrentLxid();
    MemoryContext old = MemoryContextSwitchTo(staged.cxt);
    TupleDesc desc = CreateTemplateTupleDesc(static_cast<int>(columns.size()));
    for (size_t i = 0; i < columns.size(); i++) {
      const AttrNumber att = static_cast<AttrNumber>(i + 1);
      TupleDescInitEntry(desc, att, columns[i].name.c_str(), columns[i].type, columns[i].typmod, 0);
      TupleDescInitEntryCollation(desc, att, columns[i].collation);
    }
    // Held in memory up to the larger of work_mem and maintenance_work_mem (read once per rollup, so
    // worth a bulk operation's memory), spilling to a temporary file beyond.
    Tuplestorestate* rows = tuplestore_begin_heap(true, false, Max(work_mem, maintenance_work_mem));
    MemoryContextSwitchTo(old);
    DestReceiver* dest = CreateDestReceiver(DestTuplestore);
    // Detoasted: the rows are read after this statement's snapshot is gone.
    SetTuplestoreDestReceiverParams(dest, rows, staged.cxt, true, nullptr, nullptr);
    ParamListInfo params = makeParamList(2);
    const int64_t bounds[2] = {lo, hi};
    for (int i = 0; i < 2; i++) {
      params->params[i].ptype = INT8OID;
      params->params[i].pflags = PARAM_FLAG_CONST;
      params->params[i].isnull = false;
      params->params[i].value = Int64GetDatum(bounds[i]);
    }
    SPIExecuteOptions options;
    memset(&options, 0, sizeof(options));
    options.params = params;
    options.dest = dest;
    const int rc = SPI_execute_extended(sql.c_str(), &options);
    if (rc < 0) elog(ERROR, "SPI_execute_extended failed (%d): %s", rc, sql.c_str());
    dest->rDestroy(dest);
    n = tuplestore_tuple_count(rows);
    // Visible to the statements of this SPI connection only (the step's), by name, as a table of the
    // source's columns; scanned in place, with no permission check of its own (read as the role).
    old = MemoryContextSwitchTo(staged.cxt);
    auto* enr = static_cast<EphemeralNamedRelation>(palloc0(sizeof(EphemeralNamedRelationData)));
    enr->md.name = pstrdup(kStaged);
    enr->md.reliddesc = InvalidOid;
    enr->md.tupdesc = desc;
    enr->md.enrtype = ENR_NAMED_TUPLESTORE;
    enr->md.enrtuples = static_cast<double>(n);
    enr->reldata = rows;
    MemoryContextSwitchTo(old);
    if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER) elog(ERROR, "SPI_register_relation failed");
  });
  *from = kStaged;
  return n;
}

}  // namespace strata::rollups
