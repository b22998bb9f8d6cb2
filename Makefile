# strata: PGXS build of the extension (authoritative). `make`, `make install`, `make installcheck`
# (pg_regress, then PGXS's isolation specs), `make isolationcheck` (the specs alone), `make unit`
# (GoogleTest via CMake/CTest). One file: `make installcheck ISOLATION= REGRESS="00_helpers guard"` (most
# files use 00_helpers' test functions).
# installcheck and isolationcheck run against the server PGHOST/PGPORT name (as scripts/test.sh does);
# with neither given, each starts a throwaway cluster with test/regress.conf for the run and stops it
# (test/with_cluster.sh). Run `make install` first.
EXTENSION = strata
MODULE_big = strata

CORE_SRCS = $(wildcard src/core/*.cpp) $(wildcard src/core/*/*.cpp)
GLUE_SRCS = src/strata.cpp src/config.cpp $(wildcard src/pg/*.cpp) $(wildcard src/jobs/*.cpp) $(wildcard src/partitions/*.cpp) \
            $(wildcard src/aggregates/*.cpp) $(wildcard src/rollups/*.cpp) $(wildcard src/routing/*.cpp) $(wildcard src/agents/*.cpp) $(wildcard src/health/*.cpp) $(wildcard src/analytics/*.cpp) $(wildcard src/columnar/*.cpp) $(wildcard src/vacuum/*.cpp) \
            $(wildcard src/workers/*.cpp)
OBJS = $(CORE_SRCS:.cpp=.o) $(GLUE_SRCS:.cpp=.o)

# The current version's full install script and every released script (never edited): src/sql/README.md.
DATA = $(wildcard src/sql/$(EXTENSION)--*.sql)
EXTRA_CLEAN = results regression.diffs regression.out output_iso $(OBJS:.o=.d)

# Regression tests: test/sql and test/expected, in test/schedule's order (test/check_schedule.sh).
REGRESS = $(shell sed -n 's/^test://p' test/schedule)
REGRESS_OPTS = --inputdir=test --load-extension=strata
ISOLATION = $(basename $(notdir $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --load-extension=strata \
                 --inputdir=test/isolation --outputdir=output_iso

PG_CONFIG ?= pg_config
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Werror -Wno-missing-field-initializers \
              -Isrc -isystem $(shell $(PG_CONFIG) --includedir-server)
PG_CPPFLAGS = -Isrc
# No fused multiply-add: the float aggregate states (src/core/columnar/aggregate.cpp) round each step as
# Postgres's own transition functions do.
PG_CXXFLAGS += -ffp-contract=off
# Header dependencies: each object also writes a .d file next to it, read back below, so a change to a
# header rebuilds every file that includes it (PGXS tracks only sources).
PG_CXXFLAGS += -MMD -MP
SHLIB_LINK = -lstdc++ -lzstd

# PGXS would also compile every file to LLVM bitcode with clang and none of our C++ flags, for JIT
# inlining. strata's functions are C++ behind a guard and gain nothing from inlining: skip it.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
-include $(OBJS:.o=.d)

# The layering check runs with every build: an include against core <- pg <- jobs <- capabilities <-
# workers fails it before anything compiles (scripts/check_layers.sh says which).
$(OBJS): | check-layers
.PHONY: check-layers
check-layers:
	@out=$$(bash scripts/check_layers.sh) || { echo "$$out"; exit 1; }

ifeq ($(PGHOST)$(PGPORT),)
regress_bin = $(top_builddir)/src/test/regress/pg_regress
isolation_bin = $(top_builddir)/src/test/isolation/pg_isolation_regress
pg_regress_installcheck := $(subst $(regress_bin),bash test/with_cluster.sh $(regress_bin),$(pg_regress_installcheck))
pg_isolation_regress_installcheck := $(subst $(isolation_bin),bash test/with_cluster.sh $(isolation_bin),$(pg_isolation_regress_installcheck))
endif

.PHONY: unit isolationcheck
# Unit tests build under build/: build/unit (here and scripts/test.sh), build/unit-sanitize, build/fuzz.
unit:
	cmake -S . -B build/unit -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build/unit -j2
	cd build/unit && ctest --output-on-failure

isolationcheck:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)

.PHONY: demo test bench
# The main job: a throwaway cluster, sample video data, the worker maintaining partitions.
demo:
	bash scripts/demo.sh
# Every test layer (what CI runs).
test:
	bash scripts/test.sh
bench:
	bash bench/partitions_bench.sh && bash bench/sketches_bench.sh && bash bench/rollups_bench.sh && bash bench/vacuum_bench.sh && bash bench/routing_bench.sh && bash bench/agents_bench.sh && bash bench/health_bench.sh && bash bench/analytics_bench.sh && bash bench/columnar_bench.sh
