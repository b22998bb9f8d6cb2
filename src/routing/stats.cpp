// Counting routed executions per rollup (stats.hpp). A fixed table of slots in shared memory, one per
// (database, rollup view) seen; a slot is claimed under the lock once, then counted with atomics. When
// the table is full, further rollups are not counted (the view says how many were left out).
#include "routing/stats.hpp"

#include "pg/guard.hpp"

namespace strata::routing {
namespace {

constexpr int kSlots = 1024;

struct Slot {
  Oid db;
  Oid view;
  pg_atomic_uint64 executions;
  pg_atomic_uint64 rows_saved;  // the rows the queries as written would have read more, as estimated, summed
};

// Routed executions per statement (database, user, query id, as pg_stat_statements keys it): what the
// advisor subtracts from a statement's calls to find the calls no rollup answered. An open-addressing
// table without a lock: a slot is claimed by compare-and-swap of its state (empty -> claiming), its keys
// written, then published (ready); readers trust ready slots only. A key found nowhere within kProbe
// slots of its hash is not counted; a race can give one key two slots (the reader sums them).
constexpr int kQuerySlots = 8192;
constexpr int kProbe = 32;

struct QuerySlot {
  pg_atomic_uint32 state;  // 0 empty, 1 being claimed, 2 ready
  Oid db;
  Oid user;
  uint64 query_id;
  pg_atomic_uint64 executions;
};

struct Shared {
  LWLock* lock;
  int used;
  pg_atomic_uint64 not_counted;  // executions of rollups that found the table full
  Slot slots[kSlots];
  QuerySlot queries[kQuerySlots];
};

Shared* shared = nullptr;
shmem_request_hook_type prev_request = nullptr;
shmem_startup_hook_type prev_startup = nullptr;
ExecutorStart_hook_type prev_executor_start = nullptr;

void Request() {
  if (prev_request) prev_request();
  RequestAddinShmemSpace(MAXALIGN(sizeof(Shared)));
  RequestNamedLWLockTranche("strata_routing", 1);
}

void Startup() {
  if (prev_startup) prev_startup();
  bool found = false;
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  shared = static_cast<Shared*>(ShmemInitStruct("strata_routing", sizeof(Shared), &found));
  if (!found) {
    memset(shared, 0, sizeof(Shared));
    shared->lock = &(GetNamedLWLockTranche("strata_routing"))->lock;
    pg_atomic_init_u64(&shared->not_counted, 0);
    for (auto& s : shared->slots) {
      pg_atomic_init_u64(&s.executions, 0);
      pg_atomic_init_u64(&s.rows_saved, 0);
    }
    for (auto& q : shared->queries) {
      pg_atomic_init_u32(&q.state, 0);
      pg_atomic_init_u64(&q.executions, 0);
    }
  }
  LWLockRelease(AddinShmemInitLock);
}

Slot* FindSlot(Oid view) {
  // Slots are only ever added (under the lock, `used` raised after the slot is filled): a scan of the
  // first `used` slots without the lock sees complete ones.
  const int used = *static_cast<volatile int*>(&shared->used);
  for (int i = 0; i < used; i++)
    if (shared->slots[i].db == MyDatabaseId && shared->slots[i].view == view) return &shared->slots[i];
  LWLockAcquire(shared->lock, LW_EXCLUSIVE);
  Slot* out = nullptr;
  for (int i = 0; i < shared->used && out == nullptr; i++)
    if (shared->slots[i].db == MyDatabaseId && shared->slots[i].view == view) out = &shared->slots[i];
  if (out == nullptr && shared->used < kSlots) {
    out = &shared->slots[shared->used];
    out->db = MyDatabaseId;
    out->view = view;
    pg_write_barrier();
    shared->used++;
  }
  LWLockRelease(shared->lock);
  return out;
}

QuerySlot* FindQuerySlot(Oid user, uint64 query_id) {
  uint64 h = query_id ^ (uint64(MyDatabaseId) * 0x9E3779B97F4A7C15ULL) ^ (uint64(user) << 32);
  h ^= h >> 29;
  for (int i = 0; i < kProbe; i++) {
    QuerySlot* q = &shared->queries[(h + i) % kQuerySlots];
    uint32 st = pg_atomic_read_u32(&q->state);
    if (st == 0) {
      uint32 expected = 0;
      if (pg_atomic_compare_exchange_u32(&q->state, &expected, 1)) {
        q->db = MyDatabaseId;
        q->user = user;
        q->query_id = query_id;
        pg_write_barrier();
        pg_atomic_write_u32(&q->state, 2);
        return q;
      }
      st = expected;
    }
    if (st == 2) {
      pg_read_barrier();
      if (q->db == MyDatabaseId && q->user == user && q->query_id == query_id) return q;
    }
  }
  return nullptr;
}

// Counts a routed plan as it starts. Cannot ERROR: a scan of the range table, atomics and one LWLock.
void ExecutorStartHook(QueryDesc* desc, int eflags) {
  if (shared != nullptr && !(eflags & EXEC_FLAG_EXPLAIN_ONLY) && desc->plannedstmt) {
    if (const auto f = ReadRoutedFigures(desc->plannedstmt)) {
      Slot* s = FindSlot(f->view);
      if (s == nullptr) {
        pg_atomic_fetch_add_u64(&shared->not_counted, 1);
      } else {
        pg_atomic_fetch_add_u64(&s->executions, 1);
        pg_atomic_fetch_add_u64(&s->rows_saved, f->rows_saved);
      }
      // A statement without a slot is not counted per statement (the advisor then sees its calls as
      // not routed).
      if (desc->plannedstmt->queryId != 0)
        if (QuerySlot* q = FindQuerySlot(GetUserId(), desc->plannedstmt->queryId)) pg_atomic_fetch_add_u64(&q->executions, 1);
    }
  }
  if (prev_executor_start)
    prev_executor_start(desc, eflags);
  else
    standard_ExecutorStart(desc, eflags);
}

uint64 Digits(const Node* n) {
  uint64 v = 0;
  if (n != nullptr && IsA(n, String))
    for (const char* c = strVal(n); *c >= '0' && *c <= '9'; c++) v = v * 10 + static_cast<uint64>(*c - '0');
  return v;
}

}  // namespace

std::optional<RoutedFigures> ReadRoutedFigures(const PlannedStmt* plan) {
  if (plan == nullptr) return std::nullopt;
  ListCell* lc;
  foreach (lc, plan->rtable) {
    const RangeTblEntry* rte = static_cast<const RangeTblEntry*>(lfirst(lc));
    // Only the entry planner.cpp makes: a user's view named so has an alias or sits in FROM, a
    // statement's target has other permission bits, view expansion leaves "old" entries with an alias.
    if (rte->rtekind == RTE_RELATION && rte->relkind == RELKIND_VIEW && rte->alias == nullptr && !rte->inFromCl &&
        rte->requiredPerms == ACL_SELECT && rte->eref && strcmp(rte->eref->aliasname, kRollupEntryAlias) == 0 &&
        list_length(rte->eref->colnames) == 4) {
      RoutedFigures f;
      f.view = rte->relid;
      const List* names = rte->eref->colnames;
      f.rows_saved = Digits(static_cast<const Node*>(linitial(names)));
      f.rows_read = Digits(static_cast<const Node*>(lsecond(names)));
      const Node* rare = static_cast<const Node*>(lthird(names));
      if (IsA(rare, String)) {
        int v = -1;
        for (const char* c = strVal(rare);; c++) {
          if (*c >= '0' && *c <= '9') {
            v = (v < 0 ? 0 : v * 10) + (*c - '0');
          } else {
            if (v >= 0) f.rare_arms.push_back(v);
            v = -1;
            if (*c == '\0') break;
          }
        }
      }
      const Node* zone = static_cast<const Node*>(lfourth(names));
      if (IsA(zone, String)) f.time_zone = strVal(zone);
      return f;
    }
  }
  return std::nullopt;
}

void InitStats() {
  prev_request = shmem_request_hook;
  shmem_request_hook = Request;
  prev_startup = shmem_startup_hook;
  shmem_startup_hook = Startup;
  prev_executor_start = ExecutorStart_hook;
  ExecutorStart_hook = ExecutorStartHook;
}

}  // namespace strata::routing

// strata._routing_counts() -> TABLE(view oid, executions bigint, rows_saved bigint): this database's
// slots, plus (view 0) the executions not counted for want of a slot. Empty when strata is not preloaded.
STRATA_FUNCTION(strata_routing_counts) {
  using strata::routing::shared;
  strata::pg::Call([&] {
    InitMaterializedSRF(fcinfo, 0);
    if (shared == nullptr) return;
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    Datum values[3];
    bool nulls[3] = {false, false, false};
    const int used = *static_cast<volatile int*>(&shared->used);
    for (int i = 0; i < used; i++) {
      if (shared->slots[i].db != MyDatabaseId) continue;
      values[0] = ObjectIdGetDatum(shared->slots[i].view);
      values[1] = Int64GetDatum(static_cast<int64>(pg_atomic_read_u64(&shared->slots[i].executions)));
      values[2] = Int64GetDatum(static_cast<int64>(pg_atomic_read_u64(&shared->slots[i].rows_saved)));
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    values[0] = ObjectIdGetDatum(InvalidOid);
    values[1] = Int64GetDatum(static_cast<int64>(pg_atomic_read_u64(&shared->not_counted)));
    values[2] = Int64GetDatum(0);
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  });
  return (Datum)0;
}

// strata._routed_queries() -> TABLE(user_id oid, query_id bigint, executions bigint): this database's
// routed executions per user and statement (query id as pg_stat_statements shows it), for the caller's
// own statements, or every user's for members of pg_read_all_stats (as pg_stat_statements shows them).
// Empty when strata is not preloaded.
STRATA_FUNCTION(strata_routed_queries) {
  using strata::routing::shared;
  strata::pg::Call([&] {
    InitMaterializedSRF(fcinfo, 0);
    if (shared == nullptr) return;
    const Oid me = GetUserId();
    const bool all = has_privs_of_role(me, ROLE_PG_READ_ALL_STATS);
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    Datum values[3];
    bool nulls[3] = {false, false, false};
    for (auto& q : shared->queries) {
      if (pg_atomic_read_u32(&q.state) != 2) continue;
      pg_read_barrier();
      if (q.db != MyDatabaseId || (!all && q.user != me)) continue;
      values[0] = ObjectIdGetDatum(q.user);
      values[1] = Int64GetDatum(static_cast<int64>(q.query_id));
      values[2] = Int64GetDatum(static_cast<int64>(pg_atomic_read_u64(&q.executions)));
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
  });
  return (Datum)0;
}
