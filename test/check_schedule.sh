#!/usr/bin/env bash
# Checks test/schedule against test/sql and test/expected: every test/sql/*.sql is scheduled, every
# scheduled test has its .sql and .out, none is scheduled twice, 00_helpers runs first and
# zy_drop_extension, zz_upgrade last. Prints "ok - ..." or "not ok - ..." lines; exits 1 on a problem.
cd "$(dirname "$0")"
scheduled=$(sed -n 's/^test:[[:space:]]*//p' schedule | tr -s ' \t' '\n\n' | grep -v '^$')
bad=0
fail() { echo "not ok - $*"; bad=1; }
for f in sql/*.sql; do
  t=$(basename "$f" .sql)
  grep -qx "$t" <<<"$scheduled" || fail "test/sql/$t.sql is not in test/schedule"
done
for t in $scheduled; do
  [ -f "sql/$t.sql" ] || fail "test/schedule lists $t without test/sql/$t.sql"
  [ -f "expected/$t.out" ] || fail "test/schedule lists $t without test/expected/$t.out"
done
dups=$(sort <<<"$scheduled" | uniq -d)
[ -z "$dups" ] || fail "test/schedule lists more than once: $dups"
[ "$(head -1 <<<"$scheduled")" = 00_helpers ] || fail "00_helpers is not first in test/schedule"
[ "$(tail -2 <<<"$scheduled" | tr '\n' ' ')" = "zy_drop_extension zz_upgrade " ] ||
  fail "zy_drop_extension and zz_upgrade are not last in test/schedule"
[ $bad = 0 ] && echo "ok - test/schedule lists every test/sql file, in order, each with its expected output"
exit $bad
