#!/usr/bin/env bash
# The test command of README.md (`npm test`): installs what is missing, builds, lints, type-checks, then runs every
# test against real processes (a private redis-server on a free port, Haraka, SMTP and MTQP peers) and exits
# non-zero on any failure. Arguments are passed to scripts/run-tests.ts (a substring filter on test file paths),
# which installs Debian packages and starts Redis only when a selected test file needs them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_node_modules

echo "== build"
npm run --silent build
echo "== lint"
npm run --silent lint
echo "== typecheck"
npm run --silent typecheck
echo "== tests"
exec node --import tsx scripts/run-tests.ts "$@"
