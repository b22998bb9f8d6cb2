// The heartbeat of a publishing primary (heartbeat.hpp).
#include "analytics/heartbeat.hpp"

#include <string>

#include "config.hpp"
#include "pg/guard.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "pg/xact.hpp"

namespace strata::analytics {
namespace {

TimestampTz last_beat = 0;

}  // namespace

int64_t Beat() {
  const int64 interval_us = int64(config::heartbeat_interval_s) * USECS_PER_SEC;
  TimestampTz now = GetCurrentTimestamp();
  if (last_beat != 0 && now - last_beat < interval_us) return (interval_us - (now - last_beat)) / 1000;
  bool published = false;
  pg::BeginWorkerTxn();
  pg::AsExtensionOwner([&] {
    // The heartbeat table in a publication of this database (by name, or FOR ALL TABLES), and a
    // server that writes (a standby's worker writes nothing).
    const auto r = pg::Query(
        "SELECT pg_catalog.to_regclass('strata.heartbeat') IS NOT NULL AND NOT pg_catalog.pg_is_in_recovery() AND "
        "(EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel pr WHERE pr.prrelid = pg_catalog.to_regclass('strata.heartbeat')) "
        " OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication p WHERE p.puballtables))");
    published = r.at(0).at(0) == std::optional<std::string>("t");
    if (published)
      pg::Query("INSERT INTO strata.heartbeat (origin, beat_at, lsn) SELECT s.system_identifier::text || '/' || "
                "pg_catalog.current_database(), pg_catalog.clock_timestamp(), pg_catalog.pg_current_wal_lsn() "
                "FROM pg_catalog.pg_control_system() s ON CONFLICT (origin) DO UPDATE SET beat_at = EXCLUDED.beat_at, "
                "lsn = EXCLUDED.lsn");
  });
  pg::CommitWorkerTxn();
  if (!published) {
    last_beat = 0;
    return -1;
  }
  last_beat = now;
  return interval_us / 1000;
}

}  // namespace strata::analytics
