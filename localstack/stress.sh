#!/usr/bin/env bash
# `make stress`: N checkouts (STRESS_ORDERS, 500) in flight at once through the local stack
# with the e-wallet answering at once, then every table reconciled order by order
# (tests/stress). Starts the stack if it is not running (and stops it afterwards), with
# the settings `make test` uses. Extra arguments go to the stress binary (--help).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if listening "${EMULATOR_PORT:-4566}" && listening "${INVOKE_PORT:-9000}" && [ -f .local/stack.env ]; then
  echo "[stress] using the stack that is already running"
else
  trap 'bash localstack/stack.sh down' EXIT
  EWALLET_MIN_DELAY_SECONDS=0 EWALLET_MAX_DELAY_SECONDS=0 QUEUE_VISIBILITY_TIMEOUT_SECONDS=10 \
    PAYMENT_DEADLINE_SECONDS=45 bash localstack/stack.sh up
fi
cargo run --quiet -p stress -- "$@"
