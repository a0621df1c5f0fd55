#!/usr/bin/env bash
# The test command of README.md (`npm test`): installs what is missing, builds, lints, type-checks, then runs every
# test against real processes (a private redis-server on a free port, Haraka, SMTP and MTQP peers) and exits
# non-zero on any failure. Arguments are passed to scripts/run-tests.ts (a substring filter on test file paths).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_node_modules
ensure_commands redis-server:redis-server openssl:openssl /usr/bin/python3:python3 py-aiosmtpd:python3-aiosmtpd /usr/sbin/dnsmasq:dnsmasq-base \
  /usr/sbin/postfix:postfix

echo "== build"
npm run --silent build
echo "== lint"
npm run --silent lint
echo "== typecheck"
npm run --silent typecheck
echo "== tests"
exec node --import tsx scripts/run-tests.ts "$@"
