// GUC nest levels and the settings strata scopes around its statements; see guc.hpp.
#include <string>

#include "pg/guc.hpp"

namespace strata::pg {

int NewGucLevel() {
  int level = 0;
  Call([&] { level = NewGUCNestLevel(); });
  return level;
}

void SetGuc(const char* name, const std::string& value) {
  const char* v = value.c_str();
  Call([&] {
    (void) set_config_option(name, v, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
  });
}

void RestoreGucs(int level) {
  Call([&] { AtEOXact_GUC(true, level); });
}

void WithLockTimeout(int ms, const std::function<void()>& body) {
  const int level = NewGucLevel();
  SetGuc("lock_timeout", std::to_string(ms) + "ms");
  body();
  RestoreGucs(level);
}

void WithWorkMem(int kb, const std::function<void()>& fn) {
  if (kb <= 0 || kb >= work_mem) {
    fn();
    return;
  }
  // Restored by RestoreGucs, or by the abort of the (sub)transaction an error ends in, as for a
  // function's SET clause.
  const int level = NewGucLevel();
  SetGuc("work_mem", std::to_string(kb));
  fn();
  RestoreGucs(level);
}

}  // namespace strata::pg
