#!/usr/bin/env bash
# Runs a command against a throwaway cluster configured by test/regress.conf: what `make installcheck` and
# `make isolationcheck` do when no server is given (no PGHOST or PGPORT). Starts the cluster on the first
# free loopback port from STRATA_TEST_PORT (default 25900), exports PGHOST, PGPORT and PGUSER, runs the
# command, stops and removes the cluster, and exits with the command's status.
# Usage: test/with_cluster.sh COMMAND [ARG...]   (the extension must be installed: make install)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/cluster/lib.sh"
port=${STRATA_TEST_PORT:-25900}
# A port answers on loopback: someone listens there.
while (: </dev/tcp/127.0.0.1/"$port") 2>/dev/null; do port=$((port + 1)); done
dir=$(mktemp -d /tmp/strata-installcheck.XXXXXX)
trap 'cluster_stop "$dir" immediate; rm -rf "$dir"' EXIT
cluster_start "$dir" "$port" "$(grep -v '^#' "$here/regress.conf")" || exit 1
echo "(a throwaway cluster on port $port with test/regress.conf; give PGHOST/PGPORT to use a server of yours)"
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres
"$@"
