// The raw-rows guardrail (strata.max_raw_rows): a statement whose plan would read more estimated rows
// from tables than the setting allows is refused when it starts executing (EXPLAIN still plans it).
// Design: README.md.
#pragma once

#include "pg/postgres.hpp"

namespace strata::agents {

// Installs the executor hook (from _PG_init).
void InitGuardrail();

}  // namespace strata::agents
