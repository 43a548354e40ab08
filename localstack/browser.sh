#!/usr/bin/env bash
# What the browser test needs, installed when missing (a fresh machine or CI has neither):
# Debian's Chromium (apt, as root) and playwright-core at the version tests/browser's lock
# file pins (npm ci), which drives that Chromium through its executablePath.
#
#   browser.sh install
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

say() { printf '\033[1m[browser]\033[0m %s\n' "$*"; }
die() { printf '[browser] error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo > /dev/null; then sudo -n "$@"
  else die "installing $* needs root: run it as root, or install Chromium and Node.js by hand"
  fi
}

apt_install() {
  say "installing $* from Debian's packages (first run only)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" > /dev/null
}

install() {
  local chromium=${CHROMIUM_PATH:-/usr/bin/chromium} missing=()
  [ -x "$chromium" ] || missing+=(chromium)
  command -v node > /dev/null && command -v npm > /dev/null || missing+=(nodejs npm)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  [ -x "$chromium" ] || die "no Chromium at $chromium (CHROMIUM_PATH)"

  # npm ci again only when the lock file changed since the last install.
  local stamp=tests/browser/node_modules/.lock.sha256 want
  want=$(sha256sum tests/browser/package-lock.json | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing playwright-core (npm ci in tests/browser)"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
}

case "${1:-}" in
  install) install ;;
  *) die "usage: $0 install" ;;
esac
