// Module entry: _PG_init only calls each module's Init (GUCs, shared memory, workers).
#include "agents/guardrail.hpp"
#include "columnar/columnar.hpp"
#include "columnar/state.hpp"
#include "config.hpp"
#include "pg/postgres.hpp"
#include "rollups/restore.hpp"
#include "routing/routing.hpp"
#include "workers/workers.hpp"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

void _PG_init(void) {
  // Nothing here can throw a C++ exception; GUC definition errors are Postgres ERRORs at load time.
  strata::config::Init();
  strata::routing::Init();
  strata::agents::InitGuardrail();
  strata::columnar::InitState(process_shared_preload_libraries_in_progress);
  strata::columnar::InitScan();
  strata::columnar::InitAggregate();
  strata::columnar::InitUtility();
  strata::rollups::InitRestoreHook();
  if (process_shared_preload_libraries_in_progress) strata::workers::Init();
}
