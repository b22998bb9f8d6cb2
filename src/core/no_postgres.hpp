// Included first by every header in src/core: the core must stay free of Postgres headers so it can be
// unit-tested and fuzzed on its own. Including postgres.h before a core header is a build error.
#pragma once
#ifdef POSTGRES_H
#error "src/core must not include or be included after Postgres headers"
#endif
#define STRATA_CORE_NO_POSTGRES 1
