// A restore of a database with rollups (pg_dump, then pg_restore or psql): the dump holds the capture
// triggers strata made (pg_dump writes every non-internal trigger), while strata's own DDL hooks have
// already made them again on each relation attached during the restore. The dump's CREATE TRIGGER for
// a capture trigger that exists (same name, same relation, strata's capture function) is skipped with a
// NOTICE instead of failing the restore. Any other trigger, or one of that name calling another
// function, is left to Postgres (and its "already exists" error).
#include "rollups/restore.hpp"
#include "pg/guard.hpp"

namespace strata::rollups {
namespace {

ProcessUtility_hook_type prev_utility = nullptr;

// Whether `stmt` creates a capture trigger that already exists as strata made it.
void IsRestoredCapture(void* arg) {
  auto* a = static_cast<std::pair<CreateTrigStmt*, bool*>*>(arg);
  CreateTrigStmt* t = a->first;
  *a->second = false;
  if (t->replace || t->funcname == NIL || list_length(t->funcname) != 2) return;
  if (strcmp(strVal(linitial(t->funcname)), "strata") != 0 || strcmp(strVal(lsecond(t->funcname)), "_rollup_capture") != 0)
    return;
  pg::Call([&] {
    const Oid rel = RangeVarGetRelid(t->relation, NoLock, true);
    if (!OidIsValid(rel)) return;
    const Oid trig = get_trigger_oid(rel, t->trigname, true);
    if (!OidIsValid(trig)) return;
    Relation tg = table_open(TriggerRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(trig));
    SysScanDesc scan = systable_beginscan(tg, TriggerOidIndexId, true, nullptr, 1, &key);
    HeapTuple row = systable_getnext(scan);
    if (HeapTupleIsValid(row)) {
      const Oid fn = reinterpret_cast<Form_pg_trigger>(GETSTRUCT(row))->tgfoid;
      *a->second = get_func_name(fn) != nullptr && strcmp(get_func_name(fn), "_rollup_capture") == 0 &&
                   strcmp(get_namespace_name(get_func_namespace(fn)), "strata") == 0;
    }
    systable_endscan(scan);
    table_close(tg, AccessShareLock);
  });
}

void Utility(PlannedStmt* pstmt, const char* query, bool read_only_tree, ProcessUtilityContext context,
             ParamListInfo params, QueryEnvironment* env, DestReceiver* dest, QueryCompletion* qc) {
  Node* stmt = pstmt->utilityStmt;
  if (stmt != nullptr && IsA(stmt, CreateTrigStmt) && IsTransactionState()) {
    bool skip = false;
    std::pair<CreateTrigStmt*, bool*> arg{castNode(CreateTrigStmt, stmt), &skip};
    pg::GuardHook(IsRestoredCapture, &arg);
    if (skip) {
      ereport(NOTICE, (errmsg("trigger \"%s\" exists already (strata made it again), skipping",
                              castNode(CreateTrigStmt, stmt)->trigname)));
      return;
    }
  }
  if (prev_utility != nullptr)
    prev_utility(pstmt, query, read_only_tree, context, params, env, dest, qc);
  else
    standard_ProcessUtility(pstmt, query, read_only_tree, context, params, env, dest, qc);
}

}  // namespace

void InitRestoreHook() {
  prev_utility = ProcessUtility_hook;
  ProcessUtility_hook = Utility;
}

}  // namespace strata::rollups
