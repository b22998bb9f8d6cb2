// The one place strata's C++ includes Postgres headers: postgres.h first, everything inside extern "C".
// Standard and Boost headers must come before Postgres's (port.h redefines snprintf and friends): the
// ones strata's glue uses are included here first, so a std header a file includes later is already in.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

extern "C" {
#include "postgres.h"

#include "access/genam.h"
#include "access/nbtree.h"
#include "access/heapam.h"
#include "access/stratnum.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_proc.h"
#include "catalog/storage.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "catalog/catalog.h"
#include "catalog/partition.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/dbcommands.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parse_func.h"
#include "parser/parser.h"
#include "parser/parsetree.h"
#include "utils/ruleutils.h"
#include "optimizer/plancat.h"
#include "optimizer/planner.h"
#include "jit/jit.h"
#include "optimizer/clauses.h"
#include "parser/parse_oper.h"
#include "rewrite/rewriteManip.h"
#include "catalog/pg_index.h"
#include "rewrite/rewriteHandler.h"
#include "pgtime.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgroids.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "access/relation.h"
#include "utils/partcache.h"
#include "utils/catcache.h"
#include "catalog/pg_statistic.h"
#include "parser/scansup.h"
#include "utils/rls.h"
#include "access/table.h"
#include "utils/array.h"
#include "access/reloptions.h"
#include "commands/tablespace.h"
#include "commands/vacuum.h"
#include "executor/executor.h"
#include "executor/instrument.h"
#include "nodes/makefuncs.h"
#include "utils/tuplestore.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#if PG_VERSION_NUM >= 160000
#include "utils/tuplesortvariants.h"
#else
#include "utils/tuplesort.h"
#include "commands/trigger.h"
#include "utils/inval.h"
#include "executor/tstoreReceiver.h"
#endif
}

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 180000
#error "strata supports PostgreSQL 15 to 17"
#endif
