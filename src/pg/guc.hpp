// Settings scoped to a GUC nest level: what strata sets around the statements it runs (lock_timeout,
// work_mem) is restored afterwards, or by the abort of the (sub)transaction an error ends in.
// May throw PgError (see guard.hpp).
#pragma once

#include <functional>
#include <string>

#include "pg/guard.hpp"

namespace strata::pg {

// Sets a GUC for the rest of the current (sub)transaction nest; pair NewGucLevel with RestoreGucs.
int NewGucLevel();
void SetGuc(const char* name, const std::string& value);
void RestoreGucs(int level);

// Runs body with lock_timeout = ms (every DDL strata runs gets strata.lock_timeout), restored afterwards.
void WithLockTimeout(int ms, const std::function<void()>& body);
// Runs fn with work_mem lowered to kb (kB; 0, or not lower than work_mem: as is), restored after.
void WithWorkMem(int kb, const std::function<void()>& fn);

}  // namespace strata::pg
