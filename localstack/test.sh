#!/usr/bin/env bash
# `make test`: starts the local stack if it is not running (and stops it afterwards),
# runs every test of the workspace against it, then lints the code and the template.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

api_port=${API_PORT:-3000}
if (exec 3<>"/dev/tcp/127.0.0.1/$api_port") 2>/dev/null; then
  echo "[test] using the stack that is already running"
else
  trap 'bash localstack/stack.sh down' EXIT
  # The e-wallet answers at once in tests (3-10 s in `make run`).
  EWALLET_MIN_DELAY_SECONDS=0 EWALLET_MAX_DELAY_SECONDS=0 bash localstack/stack.sh up
fi

export PATH="$root/.venv/bin:$PATH" SAM_CLI_TELEMETRY=0
set -a; . .local/functions.env; set +a
export API_BASE_URL="http://127.0.0.1:$api_port"

echo "[test] template: cfn-lint and sam validate --lint"
cfn-lint template.yaml
sam validate --lint --region "$AWS_REGION" > /dev/null

echo "[test] clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "[test] unit, integration and end-to-end tests"
cargo nextest run --workspace --no-fail-fast
