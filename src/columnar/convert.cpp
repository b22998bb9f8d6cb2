// Converting a partition between heap and compressed form, and the SQL functions that do it by hand
// (src/columnar/README.md, "Conversion"). Both ways are one transaction, the caller's:
//
//   compress:   SHARE lock on the partition (readers go on; writers into this partition wait, writers
//               into any other do not) -> its rows (heap part and old batches alike, as the read path
//               returns them) built as batches into a new table, frozen and hidden from logical decoding
//               -> ACCESS EXCLUSIVE lock, taken with strata.lock_timeout and retried (the swap) ->
//               the heap emptied (a new relfilenode for it, its TOAST table and indexes, as TRUNCATE
//               does, not decoded) -> the old batch table dropped -> the state row written and a
//               relcache invalidation sent.
//   decompress: the swap's lock first -> every row read and kept (tuplestore) -> the heap emptied as
//               above, the rows inserted frozen (the new relfilenode is this transaction's) and hidden
//               from logical decoding -> indexes rebuilt -> batch table and state row dropped.
//
// A crash or kill at any point aborts the transaction: the new relfilenodes and tables are dropped and
// the partition is in its old form, every row once. Because batches and moved rows are frozen and the
// heap is emptied as TRUNCATE does, a transaction whose snapshot is older than the swap sees the
// partition's rows as they were at the swap, not as at its snapshot.
#include "core/backoff.hpp"
#include "core/error.hpp"
#include "core/naming.hpp"

#include "columnar/columnar.hpp"
#include "columnar/state.hpp"
#include "config.hpp"
#include "jobs/job_runs.hpp"
#include "pg/guc.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "pg/xact.hpp"

namespace strata::columnar {
namespace {

[[noreturn]] void Refuse(int sqlstate, const std::string& message, const std::string& hint = {}) {
  throw core::Error(sqlstate, message, {}, hint);
}

struct Leaf {
  std::string schema, name, qualified;
  std::optional<std::string> parent;  // the partition set's parent, when it is one's
};

// Checks that the caller may convert `leaf` and that it can be converted; returns its names.
Leaf CheckLeaf(Oid leaf, bool compressing) {
  const auto r = pg::Query(
      "SELECT c.relkind::text, c.relpersistence::text, n.nspname::text, c.relname::text, c.relforcerowsecurity::text, "
      "(SELECT s.parent::pg_catalog.oid::text FROM pg_catalog.pg_inherits i JOIN strata.partition_set s "
      "   ON s.parent = i.inhparent::pg_catalog.regclass WHERE i.inhrelid = c.oid) "
      "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::pg_catalog.oid",
      {std::to_string(leaf)});
  if (r.empty()) Refuse(ERRCODE_UNDEFINED_TABLE, "no such partition");
  Leaf l{*r[0][2], *r[0][3], core::QualifiedName(*r[0][2], *r[0][3]), r[0][5]};
  if (*r[0][0] != "r")
    Refuse(ERRCODE_WRONG_OBJECT_TYPE, l.qualified + " is not a table or leaf partition", "Compress its partitions one by one.");
  if (!pg::OwnsTable(leaf)) Refuse(ERRCODE_INSUFFICIENT_PRIVILEGE, "must be owner of table " + l.qualified);
  // Both ways read every row as the owner: forced row security would hide some (and decompress would
  // then lose them).
  if (*r[0][4] == "true")
    Refuse(ERRCODE_FEATURE_NOT_SUPPORTED, l.qualified + " forces row level security",
           "The conversion must read every row: ALTER TABLE ... NO FORCE ROW LEVEL SECURITY first.");
  // The conversion reads the partition as of its lock (every committed row), which a transaction-long
  // snapshot cannot: rows committed after it would be lost.
  if (IsolationUsesXactSnapshot())
    Refuse(ERRCODE_ACTIVE_SQL_TRANSACTION, std::string(compressing ? "compress" : "decompress") +
                                               "_partition cannot run in a REPEATABLE READ or SERIALIZABLE transaction",
           "Call it in a READ COMMITTED transaction (as the worker does).");
  if (!compressing) return l;
  if (*r[0][1] != "p")
    Refuse(ERRCODE_FEATURE_NOT_SUPPORTED, l.qualified + " is not a permanent table",
           "Only logged tables are compressed (their batches must survive a crash and reach standbys).");
  // Postgres checks a default partition's rows against a new partition's bounds by reading its heap.
  if (!pg::Query("SELECT 1 FROM pg_catalog.pg_partitioned_table pt JOIN pg_catalog.pg_inherits i ON i.inhparent = pt.partrelid "
                 "WHERE i.inhrelid = $1::pg_catalog.oid AND pt.partdefid = $1::pg_catalog.oid",
                 {std::to_string(leaf)})
           .empty())
    Refuse(ERRCODE_FEATURE_NOT_SUPPORTED, "cannot compress " + l.qualified + ": it is a default partition",
           "Postgres checks a default partition's rows by reading its heap when a partition is added; move its "
           "rows into ranged partitions (strata does for a set's default partition) and compress those.");
  const auto uniq = pg::Query(
      "SELECT i.indexrelid::pg_catalog.regclass::text FROM pg_catalog.pg_index i "
      "WHERE i.indrelid = $1::pg_catalog.oid AND (i.indisunique OR i.indisexclusion) ORDER BY 1 LIMIT 1",
      {std::to_string(leaf)});
  if (!uniq.empty())
    Refuse(ERRCODE_FEATURE_NOT_SUPPORTED,
           "cannot compress " + l.qualified + ": its index " + *uniq[0][0] + " enforces a unique or exclusion constraint",
           "Compressed rows are not in the partition's indexes, so strata could not keep the constraint. Drop the "
           "constraint (or keep this partition as a heap), or enforce uniqueness on the hot partitions only.");
  // Logical replication's apply finds the rows an UPDATE or DELETE names by reading the heap itself,
  // never through the planner: on a subscription's target it would not find compressed rows, and
  // PostgreSQL 15 then skips the change with a LOG line. Refused rather than lose changes.
  if (!pg::Query("SELECT 1 FROM pg_catalog.pg_subscription_rel r WHERE r.srrelid = $1::pg_catalog.oid "
                 "OR r.srrelid IN (SELECT a.relid FROM pg_catalog.pg_partition_ancestors($1::pg_catalog.oid) a)",
                 {std::to_string(leaf)})
           .empty())
    Refuse(ERRCODE_FEATURE_NOT_SUPPORTED, "cannot compress " + l.qualified + ": it is the target of a subscription",
           "Logical replication applies UPDATE and DELETE by reading the heap, where compressed rows are not; keep "
           "subscribed partitions as heaps (compress them on the publisher, or after the subscription is dropped).");
  // A publication of every table (or of strata's schema) would publish the batch tables and the state
  // (a subscriber would need tables it cannot have, and receive the publisher's OIDs).
  const auto pub = pg::Query(
      "SELECT p.pubname::text FROM pg_catalog.pg_publication p WHERE p.puballtables OR EXISTS (SELECT 1 FROM "
      "pg_catalog.pg_publication_namespace pn JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid "
      "WHERE pn.pnpubid = p.oid AND n.nspname = 'strata') ORDER BY 1 LIMIT 1");
  if (!pub.empty())
    Refuse(ERRCODE_FEATURE_NOT_SUPPORTED, "cannot compress " + l.qualified + ": publication " + *pub[0][0] +
               " publishes every table (or strata's schema), which would publish strata's batch tables",
           "Publish the tables by name (CREATE PUBLICATION ... FOR TABLE), which sends a compressed partition's rows.");
  if (!Preloaded())
    Refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "strata is not in shared_preload_libraries",
           "Every session must read compressed partitions through strata's planner hooks: add strata to "
           "shared_preload_libraries and restart.");
  return l;
}

// Runs fn with a snapshot taken now, after the conversion's lock: it sees every row committed before the
// lock was granted (writers of the partition have finished by then), which the statement's snapshot,
// taken before the wait, may not.
void WithFreshSnapshot(const std::function<void()>& fn) {
  pg::Call([] {
    CommandCounterIncrement();
    PushActiveSnapshot(GetLatestSnapshot());
  });
  fn();  // on an error, the (sub)transaction's abort pops the snapshot
  pg::Call([] { PopActiveSnapshot(); });
}

// Whether the heap part holds a row visible to the current snapshot.
bool HeapHasRows(Oid leaf) {
  bool found = false;
  pg::Call([&] {
    Relation rel = table_open(leaf, AccessShareLock);
    TableScanDesc scan = table_beginscan(rel, GetActiveSnapshot(), 0, nullptr);
    TupleTableSlot* slot = table_slot_create(rel, nullptr);
    found = table_scan_getnextslot(scan, ForwardScanDirection, slot);
    ExecDropSingleTupleTableSlot(slot);
    table_endscan(scan);
    table_close(rel, NoLock);
  });
  return found;
}

int64_t TotalBytes(Oid rel) {
  const auto r = pg::Query("SELECT pg_catalog.pg_total_relation_size($1::pg_catalog.oid)::text", {std::to_string(rel)});
  return r.empty() || !r[0][0] ? 0 : std::stoll(*r[0][0]);
}

// The swap's lock: ACCESS EXCLUSIVE on the partition with strata.lock_timeout, each attempt in a
// subtransaction (a timeout undoes only the attempt), retried with backoff up to strata.ddl_retries.
int LockForSwap(Oid leaf) {
  const core::Backoff backoff{50, 2000};
  for (int attempt = 1;; attempt++) {
    try {
      pg::InSubTransaction([&] {
        pg::WithLockTimeout(config::lock_timeout_ms, [&] { pg::Call([&] { LockRelationOid(leaf, AccessExclusiveLock); }); });
      });
      return attempt;
    } catch (const pg::PgError& e) {
      if (!core::IsRetryableSqlstate(e.sqlstate()) || attempt >= config::ddl_retries) throw;
      const long ms = static_cast<long>(backoff.DelayMs(attempt, uint32_t(leaf)));
      pg::Call([&] {
        CHECK_FOR_INTERRUPTS();
        pg_usleep(ms * 1000L);
        CHECK_FOR_INTERRUPTS();
      });
    }
  }
}

// Empties the partition's heap as TRUNCATE does (new relfilenodes for it and its TOAST table, indexes
// rebuilt empty), without TRUNCATE's triggers or its logical-decoding record. Caller holds ACCESS
// EXCLUSIVE.
void EmptyHeap(Oid leaf, bool reindex, const char* what) {
  pg::Call([&] {
    Relation rel = table_open(leaf, NoLock);
    CheckTableNotInUse(rel, what);
    RelationSetNewRelfilenode(rel, rel->rd_rel->relpersistence);
    pgstat_count_truncate(rel);  // its live and dead row counts start again from zero
    const Oid toast = rel->rd_rel->reltoastrelid;
    if (OidIsValid(toast)) {
      Relation t = table_open(toast, AccessExclusiveLock);
      RelationSetNewRelfilenode(t, t->rd_rel->relpersistence);
      table_close(t, NoLock);
    }
    table_close(rel, NoLock);
  });
  if (reindex) {
    pg::Call([&] {
      ReindexParams params = {};
#if PG_VERSION_NUM >= 170000
      reindex_relation(nullptr, leaf, REINDEX_REL_PROCESS_TOAST, &params);
#else
      reindex_relation(leaf, REINDEX_REL_PROCESS_TOAST, &params);
#endif
      CommandCounterIncrement();
    });
  }
}


std::string ArrayLiteral(const std::vector<AttrNumber>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); i++) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "}";
}

std::string NameArrayLiteral(const std::vector<std::string>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); i++) {
    std::string q = "\"";
    for (char ch : v[i]) q += (ch == '"' || ch == '\\') ? std::string("\\") + ch : std::string(1, ch);
    s += (i ? "," : "") + q + "\"";
  }
  return s + "}";
}

std::vector<std::string> ParseNames(const std::optional<std::string>& text_array) {
  std::vector<std::string> out;
  if (!text_array) return out;
  for (const auto& r : pg::Query("SELECT pg_catalog.unnest($1::pg_catalog.text[])", {*text_array})) out.push_back(*r[0]);
  return out;
}

}  // namespace

// Drops a batch table (strata's: an extension member, so first released from the extension).
void DropSibling(Oid sibling) {
  pg::Call([&] {
    if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(sibling))) return;
    deleteDependencyRecordsForClass(RelationRelationId, sibling, ExtensionRelationId, DEPENDENCY_EXTENSION);
    CommandCounterIncrement();
    ObjectAddress obj;
    ObjectAddressSet(obj, RelationRelationId, sibling);
    performDeletion(&obj, DROP_RESTRICT, PERFORM_DELETION_INTERNAL);
  });
}

// Forgets a compressed partition: its state row goes and every backend plans it as a heap again.
void ForgetState(Oid leaf) {
  pg::AsExtensionOwner([&] {
    pg::Query("DELETE FROM strata.columnar_partition WHERE leaf = $1::pg_catalog.oid RETURNING 1", {std::to_string(leaf)});
  });
  pg::Call([&] {
    if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(leaf))) CacheInvalidateRelcacheByRelid(leaf);
    CommandCounterIncrement();
  });
}

Conversion CompressLocked(Oid leaf, const std::optional<Compressed>& was, bool same_settings,
                          const std::vector<std::string>& segment_by, const std::string& order_by);

Conversion Compress(Oid leaf) {
  const Leaf l = CheckLeaf(leaf, true);
  // Writers into this partition wait from here to the commit; readers do not until the swap. Everything
  // about its state is read after the lock (a conversion that committed while this one waited is seen).
  pg::WithLockTimeout(config::lock_timeout_ms, [&] { pg::Call([&] { LockRelationOid(leaf, ShareLock); }); });
  const std::optional<Compressed> was = Lookup(leaf);
  // Settings: the set's policy, else those it was compressed with, else none (ordered by the set's
  // control column).
  std::vector<std::string> segment_by;
  std::string order_by;
  bool from_policy = false;
  if (l.parent) {
    const auto p = pg::Query("SELECT p.segment_by::text, p.order_by::text, s.control_column::text FROM strata.partition_set s "
                             "LEFT JOIN strata.columnar_policy p ON p.parent = s.parent WHERE s.parent = $1::pg_catalog.oid::pg_catalog.regclass",
                             {*l.parent});
    if (!p.empty()) {
      from_policy = p[0][0].has_value();
      segment_by = ParseNames(p[0][0]);
      order_by = p[0][1] ? *p[0][1] : (p[0][2] ? *p[0][2] : "");
    }
  }
  // The settings it was compressed with (read once: the default here, and what "already compressed"
  // compares with).
  bool same = false;
  if (was) {
    const auto r = pg::Query("SELECT segment_by::text, order_by::text FROM strata.columnar_partition WHERE leaf = $1::pg_catalog.oid",
                             {std::to_string(leaf)});
    if (!r.empty()) {
      const std::vector<std::string> was_segment_by = ParseNames(r[0][0]);
      const std::string was_order_by = r[0][1] ? *r[0][1] : "";
      if (!from_policy) segment_by = was_segment_by, order_by = was_order_by;
      same = was_segment_by == segment_by && was_order_by == order_by;
    }
  }
  Conversion done;
  WithFreshSnapshot([&] { done = CompressLocked(leaf, was, same, segment_by, order_by); });
  return done;
}

// Compress after its SHARE lock, under a snapshot taken after it.
Conversion CompressLocked(Oid leaf, const std::optional<Compressed>& was, bool same_settings,
                          const std::vector<std::string>& segment_by, const std::string& order_by) {
  Conversion out;
  const TimestampTz started = GetCurrentTimestamp();
  if (was && same_settings && !HeapHasRows(leaf)) {
    out.note = "already compressed";
    return out;
  }
  out.bytes_before = TotalBytes(leaf) + (was ? TotalBytes(was->sibling) : 0);
  std::string name;
  pg::Call([&] { name = "_columnar_" + std::to_string(leaf) + "_" + std::to_string(GetTopTransactionId()); });
  if (was && name == get_rel_name(was->sibling)) name += "_b";
  const std::string schema = "strata";
  const BuildResult b = BuildBatches(leaf, &schema, name, segment_by, order_by);
  pg::Call([&] {
    ObjectAddress sib, ext;
    ObjectAddressSet(sib, RelationRelationId, b.sibling);
    ObjectAddressSet(ext, ExtensionRelationId, get_extension_oid("strata", false));
    recordDependencyOn(&sib, &ext, DEPENDENCY_EXTENSION);
  });
  out.attempts = LockForSwap(leaf);
  EmptyHeap(leaf, true, "compress_partition");
  if (was) DropSibling(was->sibling);
  out.rows = b.rows;
  out.batches = b.batches;
  out.bytes_after = TotalBytes(leaf) + TotalBytes(b.sibling);
  const double ms = double(GetCurrentTimestamp() - started) / 1000.0;
  pg::AsExtensionOwner([&] {
    pg::Query(
        "INSERT INTO strata.columnar_partition AS c (leaf, sibling, segment_attnums, batch_attnums, order_attnum, rows, batches, "
        "  segment_by, order_by, bytes_before, bytes_after, compressed_at, duration_ms, compressions) "
        "VALUES ($1::pg_catalog.oid, $2::pg_catalog.oid, $3::pg_catalog.int2[], $4::pg_catalog.int2[], $5::pg_catalog.int2, "
        "  $6::pg_catalog.int8, $7::pg_catalog.int8, $8::pg_catalog.name[], $9::pg_catalog.name, $10::pg_catalog.int8, "
        "  $11::pg_catalog.int8, pg_catalog.now(), $12::pg_catalog.float8, 1) "
        "ON CONFLICT (leaf) DO UPDATE SET sibling = EXCLUDED.sibling, segment_attnums = EXCLUDED.segment_attnums, "
        "  batch_attnums = EXCLUDED.batch_attnums, order_attnum = EXCLUDED.order_attnum, rows = EXCLUDED.rows, "
        "  batches = EXCLUDED.batches, segment_by = EXCLUDED.segment_by, order_by = EXCLUDED.order_by, "
        "  bytes_before = EXCLUDED.bytes_before, bytes_after = EXCLUDED.bytes_after, compressed_at = EXCLUDED.compressed_at, "
        "  duration_ms = EXCLUDED.duration_ms, compressions = c.compressions + 1 RETURNING 1",
        {std::to_string(leaf), std::to_string(b.sibling), ArrayLiteral(b.segment), ArrayLiteral(b.batch),
         b.order ? std::optional<std::string>(std::to_string(b.order)) : std::nullopt, std::to_string(b.rows),
         std::to_string(b.batches), NameArrayLiteral(segment_by),
         order_by.empty() ? std::nullopt : std::optional<std::string>(order_by), std::to_string(out.bytes_before),
         std::to_string(out.bytes_after), std::to_string(ms)});
  });
  pg::Call([&] {
    CacheInvalidateRelcacheByRelid(leaf);
    CommandCounterIncrement();
  });
  out.done = true;
  return out;
}

void DecompressLocked(Oid leaf, const Leaf& l, const Compressed& was_c, Conversion* outp);

Conversion Decompress(Oid leaf) {
  Conversion out;
  const Leaf l = CheckLeaf(leaf, false);
  if (!Lookup(leaf)) {
    out.note = "not compressed";
    return out;
  }
  out.attempts = LockForSwap(leaf);
  const std::optional<Compressed> was = Lookup(leaf);  // again, after the lock
  if (!was) {
    out.note = "not compressed";
    return out;
  }
  WithFreshSnapshot([&] { DecompressLocked(leaf, l, *was, &out); });
  return out;
}

// Decompress after its lock, under a snapshot taken after it.
void DecompressLocked(Oid leaf, const Leaf& l, const Compressed& was_c, Conversion* outp) {
  Conversion& out = *outp;
  const Compressed* was = &was_c;
  out.bytes_before = TotalBytes(leaf) + TotalBytes(was->sibling);
  // Every row, as the read path returns it, kept before the heap is emptied.
  Relation rel = nullptr;
  Tuplestorestate* rows = nullptr;
  std::string cols;
  pg::Call([&] {
    rel = table_open(leaf, NoLock);
    TupleDesc desc = RelationGetDescr(rel);
    for (int a = 1; a <= desc->natts; a++) {
      Form_pg_attribute att = TupleDescAttr(desc, a - 1);
      if (att->attisdropped) continue;
      cols += std::string(cols.empty() ? "" : ", ") + quote_identifier(NameStr(att->attname));
    }
  });
  const std::string query = "SELECT " + cols + " FROM ONLY " + l.qualified;
  pg::Call([&] {
    TupleDesc desc = RelationGetDescr(rel);
    const int natts = desc->natts;
    rows = tuplestore_begin_heap(false, false, work_mem);
    Portal portal = SPI_cursor_open_with_args(nullptr, query.c_str(), 0, nullptr, nullptr, nullptr, true, 0);
    Datum* values = static_cast<Datum*>(palloc(sizeof(Datum) * std::max(1, natts)));
    bool* nulls = static_cast<bool*>(palloc(sizeof(bool) * std::max(1, natts)));
    for (;;) {
      SPI_cursor_fetch(portal, true, 10000);
      if (SPI_processed == 0) break;
      for (uint64 r = 0; r < SPI_processed; r++) {
        int k = 0;
        for (int a = 1; a <= natts; a++) {
          if (TupleDescAttr(desc, a - 1)->attisdropped) {
            values[a - 1] = (Datum) 0, nulls[a - 1] = true;
            continue;
          }
          values[a - 1] = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, ++k, &nulls[a - 1]);
          // A value kept in the partition's TOAST table is read now: that table is emptied below.
          if (!nulls[a - 1] && TupleDescAttr(desc, a - 1)->attlen == -1 &&
              VARATT_IS_EXTERNAL(DatumGetPointer(values[a - 1])))
            values[a - 1] = PointerGetDatum(detoast_external_attr(reinterpret_cast<struct varlena*>(DatumGetPointer(values[a - 1]))));
        }
        tuplestore_putvalues(rows, desc, values, nulls);
        out.rows++;
      }
      SPI_freetuptable(SPI_tuptable);
    }
    SPI_cursor_close(portal);
    table_close(rel, NoLock);
  });
  EmptyHeap(leaf, false, "decompress_partition");
  pg::Call([&] {
    rel = table_open(leaf, NoLock);
    TupleDesc desc = RelationGetDescr(rel);
    TupleTableSlot* slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
    const CommandId cid = GetCurrentCommandId(true);
    while (tuplestore_gettupleslot(rows, true, false, slot)) {
      bool should_free;
      HeapTuple tup = ExecFetchSlotHeapTuple(slot, false, &should_free);
      heap_insert(rel, tup, cid, HEAP_INSERT_FROZEN | HEAP_INSERT_NO_LOGICAL, nullptr);
      if (should_free) heap_freetuple(tup);
    }
    ExecDropSingleTupleTableSlot(slot);
    tuplestore_end(rows);
    table_close(rel, NoLock);
    CommandCounterIncrement();
    ReindexParams params = {};
#if PG_VERSION_NUM >= 170000
    reindex_relation(nullptr, leaf, REINDEX_REL_PROCESS_TOAST, &params);
#else
    reindex_relation(leaf, REINDEX_REL_PROCESS_TOAST, &params);
#endif
  });
  DropSibling(was->sibling);
  ForgetState(leaf);
  out.bytes_after = TotalBytes(leaf);
  out.done = true;
}

}  // namespace strata::columnar

namespace pg = strata::pg;
namespace core = strata::core;
namespace columnar = strata::columnar;

namespace {

std::string Details(const columnar::Conversion& c, double ms) {
  return "{\"rows\": " + std::to_string(c.rows) + ", \"batches\": " + std::to_string(c.batches) +
         ", \"bytes_before\": " + std::to_string(c.bytes_before) + ", \"bytes_after\": " + std::to_string(c.bytes_after) +
         ", \"lock_attempts\": " + std::to_string(c.attempts) + ", \"duration_ms\": " + std::to_string(ms) + "}";
}

Datum Convert(FunctionCallInfo fcinfo, bool compress) {
  if (PG_ARGISNULL(0)) throw core::Error(core::sqlstate::kInvalidParameterValue, "partition must not be null");
  const Oid leaf = PG_GETARG_OID(0);
  const TimestampTz started = GetCurrentTimestamp();
  pg::SpiConnect();
  const columnar::Conversion c = compress ? columnar::Compress(leaf) : columnar::Decompress(leaf);
  std::string target;
  pg::Call([&] { target = quote_qualified_identifier(get_namespace_name(get_rel_namespace(leaf)), get_rel_name(leaf)); });
  const double ms = double(GetCurrentTimestamp() - started) / 1000.0;
  strata::jobs::RecordJob(compress ? "columnar_compress" : "columnar_decompress", target, c.done ? "ok" : "skipped",
                          c.done ? (compress ? "compressed by hand" : "decompressed by hand") : c.note, Details(c, ms), started);
  pg::SpiFinish();
  PG_RETURN_INT64(c.rows);
}

}  // namespace

// compress_partition(partition regclass) -> bigint: rows now in batches (0: nothing to do).
STRATA_FUNCTION(strata_compress_partition) { return Convert(fcinfo, true); }
// decompress_partition(partition regclass) -> bigint: rows moved back into the heap (0: not compressed).
STRATA_FUNCTION(strata_decompress_partition) { return Convert(fcinfo, false); }
