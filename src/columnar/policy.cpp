// A partition set's compression policy (strata.columnar_policy: compress_after, segment_by, order_by)
// and the worker's pass that applies it (src/columnar/README.md, "Policy"): every partition wholly older
// than compress_after is compressed, and a compressed partition whose heap part holds more than
// strata.recompress_fraction of its batched rows (late rows, rows moved back by UPDATE/DELETE) is
// compressed again. Each conversion is one job_runs row (committed 'running' before, ended in the
// conversion's transaction, or 'failed' / 'skipped' after its rollback), run as strata.role or the
// parent's owner, a few per pass.
#include "core/backoff.hpp"
#include "core/error.hpp"
#include "core/json.hpp"
#include "core/naming.hpp"

#include "columnar/columnar.hpp"
#include "columnar/policy.hpp"
#include "config.hpp"
#include "jobs/job_runs.hpp"
#include "pg/names.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "pg/xact.hpp"

namespace strata::columnar {
namespace {

constexpr int kPerPass = 4;             // conversions per pass at most
constexpr int64_t kPassBudgetMs = 20000;  // and no new one after this long

struct Candidate {
  Oid leaf;
  std::string name, reason;
  Oid owner;
};

}  // namespace

bool WorkerPass() {
  std::vector<Candidate> todo;
  Oid configured = InvalidOid;
  pg::BeginWorkerTxn();
  // A library newer than the installed extension (before ALTER EXTENSION UPDATE) has no policy table.
  if (pg::Query("SELECT 1 WHERE pg_catalog.to_regclass('strata.columnar_policy') IS NOT NULL").empty()) {
    pg::CommitWorkerTxn();
    return false;
  }
  if (config::role != nullptr && config::role[0] != '\0') {
    const char* rname = config::role;
    pg::Call([&] { configured = get_role_oid(rname, true); });
  }
  const auto rows = pg::Query(
      "SELECT c.oid::text, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), "
      "  CASE WHEN cp.leaf IS NULL THEN 'older than compress_after (' || p.compress_after::text || ')' "
      "       ELSE pg_catalog.pg_stat_get_live_tuples(c.oid)::text || ' rows written or moved back since compressed' END, "
      "  pc.relowner::text "
      "FROM strata.columnar_policy p "
      "JOIN strata.partition_set s ON s.parent = p.parent AND s.enabled "
      "JOIN pg_catalog.pg_class pc ON pc.oid = p.parent::pg_catalog.oid "
      "JOIN pg_catalog.pg_inherits i ON i.inhparent = pc.oid "
      "JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid AND c.relkind = 'r' "
      "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
      "LEFT JOIN strata.columnar_partition cp ON cp.leaf = c.oid "
      "WHERE p.compress_after IS NOT NULL "
      "  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_subscription_rel r WHERE r.srrelid IN (c.oid, pc.oid)) "
      "  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE puballtables) "
      "  AND pg_catalog.substring(pg_catalog.pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']*)''\\)')::pg_catalog.timestamptz "
      "      <= pg_catalog.now() - p.compress_after "
      "  AND (cp.leaf IS NULL OR pg_catalog.pg_stat_get_live_tuples(c.oid) >= "
      "       GREATEST(1, cp.rows * $1::pg_catalog.float8)) "
      // A partition whose last compression failed (an index it must not have, another owner) waits an
      // hour, so it never holds back the others; the oldest go first.
      "  AND NOT EXISTS (SELECT 1 FROM strata.job_runs j WHERE j.job_kind = 'columnar_compress' "
      "    AND j.target = pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) "
      "    AND j.status = 'failed' AND j.started_at > pg_catalog.now() - interval '1 hour') "
      "ORDER BY pg_catalog.substring(pg_catalog.pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']*)''\\)')::pg_catalog.timestamptz, c.oid "
      "LIMIT " + std::to_string(kPerPass),
      {std::to_string(config::recompress_fraction)});
  for (const auto& r : rows)
    todo.push_back({Oid(std::stoul(*r[0])), *r[1], *r[2], Oid(std::stoul(*r[3]))});
  pg::CommitWorkerTxn();
  const TimestampTz start = GetCurrentTimestamp();
  for (const Candidate& c : todo) {
    if ((GetCurrentTimestamp() - start) / 1000 > kPassBudgetMs) return true;
    const Oid run_as = OidIsValid(configured) ? configured : c.owner;
    pg::BeginWorkerTxn();
    const int64_t job = jobs::JobBegin("columnar_compress", c.name, c.reason,
                                       "{\"reason\": " + core::JsonString(c.reason) + "}", pg::RoleName(run_as));
    pg::CommitWorkerTxn();
    const TimestampTz t0 = GetCurrentTimestamp();
    try {
      pg::BeginWorkerTxn();
      Conversion conv;
      pg::AsRole(run_as, [&] { conv = Compress(c.leaf); });
      const double ms = double(GetCurrentTimestamp() - t0) / 1000.0;
      core::JsonObject d;
      d.String("reason", c.reason).Int("rows", conv.rows).Int("batches", conv.batches).Int("bytes_before", conv.bytes_before);
      d.Int("bytes_after", conv.bytes_after).Int("lock_attempts", conv.attempts).Int("duration_ms", int64_t(ms));
      jobs::JobEnd(job, conv.done ? "ok" : "skipped", conv.done ? c.reason : conv.note, d.Text());
      pg::CommitWorkerTxn();
    } catch (...) {
      int code = 0;
      const std::string msg = pg::CurrentExceptionMessage(&code);
      if (IsTransactionState()) pg::AbortWorkerTxn();
      const bool retry = core::IsRetryableSqlstate(code);
      pg::BeginWorkerTxn();
      jobs::JobEnd(job, retry ? "skipped" : "failed", msg + (retry ? " (will retry at the next pass)" : ""),
                   "{\"reason\": " + core::JsonString(c.reason) + "}");
      pg::CommitWorkerTxn();
      pg::Call([&] { ereport(LOG, (errmsg("strata: compression of %s: %s", c.name.c_str(), msg.c_str()))); });
    }
  }
  return int(todo.size()) == kPerPass;
}

}  // namespace strata::columnar

namespace pg = strata::pg;
namespace core = strata::core;

// _set_compression_policy(parent regclass, compress_after text (an interval), segment_by text (a text[]), order_by text,
// clear boolean): NULL leaves a setting as it is; clear removes the policy (compressed partitions stay).
STRATA_FUNCTION(strata_set_compression_policy) {
  if (PG_ARGISNULL(0)) throw core::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "parent must not be null");
  const Oid parent = PG_GETARG_OID(0);
  const bool clear = !PG_ARGISNULL(4) && PG_GETARG_BOOL(4);
  pg::SpiConnect();
  const auto set = pg::Query(
      "SELECT s.control_column::text, s.key_type::text, pg_catalog.format_type(s.key_type, NULL) FROM strata.partition_set s "
      "WHERE s.parent = $1::pg_catalog.oid::pg_catalog.regclass",
      {std::to_string(parent)});
  std::string shown;
  pg::Call([&] { shown = quote_qualified_identifier(get_namespace_name(get_rel_namespace(parent)), get_rel_name(parent)); });
  if (set.empty())
    throw core::Error(ERRCODE_UNDEFINED_OBJECT, "table " + shown + " is not a partition set", {},
                      "Call strata.create_partition_set first.");
  if (!pg::OwnsTable(parent)) throw core::Error(ERRCODE_INSUFFICIENT_PRIVILEGE, "must be owner of table " + shown);
  const std::optional<std::string> after = pg::TextArg(fcinfo, 1);
  const std::optional<std::string> segment = pg::TextArg(fcinfo, 2);
  const std::optional<std::string> order = pg::TextArg(fcinfo, 3);
  if (clear) {
    pg::AsExtensionOwner([&] {
      pg::Query("DELETE FROM strata.columnar_policy WHERE parent = $1::pg_catalog.oid::pg_catalog.regclass RETURNING 1",
                {std::to_string(parent)});
    });
    pg::SpiFinish();
    PG_RETURN_VOID();
  }
  if (after) {
    const std::string& kt = *set[0][2];
    if (kt != "timestamp with time zone" && kt != "timestamp without time zone" && kt != "date")
      throw core::Error(ERRCODE_FEATURE_NOT_SUPPORTED, "compress_after needs a partition set keyed by time", {},
                        "Compress the partitions of " + shown + " by hand with strata.compress_partition().");
    if (*pg::Query("SELECT ($1::pg_catalog.interval > '0'::pg_catalog.interval)::text", {*after})[0][0] != "true")
      throw core::Error(ERRCODE_INVALID_PARAMETER_VALUE, "compress_after must be a positive interval");
    if (!pg::Query("SELECT 1 FROM pg_catalog.pg_subscription_rel r WHERE r.srrelid IN "
                   "(SELECT t.relid FROM pg_catalog.pg_partition_tree($1::pg_catalog.oid) t)",
                   {std::to_string(parent)})
             .empty())
      throw core::Error(ERRCODE_FEATURE_NOT_SUPPORTED, "cannot compress the partitions of " + shown + ": it is the target of a subscription",
                        {}, "Logical replication applies UPDATE and DELETE by reading the heap, where compressed rows are not.");
    if (!pg::Query("SELECT 1 FROM pg_catalog.pg_publication WHERE puballtables").empty())
      throw core::Error(ERRCODE_FEATURE_NOT_SUPPORTED, "cannot compress partitions while a publication publishes every table",
                        {}, "It would publish strata's batch tables: publish the tables by name (FOR TABLE) instead.");
  }
  // Every named column exists; the order column is no segment column.
  std::vector<std::string> names;
  if (segment)
    for (const auto& r : pg::Query("SELECT pg_catalog.unnest($1::pg_catalog.text[])", {*segment})) {
      if (!r[0]) throw core::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "compress_segment_by must not hold NULL");
      names.push_back(*r[0]);
    }
  if (order) names.push_back(*order);
  for (const std::string& n : names) {
    if (pg::Query("SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = $1::pg_catalog.oid AND attname = $2::pg_catalog.name "
                  "AND attnum > 0 AND NOT attisdropped",
                  {std::to_string(parent), n})
            .empty())
      throw core::Error(ERRCODE_UNDEFINED_COLUMN, "column \"" + n + "\" of " + shown + " does not exist");
  }
  if (order && segment)
    for (size_t i = 0; i + 1 < names.size(); i++)
      if (names[i] == *order)
        throw core::Error(ERRCODE_INVALID_PARAMETER_VALUE, "compress_order_by names a compress_segment_by column", {},
                          "Within a batch the segment columns hold one value; order by another column.");
  pg::AsExtensionOwner([&] {
    pg::Query(
        "INSERT INTO strata.columnar_policy AS p (parent, compress_after, segment_by, order_by) "
        "VALUES ($1::pg_catalog.oid::pg_catalog.regclass, $2::pg_catalog.interval, COALESCE($3::pg_catalog.name[], '{}'), $4::pg_catalog.name) "
        "ON CONFLICT (parent) DO UPDATE SET compress_after = COALESCE(EXCLUDED.compress_after, p.compress_after), "
        "  segment_by = CASE WHEN $3 IS NULL THEN p.segment_by ELSE EXCLUDED.segment_by END, "
        "  order_by = COALESCE(EXCLUDED.order_by, p.order_by) RETURNING 1",
        {std::to_string(parent), after, segment, order});
  });
  pg::SpiFinish();
  PG_RETURN_VOID();
}
