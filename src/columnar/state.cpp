// The per-backend copy of strata.columnar_partition (state.hpp). Loaded whole (the table holds one row
// per compressed partition) with the latest snapshot, so a reader that waited for a conversion's lock
// sees the conversion's outcome, never an older one; dropped on any relcache invalidation.
#include <unordered_map>

#include "columnar/compressed.hpp"
#include "columnar/state.hpp"

namespace strata::columnar {
namespace {

bool valid = false;
bool preloaded_flag = false;
std::unordered_map<Oid, Compressed> entries;

void Invalidate(Datum, Oid) { valid = false; }

// One row of the table as read inside pg::Call: plain data in a memory context of the load (the C++
// entries are made from it afterwards, outside any Postgres call).
struct RawEntry {
  Oid leaf, sibling;
  Datum* segment;
  int nsegment;
  Datum* batch;
  int nbatch;
  AttrNumber order;
  double rows;
};

// Reads the table into `entries` (no transaction or no strata here: empty).
void Load() {
  entries.clear();
  valid = false;
  if (!IsTransactionState()) return;
  MemoryContext cxt = nullptr;
  RawEntry* raw = nullptr;
  int n = 0;
  pg::Call([&] {
    const Oid nsp = get_namespace_oid("strata", true);
    const Oid relid = OidIsValid(nsp) ? get_relname_relid("columnar_partition", nsp) : InvalidOid;
    if (!OidIsValid(relid)) return;
    cxt = AllocSetContextCreate(CurrentMemoryContext, "strata columnar state load", ALLOCSET_SMALL_SIZES);
    MemoryContext old = MemoryContextSwitchTo(cxt);
    Relation rel = table_open(relid, AccessShareLock);
    // A parallel worker cannot take a new snapshot: it reads as its leader's statement does.
    Snapshot snap = RegisterSnapshot(IsInParallelMode() ? GetActiveSnapshot() : GetLatestSnapshot());
    TableScanDesc scan = table_beginscan(rel, snap, 0, nullptr);
    TupleDesc desc = RelationGetDescr(rel);
    int cap = 16;
    raw = static_cast<RawEntry*>(palloc(sizeof(RawEntry) * cap));
    HeapTuple tup;
    while ((tup = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
      if (n == cap) raw = static_cast<RawEntry*>(repalloc(raw, sizeof(RawEntry) * (cap *= 2)));
      RawEntry& e = raw[n++];
      bool isnull;
      bool* nulls;
      e.leaf = DatumGetObjectId(heap_getattr(tup, 1, desc, &isnull));
      e.sibling = DatumGetObjectId(heap_getattr(tup, 2, desc, &isnull));
      deconstruct_array(DatumGetArrayTypeP(heap_getattr(tup, 3, desc, &isnull)), INT2OID, 2, true, TYPALIGN_SHORT,
                        &e.segment, &nulls, &e.nsegment);
      deconstruct_array(DatumGetArrayTypeP(heap_getattr(tup, 4, desc, &isnull)), INT2OID, 2, true, TYPALIGN_SHORT,
                        &e.batch, &nulls, &e.nbatch);
      const Datum order = heap_getattr(tup, 5, desc, &isnull);
      e.order = isnull ? 0 : DatumGetInt16(order);
      const Datum rows = heap_getattr(tup, 6, desc, &isnull);
      e.rows = isnull ? 0 : double(DatumGetInt64(rows));
    }
    table_endscan(scan);
    UnregisterSnapshot(snap);
    table_close(rel, AccessShareLock);
    MemoryContextSwitchTo(old);
  });
  for (int i = 0; i < n; i++) {
    Compressed c;
    c.leaf = raw[i].leaf;
    c.sibling = raw[i].sibling;
    for (int k = 0; k < raw[i].nsegment; k++) c.segment.push_back(DatumGetInt16(raw[i].segment[k]));
    for (int k = 0; k < raw[i].nbatch; k++) c.batch.push_back(DatumGetInt16(raw[i].batch[k]));
    c.order = raw[i].order;
    c.rows = raw[i].rows;
    entries[c.leaf] = std::move(c);
  }
  if (cxt != nullptr) pg::Call([&] { MemoryContextDelete(cxt); });
  valid = true;
}

}  // namespace

std::optional<Compressed> Lookup(Oid leaf) {
  if (!valid) Load();
  auto it = entries.find(leaf);
  if (it == entries.end()) return std::nullopt;
  return it->second;
}

bool AnyCompressed() {
  if (!valid) Load();
  return !entries.empty();
}

std::vector<Compressed> All() {
  if (!valid) Load();
  std::vector<Compressed> out;
  for (const auto& [leaf, c] : entries) out.push_back(c);
  return out;
}

std::string CompressedOidArray() {
  std::string s = "'{";
  bool first = true;
  for (const Compressed& c : All()) {
    s += (first ? "" : ",") + std::to_string(c.leaf);
    first = false;
  }
  return s + "}'::pg_catalog.oid[]";
}

void InitState(bool preloaded) {
  preloaded_flag = preloaded;
  CacheRegisterRelcacheCallback(Invalidate, (Datum) 0);
}

bool Preloaded() { return preloaded_flag; }

}  // namespace strata::columnar
