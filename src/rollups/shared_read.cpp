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

// The staged rows: a tuplestore in a context below the transaction's, and the local transaction that
// made it (so a later transaction never reads a store its end has freed).
struct Staged {
  MemoryContext cxt = nullptr;
  Tuplestorestate* rows = nullptr;
  LocalTransactionId lxid = InvalidLocalTransactionId;
  std::vector<std::pair<Oid, int32>> types;  // each column's type and typmod, as staged
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
  if (staged.cxt != nullptr && staged.lxid == CurrentLxid()) pg::Call([] { MemoryContextDelete(staged.cxt); });
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
      "SELECT pg_catalog.quote_ident(a.attname), pg_catalog.format_type(a.atttypid, a.atttypmod), "
      "  (SELECT pg_catalog.format(' COLLATE %I.%I', n.nspname, c.collname) FROM pg_catalog.pg_collation c "
      "   JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace WHERE c.oid = a.attcollation), a.atttypid, a.atttypmod "
      "FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::pg_catalog.oid AND NOT a.attisdropped AND a.attnum IN "
      "  (SELECT d.refobjsubid FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite w "
      "     ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = w.oid "
      "   WHERE w.ev_class = ANY (('{' || $2 || '}')::pg_catalog.oid[]) "
      "     AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = $1::pg_catalog.oid "
      "     AND d.refobjsubid > 0) "
      "ORDER BY a.attnum",
      {std::to_string(first.source_oid), defs});
  if (cols.empty()) throw core::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "no source column to stage for " + first.view);
  std::string list, defn;
  std::vector<std::pair<Oid, int32>> types;
  for (const auto& c : cols) {
    types.emplace_back(static_cast<Oid>(std::stoul(*c[3])), static_cast<int32>(std::stol(*c[4])));
    list += (list.empty() ? "" : ", ") + *c[0];
    defn += (defn.empty() ? "" : ", ") + *c[0] + " " + *c[1] + c[2].value_or("");
  }
  const std::string order = core::QuoteIdent(first.spec.order_column);
  const std::string sql = "SELECT " + list + " FROM " + first.spec.source + " WHERE " + order + " > $1::bigint AND " +
                          order + " <= $2::bigint";
  int64_t n = 0;
  pg::Call([&] {
    staged.cxt = AllocSetContextCreate(TopTransactionContext, "strata staged rows", ALLOCSET_DEFAULT_SIZES);
    staged.lxid = CurrentLxid();
    MemoryContext old = MemoryContextSwitchTo(staged.cxt);
    // Past work_mem the store spills to a temporary file; read back from the start by each rollup.
    staged.rows = tuplestore_begin_heap(true, false, work_mem);
    MemoryContextSwitchTo(old);
    DestReceiver* dest = CreateDestReceiver(DestTuplestore);
    // Detoasted: the rows are read after this statement's snapshot is gone.
    SetTuplestoreDestReceiverParams(dest, staged.rows, staged.cxt, true, nullptr, nullptr);
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
    n = tuplestore_tuple_count(staged.rows);
  });
  staged.types = std::move(types);
  *from = "strata._rollup_staged() AS __strata_staged(" + defn + ")";
  return n;
}

}  // namespace strata::rollups

using namespace strata;
using namespace strata::rollups;

// strata._rollup_staged(): the rows StageNewRows staged in this transaction (none elsewhere), with the
// column definition list the caller gives (StageNewRows's `from`).
STRATA_FUNCTION(strata_rollup_staged) {
  auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
  if (rsinfo == nullptr || !IsA(rsinfo, ReturnSetInfo) || (rsinfo->allowedModes & SFRM_Materialize) == 0 ||
      rsinfo->expectedDesc == nullptr)
    throw core::Error(ERRCODE_FEATURE_NOT_SUPPORTED, "strata._rollup_staged() must be called in FROM with a column list");
  pg::Call([&] {
    MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
    TupleDesc desc = CreateTupleDescCopy(rsinfo->expectedDesc);
    Tuplestorestate* out = tuplestore_begin_heap(false, false, work_mem);
    if (staged.rows != nullptr && staged.lxid == CurrentLxid()) {
      // Read only with the very types they were staged with: other bytes would be misread.
      bool same = static_cast<size_t>(desc->natts) == staged.types.size();
      for (int i = 0; same && i < desc->natts; i++)
        same = TupleDescAttr(desc, i)->atttypid == staged.types[i].first &&
               TupleDescAttr(desc, i)->atttypmod == staged.types[i].second;
      if (!same) elog(ERROR, "strata._rollup_staged(): the column list does not match the staged rows");
      if (tuplestore_tuple_count(staged.rows) > 0 && static_cast<int>(desc->natts) > 0) {
        TupleTableSlot* slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
        tuplestore_rescan(staged.rows);
        while (tuplestore_gettupleslot(staged.rows, true, false, slot)) {
          tuplestore_puttupleslot(out, slot);
        }
        ExecDropSingleTupleTableSlot(slot);
      }
    }
    MemoryContextSwitchTo(old);
    rsinfo->returnMode = SFRM_Materialize;
    rsinfo->setResult = out;
    rsinfo->setDesc = desc;
  });
  return static_cast<Datum>(0);
}
