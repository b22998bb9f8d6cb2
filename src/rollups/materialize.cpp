// Direct heap writes of a rollup's grouped rows: the first build and the append merge; see materialize.hpp.
#include "core/key_order.hpp"
#include "rollups/materialize.hpp"
#include "rollups/int_key.hpp"

namespace strata::rollups {

namespace {

// Direct heap writes from a query's result: the rows go from the executor into heap pages with
// multi-inserts, kMaxBuffered at a time, as COPY writes them, without an INSERT statement in between.
// The result's columns are the table's, then a bigint (source rows of the group, summed), then for a
// split append a boolean: false sets the row aside, to be merged into the stored groups afterwards.
// A first build sorts the rows by bucket before writing them (an aggregation emits groups in hash
// order): the pages then hold neighbouring buckets, as appends in time order leave them, so a range of
// buckets (a dashboard's last days) is on few pages. The sort is by the bucket alone (a single 8-byte
// key, cheap), which also gives the key's index build that follows partly ordered input; sorting by
// the whole key costs more than it saves in that build (docs/perf-notes).
constexpr int kMaxBuffered = 1000;

enum class DirectMode {
  kFirstBuild,  // a table made by this transaction, with no index: every row written, FSM skipped
  kSplit,       // flagged rows written (with their index entries), the others merged afterwards
};

struct DirectDest {
  DestReceiver pub;  // first: Postgres casts between the two
  DirectMode mode;
  Relation rel;
  int ncols;  // the table's columns
  TupleTableSlot* slots[kMaxBuffered];
  int buffered;
  BulkInsertState bistate;
  CommandId cid;
  EState* estate;       // index entries of written rows
  ResultRelInfo* rri;
  Tuplesortstate* aside;  // split: groups of stored buckets, sorted in the key index's order
  // Split, when every key column is an integer, date or timestamp in its type's default order
  // (IntKeyColumns): the set-aside groups are copied into aside_cxt with their keys and sorted by
  // core::SortIntKeys (no tuple comparison calls); past sort_mem they move to `aside`.
  int int_keys;         // key columns read as integers; 0: `aside` is used
  Oid int_key_types[strata::core::kMaxIntKeyColumns];
  MemoryContext aside_cxt;
  MinimalTuple* aside_tuples;
  strata::core::IntKey* aside_keys;
  int64 aside_cap;
  Relation key_index;     // split: the unique key's index (its columns lead the result's)
  int sort_mem;         // kB for the sorters (SortMemKb, read outside the aggregation's own budget)
  int sort_keys;        // first build: leading columns to sort by (0: write in arrival order)
  Tuplesortstate* sorter;
  TupleDesc table_desc;  // first build: the table's columns, as the sorter holds them
  TupleTableSlot* narrow;  // a result row's table columns, put into the sorter
  bool rebuild_indexes;  // first build: no index entries while loading; every index rebuilt at the end
  bool by_age;         // first build with a timestamp bucket (column 1): pages laid out by bucket age
  bool have_newest;
  int64 newest;         // the newest non-NULL bucket received
  MemoryContext home;   // where the result's tuple descriptor is kept
  TupleDesc result;
  int64 written;
  int64 aside_rows;
  int64 source_rows;
};

int InsertOptions(const DirectDest* d) { return d->mode == DirectMode::kFirstBuild ? TABLE_INSERT_SKIP_FSM : 0; }

void DirectFlush(DirectDest* d) {
  if (d->buffered == 0) return;
  table_multi_insert(d->rel, d->slots, d->buffered, d->cid, InsertOptions(d), d->bistate);
  for (int i = 0; i < d->buffered; i++) {
    if (d->rri->ri_NumIndices > 0) {
      List* recheck = ExecInsertIndexTuples(d->rri, d->slots[i], d->estate, false, false, nullptr, NIL
#if PG_VERSION_NUM >= 160000
                                            , false
#endif
      );
      list_free(recheck);
    }
    ExecClearTuple(d->slots[i]);
  }
  ResetPerTupleExprContext(d->estate);
  d->buffered = 0;
}

void DirectBuffer(DirectDest* d, TupleTableSlot* slot);
void DirectCopy(DirectDest* d, TupleTableSlot* slot);
void AsideKeep(DirectDest* d, TupleTableSlot* slot);
int IntKeyColumns(Relation index, TupleDesc result, Oid* types);

bool DirectReceive(TupleTableSlot* slot, DestReceiver* self) {
  auto* d = reinterpret_cast<DirectDest*>(self);
  slot_getallattrs(slot);
  const int rows = d->ncols, flag = d->ncols + 1;
  if (slot->tts_isnull[rows]) elog(ERROR, "direct write: NULL row count");
  d->source_rows += DatumGetInt64(slot->tts_values[rows]);
  if (d->mode == DirectMode::kSplit) {
    if (slot->tts_isnull[flag]) elog(ERROR, "direct write: NULL flag");
    if (!DatumGetBool(slot->tts_values[flag])) {
      if (d->aside == nullptr) {
        AsideKeep(d, slot);
      } else {
        tuplesort_puttupleslot(d->aside, slot);
      }
      d->aside_rows++;
      return true;
    }
  }
  if (d->sorter != nullptr) {
    if (d->by_age && !slot->tts_isnull[0]) {
      const int64 b = DatumGetTimestamp(slot->tts_values[0]);
      if (!d->have_newest || b > d->newest) d->newest = b;
      d->have_newest = true;
    }
    ExecClearTuple(d->narrow);
    for (int i = 0; i < d->ncols; i++) {
      d->narrow->tts_values[i] = slot->tts_values[i];
      d->narrow->tts_isnull[i] = slot->tts_isnull[i];
    }
    ExecStoreVirtualTuple(d->narrow);
    tuplesort_puttupleslot(d->sorter, d->narrow);
    return true;
  }
  DirectBuffer(d, slot);
  return true;
}

// Sorts rows of `desc` by their first n columns, ascending, NULLs last, within mem kB, spilling beyond
// it: with `order_index`, in that index's own order (its operator families' "<" and its collations; its
// key columns lead the rows); else by each column type's default "<" and the column's collation (the
// order a default btree index on them has).
Tuplesortstate* KeySorter(TupleDesc desc, int n, int mem, Relation order_index = nullptr) {
  auto* attrs = static_cast<AttrNumber*>(palloc(sizeof(AttrNumber) * n));
  auto* ops = static_cast<Oid*>(palloc(sizeof(Oid) * n));
  auto* colls = static_cast<Oid*>(palloc(sizeof(Oid) * n));
  auto* nulls_first = static_cast<bool*>(palloc0(sizeof(bool) * n));
  for (int i = 0; i < n; i++) {
    attrs[i] = static_cast<AttrNumber>(i + 1);
    if (order_index != nullptr) {
      const Oid type = order_index->rd_opcintype[i];
      ops[i] = get_opfamily_member(order_index->rd_opfamily[i], type, type, BTLessStrategyNumber);
      colls[i] = order_index->rd_indcollation[i];
    } else {
      const Form_pg_attribute a = TupleDescAttr(desc, i);
      ops[i] = lookup_type_cache(a->atttypid, TYPECACHE_LT_OPR)->lt_opr;
      colls[i] = a->attcollation;
    }
    if (!OidIsValid(ops[i])) elog(ERROR, "direct write: no ordering operator for key column %d", i + 1);
  }
  return tuplesort_begin_heap(desc, n, attrs, ops, colls, nulls_first, mem, nullptr, TUPLESORT_NONE);
}

void DirectStartup(DestReceiver* self, int, TupleDesc typeinfo) {
  auto* d = reinterpret_cast<DirectDest*>(self);
  const int extra = d->mode == DirectMode::kSplit ? 2 : 1;
  if (typeinfo->natts != d->ncols + extra)
    ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                    errmsg("direct write: query returns %d columns, table %s has %d", typeinfo->natts,
                           RelationGetRelationName(d->rel), d->ncols)));
  // Rows are copied into the table's pages as they come: each column must be of the table column's
  // type, typmod and collation, or a value of another type would be stored as this one's bytes.
  TupleDesc table = RelationGetDescr(d->rel);
  for (int i = 0; i < d->ncols; i++) {
    const Form_pg_attribute want = TupleDescAttr(table, i);
    const Form_pg_attribute got = TupleDescAttr(typeinfo, i);
    if (got->atttypid != want->atttypid || (want->atttypmod >= 0 && got->atttypmod != want->atttypmod) ||
        got->attcollation != want->attcollation)
      ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
                      errmsg("column \"%s\" of %s is %s, the query gives %s", NameStr(want->attname),
                             RelationGetRelationName(d->rel), format_type_with_typemod(want->atttypid, want->atttypmod),
                             format_type_with_typemod(got->atttypid, got->atttypmod)),
                      errdetail("The columns the rollup reads changed since it was defined."),
                      errhint("Drop the rollup with strata.drop_rollup() and create it again.")));
  }
  const Oid tail[] = {INT8OID, BOOLOID};
  for (int i = 0; i < extra; i++)
    if (TupleDescAttr(typeinfo, d->ncols + i)->atttypid != tail[i])
      ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH), errmsg("direct write: query column %d has the wrong type", d->ncols + i + 1)));
  MemoryContext old = MemoryContextSwitchTo(d->home);
  d->result = CreateTupleDescCopy(typeinfo);
  // A bulk operation like CREATE INDEX: maintenance_work_mem, or work_mem when that is larger.
  // The sorter holds only the table's columns (not the row count), so a sorted row becomes a heap tuple
  // by a copy, without being taken apart and formed again.
  if (d->sort_keys > 0) {
    d->table_desc = CreateTupleDescCopy(RelationGetDescr(d->rel));
    d->narrow = MakeSingleTupleTableSlot(d->table_desc, &TTSOpsVirtual);
    d->sorter = KeySorter(d->table_desc, d->sort_keys, d->sort_mem);
  }
  // Groups to merge are visited in key order: index probes walk the key index's leaves and the stored
  // rows' pages (in bucket order) one after the other instead of at random.
  if (d->mode == DirectMode::kSplit) {
    d->int_keys = IntKeyColumns(d->key_index, d->result, d->int_key_types);
    d->aside_cxt = AllocSetContextCreate(d->home, "strata set-aside groups", ALLOCSET_DEFAULT_SIZES);
  }
  MemoryContextSwitchTo(old);
}

// The number of key columns of `index` when each is an integer, date or timestamp ordered by its
// type's own btree comparison, ascending, NULLS LAST, and is of the same type in the result rows (their
// types in `types`); else 0. Such keys order as their Postgres integer values do.
int IntKeyColumns(Relation index, TupleDesc result, Oid* types) {
  const int nkeys = index->rd_index->indnkeyatts;
  if (nkeys > strata::core::kMaxIntKeyColumns || result->natts < nkeys) return 0;
  for (int k = 0; k < nkeys; k++) {
    const Oid type = index->rd_opcintype[k];
    const RegProcedure cmp = index_getprocid(index, static_cast<AttrNumber>(k + 1), BTORDER_PROC);
    bool plain = false;
    switch (type) {
      case INT2OID: plain = cmp == F_BTINT2CMP; break;
      case INT4OID: plain = cmp == F_BTINT4CMP; break;
      case INT8OID: plain = cmp == F_BTINT8CMP; break;
      case DATEOID: plain = cmp == F_DATE_CMP; break;
      case TIMESTAMPOID:
      case TIMESTAMPTZOID: plain = cmp == F_TIMESTAMP_CMP || cmp == F_TIMESTAMPTZ_CMP; break;
      default: break;
    }
    if (!plain || index->rd_indoption[k] != 0 || TupleDescAttr(result, k)->atttypid != type) return 0;
    types[k] = type;
  }
  return nkeys;
}

// Groups of keys with a text (or other non-integer) column kept in arrival order at most: fewer are
// merged unsorted, each found by a descent of the key index (a sort of the groups, comparing the keys
// by the collation, costs more than the walk saves); more go to a tuplesort and are merged in key order.
constexpr int64 kUnsortedAside = 10000;

// Moves the groups kept so far into a tuplesort (their memory passed sort_mem, or too many to merge
// unsorted): it spills to disk beyond sort_mem.
void AsideToSorter(DirectDest* d) {
  MemoryContext old = MemoryContextSwitchTo(d->home);
  d->aside = KeySorter(d->result, d->key_index->rd_index->indnkeyatts, d->sort_mem, d->key_index);
  TupleTableSlot* kept = MakeSingleTupleTableSlot(d->result, &TTSOpsMinimalTuple);
  for (int64 i = 0; i < d->aside_rows; i++) {
    ExecStoreMinimalTuple(d->aside_tuples[i], kept, false);
    tuplesort_puttupleslot(d->aside, kept);
  }
  ExecDropSingleTupleTableSlot(kept);
  MemoryContextSwitchTo(old);
  MemoryContextDelete(d->aside_cxt);
  d->aside_cxt = nullptr;
  d->aside_tuples = nullptr;
  d->aside_keys = nullptr;
  d->int_keys = 0;
}

// Keeps a set-aside group: its row copied, its key read as integers (when they are). The memory kept is
// checked when the arrays grow and every 1,024 groups; past sort_mem, or past kUnsortedAside groups
// with keys of other types, every group goes to a tuplesort.
void AsideKeep(DirectDest* d, TupleTableSlot* slot) {
  const bool grow = d->aside_rows == d->aside_cap;
  const int64 cap = grow ? Max(d->aside_cap * 2, 1024) : d->aside_cap;
  if ((d->int_keys == 0 && d->aside_rows >= kUnsortedAside) ||
      ((grow || (d->aside_rows & 1023) == 0) &&
       (static_cast<Size>(cap) * sizeof(strata::core::IntKey) > MaxAllocSize ||
        MemoryContextMemAllocated(d->aside_cxt, false) > static_cast<Size>(d->sort_mem) * 1024))) {
    AsideToSorter(d);
    tuplesort_puttupleslot(d->aside, slot);
    return;
  }
  if (grow) {
    if (d->aside_cap == 0) {
      d->aside_tuples = static_cast<MinimalTuple*>(MemoryContextAlloc(d->aside_cxt, sizeof(MinimalTuple) * cap));
      d->aside_keys = static_cast<strata::core::IntKey*>(MemoryContextAlloc(d->aside_cxt, sizeof(strata::core::IntKey) * cap));
    } else {
      d->aside_tuples = static_cast<MinimalTuple*>(repalloc(d->aside_tuples, sizeof(MinimalTuple) * cap));
      d->aside_keys = static_cast<strata::core::IntKey*>(repalloc(d->aside_keys, sizeof(strata::core::IntKey) * cap));
    }
    d->aside_cap = cap;
  }
  strata::core::IntKey& key = d->aside_keys[d->aside_rows];
  key.null_mask = 0;
  key.row = static_cast<uint32>(d->aside_rows);
  for (int k = 0; k < d->int_keys; k++) {
    const Datum v = slot->tts_values[k];
    if (slot->tts_isnull[k]) {
      key.null_mask |= 1u << k;
      key.value[k] = 0;
      continue;
    }
    key.value[k] = IntKeyValue(v, d->int_key_types[k]);
  }
  MemoryContext old = MemoryContextSwitchTo(d->aside_cxt);
  d->aside_tuples[d->aside_rows] = ExecCopySlotMinimalTuple(slot);
  MemoryContextSwitchTo(old);
}

// The fillfactor multi-inserts of this relation leave room by (heap_multi_insert reads it from the
// relcache entry's options at each call). Set in this backend's entry only, for the pages of a first
// build; a rebuild of the entry reads the catalog's value again. (An error in between leaves the entry's
// value set until then: it only decides where this backend's later inserts put rows.)
int Fillfactor(Relation rel) {
  const auto* o = reinterpret_cast<const StdRdOptions*>(rel->rd_options);
  return o != nullptr ? o->fillfactor : HEAP_DEFAULT_FILLFACTOR;
}
void SetFillfactor(Relation rel, int fillfactor) {
  auto* o = reinterpret_cast<StdRdOptions*>(rel->rd_options);
  if (o != nullptr) o->fillfactor = fillfactor;
}

void DirectShutdown(DestReceiver* self) {
  auto* d = reinterpret_cast<DirectDest*>(self);
  if (d->sorter != nullptr) {
    tuplesort_performsort(d->sorter);
    TupleTableSlot* sorted = MakeSingleTupleTableSlot(d->table_desc, &TTSOpsMinimalTuple);
    // Buckets come in ascending order, NULLs last: packed pages first, then the recent window's.
    const int table_fillfactor = Fillfactor(d->rel);
    const bool layout = d->have_newest && d->rel->rd_options != nullptr;
    bool recent = !layout;
    if (layout) SetFillfactor(d->rel, core::rollup::kPackedFillfactor);
    // Not copied out of the sorter: DirectCopy makes the heap tuple before the next row is fetched.
    while (tuplesort_gettupleslot(d->sorter, true, false, sorted, nullptr)) {
      if (!recent) {
        slot_getsomeattrs(sorted, 1);
        if (sorted->tts_isnull[0] || core::rollup::RecentBucket(DatumGetTimestamp(sorted->tts_values[0]), d->newest)) {
          recent = true;
          DirectFlush(d);
          SetFillfactor(d->rel, core::rollup::kRecentFillfactor);
        }
      }
      DirectCopy(d, sorted);
    }
    DirectFlush(d);
    if (layout) SetFillfactor(d->rel, table_fillfactor);
    ExecDropSingleTupleTableSlot(sorted);
    ExecDropSingleTupleTableSlot(d->narrow);
    tuplesort_end(d->sorter);
    d->sorter = nullptr;
  }
  DirectFlush(d);
}
void DirectDestroy(DestReceiver*) {}

// Copies the table's columns of `slot` into the next buffered slot; flushes a full buffer.
void DirectBuffer(DirectDest* d, TupleTableSlot* slot) {
  slot_getallattrs(slot);
  TupleTableSlot* out = d->slots[d->buffered];
  ExecClearTuple(out);
  for (int i = 0; i < d->ncols; i++) {
    out->tts_values[i] = slot->tts_values[i];
    out->tts_isnull[i] = slot->tts_isnull[i];
  }
  ExecStoreVirtualTuple(out);
  ExecMaterializeSlot(out);  // own copy: the executor reuses the result slot's memory
  d->written++;
  if (++d->buffered == kMaxBuffered) DirectFlush(d);
}

// Copies a row of the table's own columns (a sorted row) into the next buffered slot as a heap tuple (a
// memcpy of the minimal tuple); flushes a full buffer.
void DirectCopy(DirectDest* d, TupleTableSlot* slot) {
  ExecCopySlot(d->slots[d->buffered], slot);
  d->written++;
  if (++d->buffered == kMaxBuffered) DirectFlush(d);
}

// Rebuilds every index of a first build's table from its heap: each is truncated in place and built
// again, as TRUNCATE does for a table made in the same subtransaction (no new file, so nothing to
// unlink at commit, which would make the commit wait for its WAL to be flushed). Only for indexes
// created in the current subtransaction: if it fails, their files go with it.
void RebuildIndexes(Relation rel) {
  List* ids = RelationGetIndexList(rel);
  ListCell* lc;
  foreach (lc, ids) {
    Relation ix = index_open(lfirst_oid(lc), AccessExclusiveLock);
    IndexInfo* info = BuildIndexInfo(ix);
    RelationTruncate(ix, 0);
    index_build(rel, ix, info, true, true);
    index_close(ix, NoLock);
  }
  list_free(ids);
}

// True when every index of rel was created in the current subtransaction (or it has none).
bool IndexesMadeHere(Relation rel) {
  List* ids = RelationGetIndexList(rel);
  ListCell* lc;
  bool here = true;
  foreach (lc, ids) {
    Relation ix = index_open(lfirst_oid(lc), AccessShareLock);
    here = here && ix->rd_createSubid == GetCurrentSubTransactionId();
    index_close(ix, AccessShareLock);
  }
  list_free(ids);
  return here;
}

// A data table column's merge (core::rollup::ColumnMerge), resolved to the function that does it.
struct ResolvedMerge {
  core::rollup::ColumnMerge kind;
  FmgrInfo fn;    // kAdd: the type's pg_catalog.+; kLeast/kGreatest: its btree comparison; kSketchMerge: strata.merge
  Oid collation;  // the column's
};

// Resolves each column's merge and finds the unique btree index on the key columns (the leading kKey
// ones, in order: the data table's key); nullptr when any part is missing, or another index is unique
// or an exclusion constraint (the caller then leaves the append to SQL). The functions are the ones the
// SQL merge (MergeExpr) calls.
Relation ResolveMerges(Relation rel, ResultRelInfo* rri, const std::vector<core::rollup::ColumnMerge>& plan,
                       ResolvedMerge* out) {
  using core::rollup::ColumnMerge;
  TupleDesc desc = RelationGetDescr(rel);
  if (static_cast<int>(plan.size()) != desc->natts) return nullptr;
  int nkeys = 0;
  while (nkeys < desc->natts && plan[nkeys] == ColumnMerge::kKey) nkeys++;
  for (int c = 0; c < desc->natts; c++) {
    const Form_pg_attribute a = TupleDescAttr(desc, c);
    if (a->attisdropped || (c >= nkeys && plan[c] == ColumnMerge::kKey)) return nullptr;
    const Oid t = a->atttypid;
    out[c].kind = plan[c];
    out[c].collation = a->attcollation;
    Oid fn = InvalidOid;
    switch (plan[c]) {
      case ColumnMerge::kKey: continue;
      case ColumnMerge::kAdd: {
        const Oid op = OpernameGetOprid(list_make2(makeString(pstrdup("pg_catalog")), makeString(pstrdup("+"))), t, t);
        fn = OidIsValid(op) ? get_opcode(op) : InvalidOid;
        if (OidIsValid(fn) && !func_strict(fn)) fn = InvalidOid;  // the NULL handling below assumes strict
        break;
      }
      case ColumnMerge::kLeast:
      case ColumnMerge::kGreatest: fn = lookup_type_cache(t, TYPECACHE_CMP_PROC)->cmp_proc; break;
      case ColumnMerge::kSketchMerge: {
        Oid args[2] = {t, t};
        fn = LookupFuncName(list_make2(makeString(pstrdup("strata")), makeString(pstrdup("merge"))), 2, args, true);
        break;
      }
    }
    if (!OidIsValid(fn) || (plan[c] != ColumnMerge::kLeast && plan[c] != ColumnMerge::kGreatest && get_func_rettype(fn) != t))
      return nullptr;
    fmgr_info(fn, &out[c].fn);
  }
  Relation key = nullptr;
  for (int i = 0; nkeys > 0 && i < rri->ri_NumIndices; i++) {
    Relation idx = rri->ri_IndexRelationDescs[i];
    const Form_pg_index ix = idx->rd_index;
    // NULLS NOT DISTINCT, as strata makes the key: the probe's IS NULL keys then find the one stored group
    // a NULL dimension has, as ON CONFLICT would (with NULLs distinct it would never match one).
    bool match = ix->indisunique && ix->indnullsnotdistinct && ix->indimmediate && ix->indisvalid &&
                 ix->indnkeyatts == nkeys && idx->rd_rel->relam == BTREE_AM_OID && RelationGetIndexExpressions(idx) == NIL &&
                 RelationGetIndexPredicate(idx) == NIL;
    for (int k = 0; match && k < nkeys; k++) match = ix->indkey.values[k] == k + 1;
    if (match && key == nullptr) {
      key = idx;
    } else if (ix->indisunique || ix->indisexclusion) {
      return nullptr;  // another uniqueness to check: left to SQL
    }
  }
  return key;
}

// One column of a stored group merged with the batch's (stored: s/sn, batch: b/bn), as MergeExpr does it.
Datum MergeColumn(ResolvedMerge* m, Datum s, bool sn, Datum b, bool bn, bool* isnull) {
  using core::rollup::ColumnMerge;
  *isnull = false;
  switch (m->kind) {
    case ColumnMerge::kKey: *isnull = sn; return s;
    case ColumnMerge::kAdd:  // COALESCE(s + b, s, b)
    case ColumnMerge::kLeast:  // LEAST / GREATEST: NULLs ignored; on a tie the stored value stays
    case ColumnMerge::kGreatest:
      if (sn || bn) {
        *isnull = sn && bn;
        return sn ? b : s;
      }
      if (m->kind == ColumnMerge::kAdd) return FunctionCall2Coll(&m->fn, m->collation, s, b);
      {
        const int cmp = DatumGetInt32(FunctionCall2Coll(&m->fn, m->collation, b, s));
        return (m->kind == ColumnMerge::kLeast ? cmp < 0 : cmp > 0) ? b : s;
      }
    case ColumnMerge::kSketchMerge: {  // strata.merge(s, b), called on NULL input
      if (m->fn.fn_strict && (sn || bn)) {
        *isnull = true;
        return 0;
      }
      LOCAL_FCINFO(fcinfo, 2);
      InitFunctionCallInfoData(*fcinfo, &m->fn, 2, m->collation, nullptr, nullptr);
      fcinfo->args[0].value = s;
      fcinfo->args[0].isnull = sn;
      fcinfo->args[1].value = b;
      fcinfo->args[1].isnull = bn;
      const Datum r = FunctionCallInvoke(fcinfo);
      *isnull = fcinfo->isnull;
      return r;
    }
  }
  return 0;
}

// Index entries for the new version of a stored group that could not be a HOT update. The key did not
// change and the old version holds it, so the key index gets the entry without a uniqueness check (which
// would visit the old version's heap page, and on a full leaf page start a bottom-up deletion pass that
// cannot free this transaction's own old versions); other indexes are non-unique (ResolveMerges).
void UpdatedRowIndexEntries(DirectDest* d, TupleTableSlot* slot, bool only_summarizing) {
  ResultRelInfo* rri = d->rri;
  ExprContext* econtext = GetPerTupleExprContext(d->estate);
  econtext->ecxt_scantuple = slot;
  Datum values[INDEX_MAX_KEYS];
  bool isnull[INDEX_MAX_KEYS];
  for (int i = 0; i < rri->ri_NumIndices; i++) {
    Relation ir = rri->ri_IndexRelationDescs[i];
    IndexInfo* ii = rri->ri_IndexRelationInfo[i];
    if (ir == nullptr || !ii->ii_ReadyForInserts) continue;
#if PG_VERSION_NUM >= 160000
    if (only_summarizing && !ii->ii_Summarizing) continue;
#else
    (void) only_summarizing;
#endif
    if (ii->ii_Predicate != NIL) {
      if (ii->ii_PredicateState == nullptr) ii->ii_PredicateState = ExecPrepareQual(ii->ii_Predicate, d->estate);
      if (!ExecQual(ii->ii_PredicateState, econtext)) continue;
    }
    FormIndexDatum(ii, slot, d->estate, values, isnull);
    (void) index_insert(ir, values, isnull, &slot->tts_tid, d->rel, UNIQUE_CHECK_NO, false, ii);
  }
}

// A forward walk over the key index for groups that come in its order (MergeAside).
struct KeyWalk {
  IndexScanDesc scan;  // xs_want_itup: entries carry their keys
  int nkeys;
  bool walkable;       // ascending NULLS LAST columns: else every lookup descends
  FmgrInfo* cmp;       // per key column: the index's ordering function
  Oid* coll;           // and collation
  ScanKeyData* ge_last;  // last key column >= the group's value
  IndexTuple cur;      // the scan's current entry; nullptr: none (past the prefix's last, or not started)
  int64 descents;
};
constexpr int kMaxWalk = 32;
constexpr int kAsidePrefetch = 4;

IndexTuple WalkNext(KeyWalk* w) {
  w->cur = index_getnext_tid(w->scan, ForwardScanDirection) != nullptr ? w->scan->xs_itup : nullptr;
  return w->cur;
}

// Compares key column k of the current entry with the group's value (NULLs last, equal to each other).
int WalkCompare(const KeyWalk* w, int k, TupleTableSlot* group) {
  bool null = false;
  const Datum v = index_getattr(w->cur, k + 1, w->scan->xs_itupdesc, &null);
  if (null || group->tts_isnull[k]) return null == group->tts_isnull[k] ? 0 : (null ? 1 : -1);
  return DatumGetInt32(FunctionCall2Coll(&w->cmp[k], w->coll[k], v, group->tts_values[k]));
}

// The group's stored row (in `stored`), found by walking on from the current entry or by descending.
bool FindStored(KeyWalk* w, TupleTableSlot* group, const ScanKeyData* eq, const ScanKeyData* isnull_key,
                ScanKeyData* keys, TupleTableSlot* stored) {
  const int last = w->nkeys - 1;
  bool positioned = false;
  if (w->walkable && w->cur != nullptr && !group->tts_isnull[last]) {
    bool same_prefix = true;
    for (int k = 0; k < last && same_prefix; k++) same_prefix = WalkCompare(w, k, group) == 0;
    if (same_prefix) {
      // Entries of the prefix below the group's key: skip up to kMaxWalk of them. Past the prefix's last
      // entry (the scan ends there) there is none at or above the group's key: not stored.
      int steps = 0;
      while (w->cur != nullptr && WalkCompare(w, last, group) < 0 && steps < kMaxWalk) {
        WalkNext(w);
        steps++;
      }
      if (w->cur == nullptr) return false;
      positioned = WalkCompare(w, last, group) >= 0;
    }
  }
  if (!positioned) {
    // Descend: the prefix's columns equal to the group's (IS NULL for NULLs), the last one >= its value
    // (walkable) or equal to it (IS NULL when NULL).
    for (int k = 0; k < w->nkeys; k++) {
      if (group->tts_isnull[k]) {
        keys[k] = isnull_key[k];
      } else {
        keys[k] = k == last && w->walkable ? *w->ge_last : eq[k];
        keys[k].sk_argument = group->tts_values[k];
      }
    }
    index_rescan(w->scan, keys, w->nkeys, nullptr, 0);
    w->descents++;
    if (WalkNext(w) == nullptr) return false;
  }
  // Entries equal to the group's key: the visible one is its stored row (an entry of a version this
  // transaction replaced, or of a dead one, finds nothing visible; the next may). The scan's keys hold
  // every entry it returns to the group's prefix (it was positioned for this group, or for one with the
  // same prefix), so only the last column is compared.
  while (w->cur != nullptr && WalkCompare(w, last, group) == 0) {
    if (index_fetch_heap(w->scan, stored)) return true;
    WalkNext(w);
  }
  return false;
}

// Per key column of idx: an equality key (the index's operator family) and an IS NULL key (NULLS NOT
// DISTINCT), palloc'd.
void KeyColumnScanKeys(Relation idx, ScanKeyData** eq_out, ScanKeyData** isnull_out) {
  const int nkeys = idx->rd_index->indnkeyatts;
  auto* eq = static_cast<ScanKeyData*>(palloc(sizeof(ScanKeyData) * nkeys));
  auto* isnull_key = static_cast<ScanKeyData*>(palloc(sizeof(ScanKeyData) * nkeys));
  for (int k = 0; k < nkeys; k++) {
    const Oid type = idx->rd_opcintype[k];
    const Oid op = get_opfamily_member(idx->rd_opfamily[k], type, type, BTEqualStrategyNumber);
    if (!OidIsValid(op)) elog(ERROR, "direct merge: no equality operator for key column %d", k + 1);
    ScanKeyInit(&eq[k], static_cast<AttrNumber>(k + 1), BTEqualStrategyNumber, get_opcode(op), 0);
    eq[k].sk_collation = idx->rd_indcollation[k];
    ScanKeyEntryInitialize(&isnull_key[k], SK_ISNULL | SK_SEARCHNULL, static_cast<AttrNumber>(k + 1), InvalidStrategy,
                           InvalidOid, InvalidOid, InvalidOid, 0);
  }
  *eq_out = eq;
  *isnull_out = isnull_key;
}

// The groups come in the index's order: the scan walks forward from one group's entry to the next
// (entries of a leaf page are read at once), and descends from the root again only for a group in
// another prefix (the key's columns but the last: another bucket for a bucket x channel key), one
// more than kMaxWalk entries ahead, or with a NULL last column. Without the index's plain ascending,
// NULLS LAST order (DESC or NULLS FIRST columns, which strata's keys never have) every group descends.
KeyWalk StartKeyWalk(Relation idx, IndexScanDesc scan) {
  const int nkeys = idx->rd_index->indnkeyatts;
  KeyWalk walk{};
  walk.nkeys = nkeys;
  walk.walkable = true;
  walk.cmp = static_cast<FmgrInfo*>(palloc(sizeof(FmgrInfo) * nkeys));
  walk.ge_last = static_cast<ScanKeyData*>(palloc(sizeof(ScanKeyData)));
  for (int k = 0; k < nkeys; k++) {
    walk.walkable = walk.walkable && idx->rd_indoption[k] == 0;
    fmgr_info_copy(&walk.cmp[k], index_getprocinfo(idx, static_cast<AttrNumber>(k + 1), BTORDER_PROC),
                   CurrentMemoryContext);
  }
  walk.coll = idx->rd_indcollation;
  const int k = nkeys - 1;
  const Oid type = idx->rd_opcintype[k];
  const Oid op = get_opfamily_member(idx->rd_opfamily[k], type, type, BTGreaterEqualStrategyNumber);
  if (OidIsValid(op)) {
    ScanKeyInit(walk.ge_last, static_cast<AttrNumber>(k + 1), BTGreaterEqualStrategyNumber, get_opcode(op), 0);
    walk.ge_last->sk_collation = idx->rd_indcollation[k];
  } else {
    walk.walkable = false;
  }
  walk.scan = scan;
  return walk;
}

// Puts the groups set aside in key order: the integer keys sorted in memory, or the tuplesort's sort.
void SortAside(DirectDest* d) {
  if (d->aside != nullptr)
    tuplesort_performsort(d->aside);
  else if (d->int_keys > 0)
    strata::core::SortIntKeys(d->aside_keys, static_cast<size_t>(d->aside_rows), d->int_keys);
}

// The next group set aside, in key order, into `batch` (not copied out of the sorter: the group is
// written before the next one is fetched); false after the last. *next: position in the in-memory copies.
bool FetchAside(DirectDest* d, TupleTableSlot* batch, int64* next) {
  if (d->aside != nullptr) return tuplesort_gettupleslot(d->aside, true, false, batch, nullptr);
  if (*next == d->aside_rows) return false;
  if (d->int_keys == 0) {  // few groups of other keys: in arrival order
    ExecStoreMinimalTuple(d->aside_tuples[(*next)++], batch, false);
    return true;
  }
  // The copies lie in arrival (hash) order: the one a few groups ahead is fetched into the cache.
  if (*next + kAsidePrefetch < d->aside_rows) __builtin_prefetch(d->aside_tuples[d->aside_keys[*next + kAsidePrefetch].row]);
  ExecStoreMinimalTuple(d->aside_tuples[d->aside_keys[(*next)++].row], batch, false);
  return true;
}

// Writes one group: merged column by column into its stored row (`found`: in `stored`), updated in
// place, or inserted when not stored yet; index entries made where the new row version needs them.
void WriteGroup(DirectDest* d, ResolvedMerge* merges, TupleTableSlot* batch, TupleTableSlot* stored, bool found,
                TupleTableSlot* out, Snapshot snap, CommandId cid) {
  Relation rel = d->rel;
  ExecClearTuple(out);
  if (found) {
    slot_getallattrs(stored);
    for (int c = 0; c < d->ncols; c++)
      out->tts_values[c] = MergeColumn(&merges[c], stored->tts_values[c], stored->tts_isnull[c], batch->tts_values[c],
                                       batch->tts_isnull[c], &out->tts_isnull[c]);
  } else {
    for (int c = 0; c < d->ncols; c++) {
      out->tts_values[c] = batch->tts_values[c];
      out->tts_isnull[c] = batch->tts_isnull[c];
    }
  }
  ExecStoreVirtualTuple(out);
  bool new_index_entries = true;
  [[maybe_unused]] bool only_summarizing = false;
  if (found) {
#if PG_VERSION_NUM >= 160000
    TU_UpdateIndexes update_indexes;
    simple_table_tuple_update(rel, &stored->tts_tid, out, snap, &update_indexes);
    new_index_entries = update_indexes != TU_None;
    only_summarizing = update_indexes == TU_Summarizing;
#else
    simple_table_tuple_update(rel, &stored->tts_tid, out, snap, &new_index_entries);
#endif
  } else {
    table_tuple_insert(rel, out, cid, 0, nullptr);
  }
  if (new_index_entries && found) {
    UpdatedRowIndexEntries(d, out, only_summarizing);
  } else if (new_index_entries && d->rri->ri_NumIndices > 0) {
    List* recheck = ExecInsertIndexTuples(d->rri, out, d->estate, false, false, nullptr, NIL
#if PG_VERSION_NUM >= 160000
                                          , false
#endif
    );
    list_free(recheck);
  }
  ExecClearTuple(out);
  ExecClearTuple(stored);
}

// Merges the groups set aside into the data table without SQL in between: each group's stored row is
// found through the key index and updated in place (a HOT update when its page has room; new index
// entries otherwise, see UpdatedRowIndexEntries), a group not stored yet is inserted. What INSERT ... ON CONFLICT DO UPDATE would do, minus
// the speculative insertion, the tuple lock (and its WAL record) and the executor per group. Only the
// refresher writes the table (it holds the rollup's catalog row lock), and the batch's groups have
// distinct keys, so a group's stored row is read once, before this command changed it; a row someone
// else changed meanwhile raises "tuple concurrently updated" (the step rolls back and is retried).
int64 MergeAside(DirectDest* d, ResolvedMerge* merges, Relation idx) {
  Relation rel = d->rel;
  CommandCounterIncrement();  // the rows this command inserted are seen (none has a key of the batch)
  Snapshot snap = RegisterSnapshot(GetLatestSnapshot());
  ScanKeyData *eq, *isnull_key;
  KeyColumnScanKeys(idx, &eq, &isnull_key);
  auto* keys = static_cast<ScanKeyData*>(palloc(sizeof(ScanKeyData) * idx->rd_index->indnkeyatts));
  IndexScanDesc scan = index_beginscan(rel, idx, snap, idx->rd_index->indnkeyatts, 0);
  scan->xs_want_itup = true;  // each entry's key, compared without visiting the heap
  KeyWalk walk = StartKeyWalk(idx, scan);
  const bool in_order = d->aside != nullptr || d->int_keys > 0;
  if (!in_order) walk.walkable = false;  // arrival order: each group descends
  TupleTableSlot* stored = table_slot_create(rel, nullptr);
  TupleTableSlot* out = table_slot_create(rel, nullptr);
  TupleTableSlot* batch = MakeSingleTupleTableSlot(d->result, &TTSOpsMinimalTuple);
  MemoryContext per_group = AllocSetContextCreate(CurrentMemoryContext, "strata merge group", ALLOCSET_DEFAULT_SIZES);
  const CommandId cid = GetCurrentCommandId(true);
  int64 merged = 0;
  int64 next = 0;
  SortAside(d);
  while (FetchAside(d, batch, &next)) {
    CHECK_FOR_INTERRUPTS();
    slot_getallattrs(batch);
    // The scan keeps what it allocates across rescans: not in the per-group context.
    const bool found = FindStored(&walk, batch, eq, isnull_key, keys, stored);
    MemoryContext old = MemoryContextSwitchTo(per_group);
    WriteGroup(d, merges, batch, stored, found, out, snap, cid);
    MemoryContextSwitchTo(old);
    MemoryContextReset(per_group);
    ResetPerTupleExprContext(d->estate);
    merged++;
  }
  elog(DEBUG1, "strata: merged %lld groups into \"%s\" (%s) with %lld index descents",
       static_cast<long long>(merged), RelationGetRelationName(rel),
       d->aside != nullptr ? "put in key order by a tuplesort"
                           : (d->int_keys > 0 ? "put in key order by their integer keys in memory" : "in arrival order"),
       static_cast<long long>(walk.descents));
  index_endscan(scan);
  ExecDropSingleTupleTableSlot(batch);
  ExecDropSingleTupleTableSlot(out);
  ExecDropSingleTupleTableSlot(stored);
  MemoryContextDelete(per_group);
  UnregisterSnapshot(snap);
  return merged;
}

// Runs sql into relid as `mode` says; false (nothing run) when the table would have something bypassed
// by direct heap writes: not a plain table, a trigger, constraint or row security, for a first build an
// index or not made by this transaction, for a split a column merge or the key index not found.
bool RunDirect(const std::string& sql, const std::vector<std::optional<std::string>>& args, Oid relid, DirectMode mode,
               int sort_keys, int sort_mem_kb, const std::vector<core::rollup::ColumnMerge>* merge_plan,
               DirectWriteCounts* out) {
  const char* q = sql.c_str();
  const int nargs = static_cast<int>(args.size());
  std::vector<const char*> texts(nargs, nullptr);
  for (int i = 0; i < nargs; i++)
    if (args[i]) texts[i] = args[i]->c_str();
  bool done = false;
  pg::Call([&] {
    Relation rel = table_open(relid, RowExclusiveLock);
    TupleDesc desc = RelationGetDescr(rel);
    bool plain = rel->rd_rel->relkind == RELKIND_RELATION && rel->trigdesc == nullptr && desc->constr == nullptr &&
                 !rel->rd_rel->relrowsecurity;
    bool rebuild_indexes = false;
    if (plain && mode == DirectMode::kFirstBuild) {
      // Made by this transaction (nobody else sees it), every column live (the query's columns are the
      // table's); indexes only when made in this subtransaction, as they are rebuilt in place.
      plain = rel->rd_createSubid != InvalidSubTransactionId && IndexesMadeHere(rel);
      for (int c = 0; plain && c < desc->natts; c++) plain = !TupleDescAttr(desc, c)->attisdropped;
      rebuild_indexes = plain && RelationGetForm(rel)->relhasindex;
    }
    if (!plain) {
      table_close(rel, RowExclusiveLock);
      return;
    }
    auto* d = static_cast<DirectDest*>(palloc0(sizeof(DirectDest)));
    d->estate = CreateExecutorState();
    d->rri = makeNode(ResultRelInfo);
    InitResultRelInfo(d->rri, rel, 1, nullptr, 0);
    if (!rebuild_indexes) ExecOpenIndices(d->rri, false);
    auto* merges = static_cast<ResolvedMerge*>(palloc0(sizeof(ResolvedMerge) * desc->natts));
    Relation key_index = nullptr;
    if (mode == DirectMode::kSplit && (key_index = ResolveMerges(rel, d->rri, *merge_plan, merges)) == nullptr) {
      ExecCloseIndices(d->rri);
      FreeExecutorState(d->estate);
      table_close(rel, RowExclusiveLock);
      return;
    }
    ParamListInfo params = makeParamList(nargs);
    for (int i = 0; i < nargs; i++) {
      params->params[i].ptype = TEXTOID;
      params->params[i].pflags = PARAM_FLAG_CONST;
      params->params[i].isnull = texts[i] == nullptr;
      params->params[i].value = texts[i] ? CStringGetTextDatum(texts[i]) : 0;
    }
    d->pub.receiveSlot = DirectReceive;
    d->pub.rStartup = DirectStartup;
    d->pub.rShutdown = DirectShutdown;
    d->pub.rDestroy = DirectDestroy;
    d->pub.mydest = DestNone;
    d->mode = mode;
    d->key_index = key_index;
    // A split append writes its new groups as they come: sorting them by key for the key index's sake
    // cost more than it saved (time-order batches of 1,000,000 rows, 178,000 new groups).
    d->sort_keys = mode == DirectMode::kFirstBuild ? std::clamp(sort_keys, 0, static_cast<int>(desc->natts)) : 0;
    const Oid bucket_type = TupleDescAttr(desc, 0)->atttypid;
    d->by_age = mode == DirectMode::kFirstBuild && d->sort_keys > 0 &&
                (bucket_type == TIMESTAMPOID || bucket_type == TIMESTAMPTZOID);
    d->rel = rel;
    d->ncols = desc->natts;
    d->bistate = GetBulkInsertState();
    d->cid = GetCurrentCommandId(true);
    // Slots (and the tuples they hold) in this context: the executor's own is gone when SPI returns.
    for (int i = 0; i < kMaxBuffered; i++) d->slots[i] = table_slot_create(rel, nullptr);
    d->home = CurrentMemoryContext;
    d->sort_mem = sort_mem_kb;
    SPIExecuteOptions options;
    memset(&options, 0, sizeof(options));
    options.params = params;
    options.dest = &d->pub;
    const int rc = SPI_execute_extended(q, &options);
    if (rc < 0) elog(ERROR, "SPI_execute_extended failed (%d): %s", rc, q);
    for (int i = 0; i < kMaxBuffered; i++) ExecDropSingleTupleTableSlot(d->slots[i]);
    FreeBulkInsertState(d->bistate);
    table_finish_bulk_insert(rel, InsertOptions(d));
    out->rows = d->source_rows;
    out->written = d->written;
    out->merged = d->aside_rows > 0 ? MergeAside(d, merges, key_index) : 0;
    if (d->aside != nullptr) tuplesort_end(d->aside);
    if (d->aside_cxt != nullptr) MemoryContextDelete(d->aside_cxt);
    ExecCloseIndices(d->rri);
    if (rebuild_indexes) RebuildIndexes(rel);
    FreeExecutorState(d->estate);
    table_close(rel, RowExclusiveLock);
    done = true;
  });
  return done;
}

}  // namespace

bool SplitAppendQuery(const std::string& sql, const std::vector<std::optional<std::string>>& args, Oid relid,
                      const std::vector<core::rollup::ColumnMerge>& merges, int sort_mem_kb, DirectWriteCounts* out) {
  return RunDirect(sql, args, relid, DirectMode::kSplit, 0, sort_mem_kb, &merges, out);
}

bool BulkInsertQuery(const std::string& sql, const std::vector<std::optional<std::string>>& args, Oid relid,
                     int sort_keys, int sort_mem_kb, DirectWriteCounts* out) {
  return RunDirect(sql, args, relid, DirectMode::kFirstBuild, sort_keys, sort_mem_kb, nullptr, out);
}

int SortMemKb() { return Max(work_mem, maintenance_work_mem); }

}  // namespace strata::rollups
