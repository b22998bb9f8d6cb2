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

std::vector<AttrNumber> Attnums(Datum d) {
  std::vector<AttrNumber> out;
  ArrayType* a = DatumGetArrayTypeP(d);
  Datum* elems;
  bool* nulls;
  int n;
  deconstruct_array(a, INT2OID, 2, true, TYPALIGN_SHORT, &elems, &nulls, &n);
  for (int i = 0; i < n; i++) out.push_back(nulls[i] ? 0 : DatumGetInt16(elems[i]));
  return out;
}

// Reads the table into `entries` (no transaction or no strata here: empty).
void Load() {
  entries.clear();
  valid = false;
  if (!IsTransactionState()) return;
  pg::Call([&] {
    const Oid nsp = get_namespace_oid("strata", true);
    const Oid relid = OidIsValid(nsp) ? get_relname_relid("columnar_partition", nsp) : InvalidOid;
    if (!OidIsValid(relid)) return;
    Relation rel = table_open(relid, AccessShareLock);
    // A parallel worker cannot take a new snapshot: it reads as its leader's statement does.
    Snapshot snap = RegisterSnapshot(IsInParallelMode() ? GetActiveSnapshot() : GetLatestSnapshot());
    TableScanDesc scan = table_beginscan(rel, snap, 0, nullptr);
    HeapTuple tup;
    TupleDesc desc = RelationGetDescr(rel);
    while ((tup = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
      bool isnull;
      Compressed c;
      c.leaf = DatumGetObjectId(heap_getattr(tup, 1, desc, &isnull));
      c.sibling = DatumGetObjectId(heap_getattr(tup, 2, desc, &isnull));
      c.segment = Attnums(heap_getattr(tup, 3, desc, &isnull));
      c.batch = Attnums(heap_getattr(tup, 4, desc, &isnull));
      const Datum order = heap_getattr(tup, 5, desc, &isnull);
      c.order = isnull ? 0 : DatumGetInt16(order);
      const Datum rows = heap_getattr(tup, 6, desc, &isnull);
      c.rows = isnull ? 0 : double(DatumGetInt64(rows));
      entries[c.leaf] = c;
    }
    table_endscan(scan);
    UnregisterSnapshot(snap);
    table_close(rel, AccessShareLock);
  });
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
