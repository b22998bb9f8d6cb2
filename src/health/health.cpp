// The worker's health pass (health.hpp): strata._health_pass() does the sampling and keeps the alert
// state; this logs what it returns.
#include "health/health.hpp"

#include <string>
#include <utility>
#include <vector>

#include "config.hpp"
#include "pg/guard.hpp"
#include "pg/security.hpp"
#include "pg/spi.hpp"
#include "pg/xact.hpp"

namespace strata::health {

int WorkerPass() {
  if (!config::health) return 0;
  std::vector<std::pair<std::string, std::string>> alerts;
  pg::BeginWorkerTxn();
  // A database whose extension predates ingest health has no _health_pass: nothing to do until updated.
  bool present = false;
  pg::Call([&] {
    present = OidIsValid(LookupFuncName(list_make2(makeString(pstrdup("strata")), makeString(pstrdup("_health_pass"))), 0,
                                        nullptr, true));
  });
  if (present) {
    std::vector<pg::Row> rows;
    pg::AsExtensionOwner([&] { rows = pg::Query("SELECT condition, message FROM strata._health_pass()"); });
    for (const auto& r : rows) alerts.emplace_back(r[0].value_or(""), r[1].value_or(""));
  }
  pg::CommitWorkerTxn();
  // Logged after the commit: the alert state that says they were logged is saved.
  for (const auto& [condition, message] : alerts)
    pg::Call([&] {
      ereport(WARNING, (errmsg_internal("%s", message.c_str()),
                        errdetail_internal("strata.health_alerts condition %s; logged again when it changes or after "
                                           "strata.health_alert_repeat.", condition.c_str())));
    });
  return static_cast<int>(alerts.size());
}

}  // namespace strata::health
