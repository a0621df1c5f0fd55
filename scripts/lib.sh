# Shared by scripts/start.sh and scripts/test.sh: install what a fresh machine lacks.

die() {
  echo "error: $*" >&2
  exit 1
}

# npm dependencies, when missing or older than the lock file.
ensure_node_modules() {
  if [ ! -x node_modules/.bin/tsc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "== installing npm dependencies (npm ci)"
    npm ci --no-audit --no-fund
  fi
}

# Debian packages for commands that are missing: "command:package" pairs.
ensure_commands() {
  local missing=() pair cmd pkg
  for pair in "$@"; do
    cmd=${pair%%:*}
    pkg=${pair#*:}
    if [ "$cmd" = "py-aiosmtpd" ]; then
      /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || missing+=("$pkg")
    else
      command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing ${missing[*]} (apt-get)"
    # postfix asks how to configure the system's own instance; the tests only run private ones (test/helpers/postfix.ts).
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    die "please install: ${missing[*]} (for example: sudo apt-get install ${missing[*]})"
  fi
}
