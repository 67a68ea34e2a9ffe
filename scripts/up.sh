#!/usr/bin/env bash
# Install everything and start the whole product (API, worker, gateway, dashboard) on local
# Postgres and Redis (started or, as root on Debian/Ubuntu, installed when they do not answer:
# scripts/services.mjs). Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null 2>&1 || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "toolgate: Node.js 20.19 or newer is required (found: $(node --version 2>/dev/null || echo none)); install it (https://nodejs.org or your distribution's nodesource packages), then run this again." >&2
  exit 2
fi
if ! command -v pnpm >/dev/null 2>&1; then npm install -g pnpm@12; fi
# The gateway runs tenant stdio servers only inside bubblewrap (egress through slirp4netns).
if ! command -v bwrap >/dev/null 2>&1 || ! command -v slirp4netns >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -q bubblewrap slirp4netns >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q bubblewrap slirp4netns >/dev/null; }
  else
    echo "note: install bubblewrap and slirp4netns (Debian: sudo apt-get install bubblewrap slirp4netns); until then stdio servers fail closed" >&2
  fi
fi
pnpm install --frozen-lockfile
exec node scripts/start.mjs "$@"
