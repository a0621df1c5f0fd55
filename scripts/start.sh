#!/usr/bin/env bash
# The start command of README.md (`npm start`): installs what is missing, builds, and runs the development relay
# (scripts/start.ts), which starts a private redis-server (installing it when needed and possible) when none is
# configured or reachable.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_node_modules
npm run --silent build
exec node --import tsx scripts/start.ts
