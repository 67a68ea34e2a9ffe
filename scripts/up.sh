#!/usr/bin/env bash
# Install everything and start the whole product (API, worker, gateway, dashboard) on local
# Postgres and Redis. Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v pnpm >/dev/null 2>&1; then npm install -g pnpm@12; fi
pnpm install --frozen-lockfile
exec node scripts/start.mjs "$@"
