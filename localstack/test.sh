#!/usr/bin/env bash
# `make test`: starts the local stack if it is not running (and stops it afterwards): that
# deploys template.yaml through CloudFormation to the emulator. Then runs every test of
# the workspace against it, the template's own checks, the linters, and the browser test
# of the web UI (installing Chromium and playwright-core first if they are missing).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

emulator_port=${EMULATOR_PORT:-4566}
invoke_port=${INVOKE_PORT:-9000}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if listening "$emulator_port" && listening "$invoke_port" && [ -f .local/stack.env ]; then
  echo "[test] using the stack that is already running"
else
  trap 'bash localstack/stack.sh down' EXIT
  # The e-wallet answers at once in tests (3-10 s in `make run`).
  # A failed fulfilment message comes back after 10 s (60 s in `make run`).
  # Orders tagged [fail-once:<step>] / [fail-always:<step>] fail that step (shared::fault).
  # A checkout attempt is settled by the reconciler 45 s after it started (5 min in `make run`).
  EWALLET_MIN_DELAY_SECONDS=0 EWALLET_MAX_DELAY_SECONDS=0 QUEUE_VISIBILITY_TIMEOUT_SECONDS=10 \
    PAYMENT_DEADLINE_SECONDS=45 \
    FAULT_INJECTION=enabled \
    bash localstack/stack.sh up
fi

export PATH="$root/.venv/bin:$PATH" SAM_CLI_TELEMETRY=0
set -a; . .local/functions.env; . .local/stack.env; set +a

echo "[test] template: cfn-lint, sam validate --lint, no cycle after the SAM transform;"
echo "[test] every events/ file through cargo lambda invoke (localstack/tests/test_invoke.py)"
cfn-lint template.yaml
sam validate --lint --region "$AWS_REGION" > /dev/null
REQUIRE_STACK=1 INVOKE_PORT="$invoke_port" python -m unittest discover -s localstack/tests

echo "[test] sam build of every function, serially (make deploy-check in SAM's debug mode)"
DEPLOY_CHECK_MODE=debug bash localstack/deploy-check.sh

echo "[test] workflows: actionlint (with shellcheck on their run: scripts)"
actionlint

echo "[test] clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "[test] unit, integration and end-to-end tests"
cargo nextest run --workspace --no-fail-fast

echo "[test] simulation: the whole flow under seeded faults (make sim)"
SIM_SEEDS="${SIM_SEEDS:-10000}" cargo run --quiet -p sim

echo "[test] the API's contract: openapi.yaml fuzzed by schemathesis against the stack (localstack/fuzz.sh)"
FUZZ_EXAMPLES="${FUZZ_EXAMPLES:-100}" bash localstack/fuzz.sh

echo "[test] stress: 50 checkouts at once with half the production and invoice calls failing and"
echo "[test] production down for 3 orders until their DLQ is redriven; then 20 with every function"
echo "[test] restarted mid-flow; each time every order accounted for across the tables (make stress)"
cargo build --quiet -p stress
target/debug/stress --orders "${STRESS_ORDERS:-50}" --half-failing --production-down 3
target/debug/stress --orders 20 --restart-functions-after 2

echo "[test] browser: the web UI in headless Chromium (Debian's), driven by playwright-core"
bash localstack/browser.sh install
cargo build --quiet -p seed-demo   # each browser test seeds a fresh user with it
node --test --test-reporter=spec tests/browser/ui.test.mjs
