#!/usr/bin/env bash
# Installs every build and test dependency of strata from Debian's archive.
# Used by README's commands and by .ci/run; safe to run repeatedly.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
PKGS=(postgresql-15 postgresql-server-dev-15 postgresql-client-15 libxxhash-dev libzstd-dev clang-14 libfuzzer-14-dev
      libboost-dev libgtest-dev googletest cmake g++ make
      libipc-run-perl python3 pgbouncer)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The MCP server (mcp/): Node.js from Debian when the machine has none, its packages from the lockfile.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
MCP="$(dirname "$0")/../mcp"
if [ ! -d "$MCP/node_modules" ] || [ "$MCP/package-lock.json" -nt "$MCP/node_modules" ]; then
  (cd "$MCP" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
echo "install-deps: all dependencies present"
