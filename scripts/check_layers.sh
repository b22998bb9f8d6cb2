#!/usr/bin/env bash
# The layering check (run by `make test` and CI): core <- pg <- jobs <- capabilities <- workers.
#  * src/core includes only src/core (no Postgres header; core/no_postgres.hpp also makes that a build error);
#  * src/pg includes only src/pg, core/error.hpp and Postgres headers: nothing of a capability;
#  * src/jobs adds config.hpp; a capability (partitions, rollups, routing, agents, vacuum, aggregates, health, analytics, columnar) adds src/jobs and its
#    own folder, and another capability only through a header made for it (partitions -> rollups/retention.hpp, routing and agents -> rollups/candidates.hpp, agents -> routing/routed_plan.hpp, health -> partitions/figures.hpp, vacuum -> columnar/compressed.hpp);
#  * nothing below src/workers includes src/workers;
#  * no include cycle between files (a .cpp and its .hpp count as one file).
# Prints each violation and "layers: ok" or "layers: N violations"; exits non-zero on any.
set -uo pipefail
cd "$(dirname "$0")/.."
violations=0
bad() { echo "layering violation: $1"; violations=$((violations + 1)); }

edges=$(mktemp)
trap 'rm -f "$edges"' EXIT

# One pass over every quoted include (file:line:#include "x"); a quoted include naming none of strata's
# folders is a Postgres header. Prints "bad <message>" per violation and "edge <from> <to>" per include.
# Headers one capability may include from another: ALLOWED below.
out=$(grep -rHn '^#include "' src --include='*.cpp' --include='*.hpp' | awk -F: '
  BEGIN { ALLOWED["partitions>rollups/retention.hpp"] = 1; ALLOWED["routing>rollups/candidates.hpp"] = 1; ALLOWED["agents>rollups/candidates.hpp"] = 1; ALLOWED["agents>routing/routed_plan.hpp"] = 1; ALLOWED["health>partitions/figures.hpp"] = 1; ALLOWED["vacuum>columnar/compressed.hpp"] = 1 }
  {
    file = $1; line = $2; inc = $0; sub(/^[^"]*"/, "", inc); sub(/".*$/, "", inc)
    from = substr(file, 5); from_dir = (index(from, "/") ? substr(from, 1, index(from, "/") - 1) : "top")
    to_dir = (index(inc, "/") ? substr(inc, 1, index(inc, "/") - 1) : "top")
    where = file ":" line " includes \"" inc "\""
    strata = inc ~ /^(core|pg|jobs|partitions|rollups|routing|agents|vacuum|aggregates|health|analytics|columnar|workers)\// || inc == "config.hpp"
    if (!strata) {
      if (from_dir == "core") print "bad " where ": a Postgres header in src/core"
      next
    }
    if (from_dir == "core" && to_dir != "core") print "bad " where ": src/core includes only src/core"
    if (from_dir == "pg" && to_dir != "pg" && inc != "core/error.hpp")
      print "bad " where ": src/pg includes only src/pg and core/error.hpp"
    if (from_dir == "jobs" && to_dir !~ /^(core|pg|jobs|top)$/) print "bad " where ": src/jobs sits below the capabilities"
    if (from_dir ~ /^(partitions|rollups|routing|agents|vacuum|aggregates|health|analytics|columnar)$/) {
      if (to_dir ~ /^(partitions|rollups|routing|agents|vacuum|aggregates|health|analytics|columnar)$/ && to_dir != from_dir && !((from_dir ">" inc) in ALLOWED))
        print "bad " where ": a capability includes another only through a header made for it"
      if (to_dir == "workers") print "bad " where ": src/workers sits on top of the capabilities"
    }
    f = from; sub(/\.[ch]pp$/, "", f); t = inc; sub(/\.[ch]pp$/, "", t)
    if (f != t) print "edge " f " " t
  }')
while IFS= read -r v; do [ -n "$v" ] && bad "${v#bad }"; done < <(grep '^bad ' <<<"$out")
grep '^edge ' <<<"$out" | cut -d' ' -f2- | sort -u >"$edges"

# tsort names the files of every cycle on stderr.
cycles=$(tsort "$edges" 2>&1 >/dev/null | grep -v 'input contains a loop' || true)
if [ -n "$cycles" ]; then bad "include cycle through: $(echo $cycles | sed 's/tsort: //g')"; fi

if [ "$violations" = 0 ]; then echo "layers: ok"; else echo "layers: $violations violations"; exit 1; fi
