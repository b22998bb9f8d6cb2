// Executing partition-maintenance plans; see maintenance.hpp and README.md in this folder.
#include "partitions/maintenance.hpp"

#include <map>

#include "config.hpp"
#include "core/backoff.hpp"
#include "core/error.hpp"
#include "core/naming.hpp"
#include "core/partition_sql.hpp"
#include "partitions/figures.hpp"
#include "pg/spi.hpp"
#include "rollups/retention.hpp"
#include "pg/xact.hpp"
#include "pg/security.hpp"
#include "pg/names.hpp"
#include "jobs/job_runs.hpp"

namespace strata::partitions {
namespace {

using core::Action;
using core::ActionKind;
using core::TableRef;

const char* ActionName(ActionKind k) {
  switch (k) {
    case ActionKind::kCreate: return "create";
    case ActionKind::kDetach: return "detach";
    case ActionKind::kFinalizeDetach: return "finalize_detach";
  }
  return "?";
}

std::string RangeJson(const SetRow& set, const core::Range& r) {
  return "\"range\": " +
         core::JsonString("[" + core::KeyLiteral(set.spec.kind, r.lo) + ", " + core::KeyLiteral(set.spec.kind, r.hi) + ")");
}

// Owner and grants of the parent, applied to each new partition (Postgres does not propagate them).
void FillOwnershipTemplate(const SetRow& set, core::PartitionTemplate* t) {
  const auto rows = pg::Query(
      "SELECT o.rolname, coalesce(g.rolname, ''), a.privilege_type, a.is_grantable "
      "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_roles o ON o.oid = c.relowner "
      "LEFT JOIN LATERAL pg_catalog.aclexplode(c.relacl) a ON a.grantee <> c.relowner "
      "LEFT JOIN pg_catalog.pg_roles g ON g.oid = a.grantee "
      "WHERE c.oid = $1::oid",
      {std::to_string(set.parent)});
  t->grants.clear();
  for (const auto& r : rows) {
    t->owner = *r[0];
    if (r[2]) t->grants.push_back({*r[1], *r[2], *r[3] == "t"});
  }
}

std::vector<std::string> InsertableColumns(Oid parent) {
  std::vector<std::string> cols;
  for (const auto& r : pg::Query("SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = $1::oid AND attnum > 0 "
                                 "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
                                 {std::to_string(parent)}))
    cols.push_back(*r[0]);
  return cols;
}

// Creates a standalone table for range r, moves rows of r out of the default partition when the set has
// one, and
// attaches it. ATTACH takes SHARE UPDATE EXCLUSIVE on the parent, which does not block inserts.
uint64_t CreateAndAttach(const SetRow& set, const Facts& facts, const std::string& name, const core::Range& r) {
  // With a default partition every new partition is a move: rows of r may already wait there (a key
  // that was beyond the horizon when it arrived), and ATTACH would fail on them.
  const bool from_default = OidIsValid(facts.default_oid);
  const TableRef parent{set.spec.schema, set.spec.parent};
  const TableRef part{set.spec.schema, name};
  core::PartitionTemplate t = set.tmpl;
  FillOwnershipTemplate(set, &t);
  uint64_t moved = 0;
  if (from_default) {
    // Stop writers of the default partition (readers continue) so no row of r lands there between the
    // move and the attach, whose check of the default partition would then fail.
    pg::Exec(core::LockDefaultSql(TableRef{facts.default_schema, facts.default_name}));
  }
  pg::Exec(core::CreateStandaloneSql(parent, part, t));
  if (from_default)
    moved = pg::Exec(core::MoveRowsSql(TableRef{facts.default_schema, facts.default_name}, part, set.column,
                                       InsertableColumns(set.parent), set.spec.kind, r));
  for (const auto& sql : core::OwnershipSql(part, t)) pg::Exec(sql);
  pg::Exec(core::AttachSql(parent, part, set.spec.kind, r));
  return moved;
}

struct ActionResult {
  std::string status = "ok";
  std::string message;
  uint64_t rows = 0;
  int attempts = 0;
};

// Runs `body` with lock_timeout retries: in worker mode each attempt is its own transaction, in
// session mode its own subtransaction, in create mode it runs directly and errors propagate.
ActionResult WithRetries(Mode mode, Oid run_as, uint32_t seed, const std::function<void(ActionResult*)>& body,
                         const std::function<void(const ActionResult&)>& on_success_in_txn) {
  ActionResult res;
  const core::Backoff backoff{50, 2000};
  for (int attempt = 1;; attempt++) {
    res.attempts = attempt;
    try {
      if (mode == Mode::kCreate) {
        body(&res);
        return res;
      }
      if (mode == Mode::kSession) {
        pg::InSubTransaction([&] { body(&res); });
        return res;
      }
      pg::BeginWorkerTxn();
      pg::AsRole(run_as, [&] { body(&res); });
      if (on_success_in_txn) on_success_in_txn(res);
      pg::CommitWorkerTxn();
      return res;
    } catch (const pg::PgError& e) {
      if (mode == Mode::kCreate) throw;
      const int code = e.sqlstate();
      res.message = e.what();
      if (mode == Mode::kWorker) pg::AbortWorkerTxn();
      if (core::IsRetryableSqlstate(code) && attempt < config::ddl_retries) {
        const long ms = static_cast<long>(backoff.DelayMs(attempt, seed));
        pg::Call([&] {
          CHECK_FOR_INTERRUPTS();
          pg_usleep(ms * 1000L);
          CHECK_FOR_INTERRUPTS();
        });
        continue;
      }
      res.status = core::IsRetryableSqlstate(code) ? "skipped" : "failed";
      if (res.status == "skipped") res.message += " (will retry at the next pass)";
      return res;
    }
  }
}

std::string Qualified(const std::string& schema, const std::string& name) {
  return core::QualifiedName(schema, name);
}

void Finish(Mode mode, const SetRow& set, const std::string& action, const std::string& partition,
            const ActionResult& r, const std::string& reason, const std::string& extra_json, TimestampTz started,
            int64_t job, std::vector<Outcome>* out) {
  const std::string details = "{\"reason\": " + core::JsonString(reason) + ", \"attempts\": " +
                              std::to_string(r.attempts) + (extra_json.empty() ? "" : ", " + extra_json) + "}";
  const std::string target = Qualified(set.spec.schema, set.spec.parent);
  std::string message = r.message.empty() ? reason : r.message;
  if (mode == Mode::kWorker) {
    // The success row was written inside the action's transaction; failures are written now.
    if (r.status != "ok") {
      pg::BeginWorkerTxn();
      jobs::JobEnd(job, r.status, message, details);
      pg::CommitWorkerTxn();
      pg::Call([&] {
        ereport(LOG, (errmsg("strata: %s of %s for %s: %s", action.c_str(), partition.c_str(), target.c_str(),
                             message.c_str())));
      });
    }
  } else if (mode == Mode::kSession) {
    jobs::RecordJob("partition_" + action, target, r.status, message, details, started);
  }
  if (out) out->push_back({set.parent, action, partition, r.status, message});
}

// Commits a 'running' job row in its own transaction and returns its id.
int64_t BeginWorkerJob(const std::string& kind, const std::string& target, const std::string& reason,
                       const std::string& extra, Oid run_as) {
  pg::BeginWorkerTxn();
  const int64_t id = jobs::JobBegin(kind, target, reason, "{\"reason\": " + core::JsonString(reason) + ", " + extra + "}",
                              pg::RoleName(run_as));
  pg::CommitWorkerTxn();
  return id;
}

// Retention never drops rows a rollup has not absorbed yet: the detach waits (recorded as skipped)
// until every rollup reading the set has processed the partition's rows and queued recomputes. Once
// allowed, the rollups are told that buckets before the partition's upper bound are final (their raw
// rows are going), so a later UPDATE/DELETE never recomputes them from partial data.
bool RollupsAllowDetach(const SetRow& set, const Action& a, const TableRef& part, Mode mode, Oid run_as,
                        const std::string& extra, TimestampTz started, std::vector<Outcome>* out) {
  std::vector<std::string> waiting;
  auto check = [&] {
    waiting = rollups::RollupsNotDone(set.parent, part.Sql());
    const bool time = set.spec.kind != core::KeyKind::kInt32 && set.spec.kind != core::KeyKind::kInt64;
    if (waiting.empty() && time) rollups::MarkFrozenBefore(set.parent, core::KeySql(set.spec.kind, a.range.hi));
  };
  std::string failure;
  try {
    if (mode == Mode::kWorker) {
      pg::BeginWorkerTxn();
      pg::AsRole(run_as, check);
      pg::CommitWorkerTxn();
    } else {
      check();
    }
  } catch (const pg::PgError& e) {
    if (mode == Mode::kWorker) pg::AbortWorkerTxn();
    if (mode == Mode::kCreate) throw;
    failure = e.what();
  }
  if (waiting.empty() && failure.empty()) return true;
  std::string names;
  for (const auto& w : waiting) names += (names.empty() ? "" : ", ") + w;
  ActionResult r;
  r.status = failure.empty() ? "skipped" : "failed";
  r.message = failure.empty() ? "waiting for rollup " + names + " to absorb the partition's rows before retention drops it"
                              : "could not check the rollups reading this set: " + failure;
  if (mode == Mode::kWorker) {
    pg::BeginWorkerTxn();
    jobs::RecordJob("partition_detach", Qualified(set.spec.schema, set.spec.parent), r.status, r.message,
              "{\"reason\": " + core::JsonString(a.reason) + ", " + extra + "}", started);
    pg::CommitWorkerTxn();
    if (out) out->push_back({set.parent, "detach", part.Sql(), r.status, r.message});
  } else {
    Finish(mode, set, "detach", part.Sql(), r, a.reason, extra, started, 0, out);
  }
  return false;
}

void RunAction(const SetRow& set, const Facts& facts, const Action& a, Mode mode, Oid run_as,
               std::vector<Outcome>* out, int* failures) {
  const TimestampTz started = GetCurrentTimestamp();
  const TableRef parent{set.spec.schema, set.spec.parent};
  const TableRef part{a.schema, a.name};
  const std::string action = ActionName(a.kind);
  const bool concurrent = mode == Mode::kWorker && a.kind == ActionKind::kDetach && !OidIsValid(facts.default_oid);
  std::string extra = "\"partition\": " + core::JsonString(part.Sql()) + ", " + RangeJson(set, a.range);
  if (a.kind == ActionKind::kDetach)
    extra += std::string(", \"mode\": ") + (concurrent ? "\"concurrently\"" : "\"blocking\"") +
             ", \"drop\": " + (a.drop ? "true" : "false");
  const std::string target = Qualified(set.spec.schema, set.spec.parent);
  if (a.kind == ActionKind::kDetach && !RollupsAllowDetach(set, a, part, mode, run_as, extra, started, out)) {
    ++*failures;
    return;
  }
  const int64_t job = mode == Mode::kWorker ? BeginWorkerJob("partition_" + action, target, a.reason, extra, run_as) : 0;
  auto record_ok = [&](const ActionResult& r) {
    jobs::JobEnd(job, "ok", a.reason,
           "{\"reason\": " + core::JsonString(a.reason) + ", \"attempts\": " + std::to_string(r.attempts) + ", " + extra + "}");
  };
  const uint32_t seed = core::Fnv1a32(a.name);
  ActionResult r;
  if (concurrent) {
    // DETACH CONCURRENTLY manages its own two transactions at top level; the drop and the job row
    // follow in a third. If it stops between its transactions, the next pass finishes it (FINALIZE).
    r.attempts = 1;
    try {
      const rollups::RetentionDdl own;
      pg::RunTopLevelUtility(core::DetachSql(parent, part, core::DetachMode::kConcurrently), run_as);
      r = WithRetries(mode, run_as, seed, [&](ActionResult*) {
        if (a.drop) pg::Exec(core::DropSql(part));
      }, record_ok);
    } catch (const pg::PgError& e) {
      r.status = core::IsRetryableSqlstate(e.sqlstate()) ? "skipped" : "failed";
      r.message = e.what();
      if (r.status == "skipped") r.message += " (will retry at the next pass)";
    }
  } else {
    r = WithRetries(mode, run_as, seed, [&](ActionResult*) {
      const rollups::RetentionDdl own;  // a detach here passed RollupsAllowDetach
      switch (a.kind) {
        case ActionKind::kCreate: CreateAndAttach(set, facts, a.name, a.range); break;
        case ActionKind::kDetach:
          pg::Exec(core::DetachSql(parent, part, core::DetachMode::kBlocking));
          if (a.drop) pg::Exec(core::DropSql(part));
          break;
        case ActionKind::kFinalizeDetach:
          pg::Exec(core::DetachSql(parent, part, core::DetachMode::kFinalize));
          if (a.drop) pg::Exec(core::DropSql(part));
          break;
      }
    }, record_ok);
  }
  if (r.status != "ok") ++*failures;
  Finish(mode, set, action, part.Sql(), r, a.reason, extra, started, job, out);
}

// Moves rows out of the default partition, one aligned range per transaction, bounded per pass.
void MoveDefaultRows(const SetRow& set, Facts* facts, Mode mode, Oid run_as, std::vector<Outcome>* out, int* failures) {
  if (!OidIsValid(facts->default_oid)) return;
  const TableRef def{facts->default_schema, facts->default_name};
  int64_t cursor = INT64_MIN;
  for (int n = 0; n < config::move_max_ranges; n++) {
    std::string sql = "SELECT min(" + core::QuoteIdent(set.column) + ") FROM ONLY " + def.Sql();
    if (cursor != INT64_MIN) sql += " WHERE " + core::QuoteIdent(set.column) + " >= " + core::KeySql(set.spec.kind, cursor);
    std::optional<int64_t> key;
    auto probe = [&] {
      Oid t;
      if (auto d = pg::QueryDatum(sql, &t)) key = DatumToKey(*d, set.key_type);
    };
    if (mode == Mode::kWorker) {
      pg::BeginWorkerTxn();
      pg::AsRole(run_as, probe);
      pg::CommitWorkerTxn();
    } else {
      probe();
    }
    if (!key) return;
    const core::DefaultDecision d = core::DecideDefaultKey(set.spec, facts->state, *key);
    cursor = d.range.hi;
    if (d.verdict != core::DefaultVerdict::kMove) {
      // Not an action: the rows stay where they are and partition_sets shows them.
      if (out) out->push_back({set.parent, "move_default", def.Sql(), "left", d.reason});
      continue;
    }
    const TimestampTz started = GetCurrentTimestamp();
    const std::string target = Qualified(set.spec.schema, set.spec.parent);
    const std::string part = Qualified(set.spec.schema, d.name);
    const std::string extra = "\"partition\": " + core::JsonString(part) + ", " + RangeJson(set, d.range);
    const int64_t job = mode == Mode::kWorker ? BeginWorkerJob("partition_move_default", target, d.reason, extra, run_as) : 0;
    ActionResult r = WithRetries(mode, run_as, core::Fnv1a32(d.name), [&](ActionResult* res) {
      res->rows = CreateAndAttach(set, *facts, d.name, d.range);
    }, [&](const ActionResult& res) {
      jobs::JobEnd(job, "ok", "rows moved home: " + std::to_string(res.rows),
             "{\"reason\": " + core::JsonString(d.reason) + ", \"rows\": " + std::to_string(res.rows) + ", " + extra + "}");
    });
    if (r.status == "ok") {
      facts->state.partitions.push_back({0, set.spec.schema, d.name, d.range, false});
      r.message = "rows moved home: " + std::to_string(r.rows);
    } else {
      ++*failures;
    }
    Finish(mode, set, "move_default", part, r, d.reason, extra + ", \"rows\": " + std::to_string(r.rows), started, job, out);
    if (r.status != "ok") return;
  }
}

}  // namespace

void MaintainSet(const SetRow& set, Mode mode, Oid run_as, std::vector<Outcome>* out) {
  Facts facts;
  core::Plan plan;
  auto read = [&] {
    facts = ReadFacts(set, mode != Mode::kWorker);
    if (!facts.locked_out) plan = core::PlanMaintenance(set.spec, facts.state);
  };
  if (mode == Mode::kWorker) {
    pg::BeginWorkerTxn();
    read();
    pg::CommitWorkerTxn();
  } else {
    read();
  }
  if (facts.locked_out) {
    if (out) out->push_back({set.parent, "check", Qualified(set.spec.schema, set.spec.parent), "skipped",
                             "the parent table is locked; will retry at the next pass"});
    return;
  }
  // The worker runs as strata.role, or else as the parent's owner (read with the facts): never silently
  // as a superuser unless the table belongs to one.
  if (mode == Mode::kWorker && !OidIsValid(run_as)) run_as = facts.owner;
  int failures = 0;
  for (const auto& a : plan.actions) RunAction(set, facts, a, mode, run_as, out, &failures);
  // Rows wait in the default partition only while their range's partition is missing: the plan above
  // just created the premade ranges, so remaining rows are late, early or misrouted ones.
  for (const auto& a : plan.actions)
    if (a.kind == ActionKind::kCreate) facts.state.partitions.push_back({0, a.schema, a.name, a.range, false});
  // The layout as read is the health pass's too (figures.hpp), when nothing changed it: after actions
  // (some may have failed: a premade partition not made must not count as ahead) it reads the set afresh.
  if (mode == Mode::kWorker && plan.actions.empty()) RememberPassLayout(set, facts);
  MoveDefaultRows(set, &facts, mode, run_as, out, &failures);
}

void CreateDefaultPartition(const SetRow& set) {
  const TableRef parent{set.spec.schema, set.spec.parent};
  const TableRef def{set.spec.schema, core::DefaultPartitionName(set.spec)};
  core::PartitionTemplate t = set.tmpl;
  FillOwnershipTemplate(set, &t);
  pg::Exec(core::CreateStandaloneSql(parent, def, t));
  for (const auto& sql : core::OwnershipSql(def, t)) pg::Exec(sql);
  pg::Exec(core::AttachDefaultSql(parent, def));
}

namespace {

// Reasons of skipped or failed actions repeated in a pass's own job_runs row (each has its own row too).
constexpr size_t kPassProblemsShown = 3;

// Partitions of history from which create_partition_set says how many it is about to create.
constexpr size_t kHistoryNoticeAt = 1000;

// Heavyweight locks this backend holds outside the fast path (those are the ones in the shared lock table).
int64_t OwnSharedLocks() {
  const auto rows = pg::Query("SELECT count(*) FROM pg_catalog.pg_locks WHERE pid = pg_catalog.pg_backend_pid() "
                              "AND NOT fastpath");
  return std::stoll(*rows.at(0).at(0));
}

// The shared lock table's size: max_locks_per_transaction * (MaxBackends + max_prepared_transactions).
int64_t LockTableSize(int64_t* per_xact) {
  int64_t per = 0, prepared = 0, backends = 0;
  pg::Call([&] {
    per = std::atoll(GetConfigOption("max_locks_per_transaction", false, false));
    prepared = std::atoll(GetConfigOption("max_prepared_transactions", false, false));
    backends = MaxBackends;
  });
  *per_xact = per;
  return per * (backends + prepared);
}

// One transaction creating n partitions holds every lock it takes until it ends (the tables, their
// TOAST tables and indexes, one per index of the parent): measured between the first and the second
// partition (the first also takes once-per-transaction locks), so any shape of parent is counted.
// Refuses before creating the rest when the total would not fit the shared lock table, instead of
// failing with "out of shared memory" after minutes of work.
void CheckLockBudget(const SetRow& set, size_t n, int64_t after_first, int64_t after_second) {
  const int64_t per_partition = std::max<int64_t>(1, after_second - after_first);
  const int64_t needed = after_second + per_partition * (int64_t(n) - 2);
  int64_t per_xact = 0;
  const int64_t table = LockTableSize(&per_xact);
  if (needed <= table) return;
  throw core::Error(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
                    "start_partition would create " + std::to_string(n) + " partitions of " +
                        Qualified(set.spec.schema, set.spec.parent) + " in one transaction, more than the lock table holds",
                    "Each new partition holds " + std::to_string(per_partition) + " locks until the transaction ends: " +
                        std::to_string(needed) + " locks, and the shared lock table holds " + std::to_string(table) +
                        " (max_locks_per_transaction = " + std::to_string(per_xact) +
                        " times the number of server processes and prepared transactions) for every session.",
                    "Choose a later start_partition, or raise max_locks_per_transaction (needs a restart), or create "
                    "the history in steps, one transaction each: create the set with a later start_partition, then "
                    "call strata.undo_partition_set() and strata.create_partition_set() with an earlier one (existing "
                    "partitions are kept and skipped).");
}

}  // namespace

int CreateFrom(const SetRow& set, int64_t start, int limit) {
  Facts facts = ReadFacts(set, true);
  const core::Plan plan = core::PlanMaintenance(set.spec, facts.state);
  if (!plan.premade) return 0;
  const core::Range first = core::RangeFor(set.spec.kind, set.spec.step, start);
  std::vector<core::Range> todo;
  for (int64_t lo = first.lo; lo < plan.premade->lo; lo = core::AddSteps(set.spec.kind, set.spec.step, lo, 1)) {
    if (static_cast<int>(todo.size()) >= limit)
      throw core::Error(ERRCODE_PROGRAM_LIMIT_EXCEEDED, "start_partition would create more than " +
                        std::to_string(limit) + " partitions",
                        {}, "Choose a later start_partition or a wider partition_interval.");
    const core::Range r{lo, core::AddSteps(set.spec.kind, set.spec.step, lo, 1)};
    // History older than the retention cutoff would be detached by the same call: skip it.
    if (plan.retention_cutoff && r.hi <= *plan.retention_cutoff) continue;
    bool overlaps = false;
    for (const auto& p : facts.state.partitions) overlaps |= p.range.Overlaps(r);
    if (!overlaps) todo.push_back(r);
  }
  if (todo.size() >= kHistoryNoticeAt) {
    const std::string shown = Qualified(set.spec.schema, set.spec.parent);
    const size_t n = todo.size();
    pg::Call([&] {
      ereport(NOTICE, (errmsg("creating %zu partitions of history for %s in this transaction", n, shown.c_str()),
                       errdetail("Each is a CREATE TABLE and an ATTACH PARTITION; all of them commit or roll back "
                                 "together.")));
    });
  }
  int created = 0;
  int64_t locks_after_first = 0;
  for (const auto& r : todo) {
    CreateAndAttach(set, facts, core::PartitionNameFor(set.spec, r), r);
    ++created;
    if (todo.size() > 2 && created == 1) locks_after_first = OwnSharedLocks();
    if (todo.size() > 2 && created == 2) CheckLockBudget(set, todo.size(), locks_after_first, OwnSharedLocks());
  }
  return created;
}

std::string PassSummary::Message() const {
  std::string m = std::to_string(actions) + (actions == 1 ? " action on " : " actions on ") + std::to_string(sets) +
                  (sets == 1 ? " set" : " sets");
  for (const auto& p : problems) m += "; " + p;
  const int more = failed + skipped - static_cast<int>(problems.size());
  if (more > 0) m += "; " + std::to_string(more) + " more skipped or failed (see their own rows)";
  return m;
}

namespace {

// The partition sets and strata.role (InvalidOid when unset), read in one worker transaction. Throws
// when strata.role names no role.
std::vector<SetRow> LoadPass(Oid* configured_role) {
  pg::BeginWorkerTxn();
  std::vector<SetRow> sets = LoadSets(InvalidOid);
  if (config::role != nullptr && config::role[0] != '\0') {
    const char* rname = config::role;
    pg::Call([&] { *configured_role = get_role_oid(rname, true); });
    if (!OidIsValid(*configured_role)) {
      pg::CommitWorkerTxn();
      throw core::Error(ERRCODE_UNDEFINED_OBJECT, std::string("role \"") + rname + "\" given by strata.role does not exist",
                        {}, "Create the role or change strata.role.");
    }
  }
  pg::CommitWorkerTxn();
  return sets;
}

// Maintains one set in the worker, its outcomes in *outs. False when it failed as a whole (an error
// escaped MaintainSet): the error is logged and recorded in job_runs.
bool MaintainInWorker(const SetRow& set, Oid configured_role, TimestampTz now, std::vector<Outcome>* outs) {
  const std::string target = core::QualifiedName(set.spec.schema, set.spec.parent);
  try {
    MaintainSet(set, Mode::kWorker, configured_role, outs);
    return true;
  } catch (const pg::PgError& e) {
    pg::AbortWorkerTxn();
    const std::string msg = e.what();
    pg::Call([&] {
      ereport(LOG, (errmsg("strata: maintenance of partition set %s.%s failed: %s", set.spec.schema.c_str(),
                           set.spec.parent.c_str(), msg.c_str())));
    });
    pg::BeginWorkerTxn();
    jobs::RecordJob("partition_set", target, "failed", msg, "{}", now);
    pg::CommitWorkerTxn();
  } catch (const core::Error& e) {
    if (IsTransactionState()) pg::AbortWorkerTxn();
    pg::BeginWorkerTxn();
    jobs::RecordJob("partition_set", target, "failed", e.message(), "{}", now);
    pg::CommitWorkerTxn();
  }
  return false;
}

// Counts a set's outcomes into the pass summary; true when one of them failed.
bool CountOutcomes(const std::vector<Outcome>& outs, PassSummary* sum) {
  bool failed = false;
  for (const auto& o : outs) {
    if (o.action == "check" || o.status == "left") continue;
    sum->actions++;
    if (o.status == "failed") {
      failed = true;
      sum->failed++;
    }
    if (o.status == "skipped") sum->skipped++;
    if ((o.status == "failed" || o.status == "skipped") && sum->problems.size() < kPassProblemsShown)
      sum->problems.push_back(o.status + ": " + o.action + " of " + o.partition + ": " + o.message);
  }
  return failed;
}

}  // namespace

PassSummary WorkerPass() {
  // Per-set failure backoff across passes (worker-lifetime, C++-only state): set -> (failures, next try).
  static std::map<Oid, std::pair<int, TimestampTz>> backoff;
  PassSummary sum;
  Oid configured_role = InvalidOid;
  ForgetPassLayouts();
  const std::vector<SetRow> sets = LoadPass(&configured_role);
  RememberPassSets(sets);
  const TimestampTz now = GetCurrentTimestamp();
  for (const auto& set : sets) {
    if (!set.enabled) continue;
    auto it = backoff.find(set.parent);
    if (it != backoff.end() && now < it->second.second) continue;
    sum.sets++;
    std::vector<Outcome> outs;
    bool set_failed = !MaintainInWorker(set, configured_role, now, &outs);
    set_failed |= CountOutcomes(outs, &sum);
    if (set_failed) {
      auto& b = backoff[set.parent];
      b.first++;
      const core::Backoff policy{int64_t(config::naptime_s) * 1000, 3600 * 1000};
      b.second = now + policy.DelayMs(b.first, set.parent) * 1000;
    } else {
      backoff.erase(set.parent);
    }
  }
  // Bookkeeping every pass: one index probe when nothing has aged (see TrimJobRuns).
  try {
    jobs::TrimJobRuns();
  } catch (...) {
    pg::LogCaught("trimming strata.job_runs failed");
    if (IsTransactionState()) pg::AbortWorkerTxn();
  }
  return sum;
}

}  // namespace strata::partitions
