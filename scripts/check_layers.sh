#!/usr/bin/env bash
# The layering check (run by `make test` and CI): core <- pg <- jobs <- capabilities <- workers.
#  * src/core includes only src/core (no Postgres header; core/no_postgres.hpp also makes that a build error);
#  * src/pg includes only src/pg, core/error.hpp and Postgres headers: nothing of a capability;
#  * src/jobs adds config.hpp; a capability (partitions, rollups, vacuum, aggregates) adds src/jobs and its
#    own folder, and another capability only through a header made for it (partitions -> rollups/retention.hpp);
#  * nothing below src/workers includes src/workers;
#  * no include cycle between files (a .cpp and its .hpp count as one file).
# Prints each violation and "layers: ok" or "layers: N violations"; exits non-zero on any.
set -uo pipefail
cd "$(dirname "$0")/.."
violations=0
bad() { echo "layering violation: $1"; violations=$((violations + 1)); }

# Includes between strata files; a quoted include naming none of strata's folders is a Postgres header.
STRATA='^(core|pg|jobs|partitions|rollups|vacuum|aggregates|workers)/|^config\.hpp$'
CAPS='partitions|rollups|vacuum|aggregates'
# Headers one capability may include from another.
ALLOWED_CROSS=' partitions>rollups/retention.hpp '

edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
while IFS= read -r hit; do
  file=${hit%%:*}
  rest=${hit#*:}; line=${rest%%:*}
  inc=$(sed -E 's/^[^"]*"([^"]*)".*/\1/' <<<"${rest#*:}")
  from=${file#src/}; from_dir=${from%%/*}
  [[ $from == */* ]] || from_dir=top
  where="$file:$line includes \"$inc\""
  if ! [[ $inc =~ $STRATA ]]; then
    [ "$from_dir" = core ] && bad "$where: a Postgres header in src/core"
    continue
  fi
  to_dir=${inc%%/*}
  [[ $inc == */* ]] || to_dir=top
  case $from_dir in
    core) [ "$to_dir" = core ] || bad "$where: src/core includes only src/core" ;;
    pg) [ "$to_dir" = pg ] || [ "$inc" = core/error.hpp ] || bad "$where: src/pg includes only src/pg and core/error.hpp" ;;
    jobs) [[ $to_dir =~ ^(core|pg|jobs|top)$ ]] || bad "$where: src/jobs sits below the capabilities" ;;
    partitions|rollups|vacuum|aggregates)
      if [[ $to_dir =~ ^($CAPS)$ ]] && [ "$to_dir" != "$from_dir" ] && [[ $ALLOWED_CROSS != *" $from_dir>$inc "* ]]; then
        bad "$where: a capability includes another only through a header made for it"
      fi
      [ "$to_dir" = workers ] && bad "$where: src/workers sits on top of the capabilities" ;;
  esac
  echo "${from%.*} ${inc%.*}" >>"$edges"
done < <(grep -rHn '^#include "' src --include='*.cpp' --include='*.hpp')

# tsort names the files of every cycle on stderr.
cycles=$(awk '$1 != $2' "$edges" | sort -u | tsort 2>&1 >/dev/null | grep -v 'input contains a loop' || true)
if [ -n "$cycles" ]; then bad "include cycle through: $(echo $cycles | sed 's/tsort: //g')"; fi

if [ "$violations" = 0 ]; then echo "layers: ok"; else echo "layers: $violations violations"; exit 1; fi
