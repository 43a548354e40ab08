#!/usr/bin/env bash
# The whole stack on one machine, without Docker:
#   MiniStack (AWS APIs, API Gateway, Scheduler, CloudFormation) on 127.0.0.1:4566, with
#   template.yaml deployed to it through CloudFormation (localstack/deploy.py), and
#   `cargo lambda watch` (Lambda Invoke API, hot reload) on 127.0.0.1:9000, to which
#   MiniStack forwards every invocation of a function through localstack/gate.py on
#   127.0.0.1:9001 (as many in flight per function as watch runs instances; the rest wait
#   there, and one that cannot start before its deadline is refused, as Lambda throttles).
#
#   stack.sh run     install what is missing, start everything, seed, wait; Ctrl-C stops it
#   stack.sh up      the same, but return once it is up (used by tests)
#   stack.sh down    stop what `up` started
#   stack.sh install only install the project-local tools (.venv, .venv-emulator, .venv-fuzz)
#
# State, logs and pids live in .local/ (git-ignored, so `cargo lambda watch` ignores it).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

state=.local
logs=$state/logs
pids=$state/pids
venv=.venv
emulator_venv=.venv-emulator
fuzz_venv=.venv-fuzz
stack_name=${STACK_NAME:-checkout-local}
emulator_port=${EMULATOR_PORT:-4566}
invoke_port=${INVOKE_PORT:-9000}
gate_port=${GATE_PORT:-9001}
export AWS_ENDPOINT_URL="http://127.0.0.1:$emulator_port"
export AWS_REGION=${AWS_REGION:-us-east-1} AWS_DEFAULT_REGION=${AWS_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export SAM_CLI_TELEMETRY=0
export PATH="$root/$venv/bin:$PATH"

say() { printf '\033[1m[stack]\033[0m %s\n' "$*"; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

# A venv with a requirements file's packages, installed again only when the file changes.
venv_with() { # venv, requirements file, what it holds
  local stamp=$1/.requirements.sha256 want
  want=$(sha256sum "$2" | cut -d' ' -f1)
  if ! [ -x "$1/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing $3 into $1 (first run only)"
    [ -x "$1/bin/python" ] || python3 -m venv "$1"
    "$1/bin/pip" install --quiet --disable-pip-version-check -r "$2"
    echo "$want" > "$stamp"
  fi
}

install() {
  venv_with $venv localstack/requirements.txt "cargo-lambda, SAM CLI, cfn-lint and awscli"
  venv_with $emulator_venv localstack/emulator-requirements.txt MiniStack
  venv_with $fuzz_venv localstack/fuzz-requirements.txt schemathesis
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # port, what, pid-file
  local i
  for i in $(seq 1 600); do
    listening "$1" && return 0
    if [ -n "${3:-}" ] && ! kill -0 "$(cat "$3" 2>/dev/null)" 2>/dev/null; then
      die "$2 exited during start-up; see $logs/$2.log"
    fi
    sleep 0.2
  done
  die "$2 did not start listening on port $1 within 120 s; see $logs/$2.log"
}

start() { # name, command...: runs in its own process group so `down` stops its children too
  local name=$1; shift
  setsid "$@" > "$logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$pids/$name.pid"
  started+=("$name")
}
started=()

up() {
  mkdir -p "$logs" "$pids"
  install

  if listening "$emulator_port"; then
    curl -sf "$AWS_ENDPOINT_URL/_ministack/health" > /dev/null \
      || die "port $emulator_port is taken by something that is not MiniStack"
    say "emulator already running on $AWS_ENDPOINT_URL"
  else
    # Loopback only: the emulator accepts any credentials.
    start emulator env GATEWAY_PORT="$emulator_port" BIND_HOST=127.0.0.1 $emulator_venv/bin/ministack
    wait_for "$emulator_port" emulator "$pids/emulator.pid"
    say "emulator (MiniStack) started on $AWS_ENDPOINT_URL"
  fi

  # template.yaml through CloudFormation. The webhook secret is a local-only value; on AWS
  # it is a NoEcho parameter given at deploy time.
  python localstack/deploy.py --stack-name "$stack_name" \
    --lambda-proxy "http://127.0.0.1:$gate_port" \
    --param "WebhookSecret=${WEBHOOK_SECRET:-local-webhook-secret-not-for-production}" \
    --param "EwalletApiKey=${EWALLET_API_KEY:-local-ewallet-api-key-not-for-production}" \
    --param "EwalletMinDelaySeconds=${EWALLET_MIN_DELAY_SECONDS:-3}" \
    --param "EwalletMaxDelaySeconds=${EWALLET_MAX_DELAY_SECONDS:-10}" \
    --param "QueueVisibilityTimeoutSeconds=${QUEUE_VISIBILITY_TIMEOUT_SECONDS:-60}" \
    --param "PaymentDeadlineSeconds=${PAYMENT_DEADLINE_SECONDS:-300}" \
    --param "ProductionFailureRate=${PRODUCTION_FAILURE_RATE:-0}" \
    --param "InvoiceFailureRate=${INVOICE_FAILURE_RATE:-0}" \
    --param "FaultInjection=${FAULT_INJECTION:-disabled}"
  say "building the functions"
  cargo build --workspace --bins --quiet

  set -a; . "$state/functions.env"; . "$state/stack.env"; set +a
  target/debug/seed-demo

  if listening "$invoke_port"; then
    say "Lambda Invoke API already running on 127.0.0.1:$invoke_port"
  else
    # Lambda runs an instance per concurrent request; watch runs one per function unless
    # told otherwise. 2 suits a 2-core machine: 8 spawned 64 debug processes under load and
    # was slower (tests/bench/NOTES.md).
    start functions cargo lambda watch -A 127.0.0.1 -P "$invoke_port" \
      --concurrency "${LAMBDA_CONCURRENCY:-2}" --env-file "$state/functions.env"
    wait_for "$invoke_port" functions "$pids/functions.pid"
    say "functions served by cargo lambda watch on 127.0.0.1:$invoke_port"
  fi

  if listening "$gate_port"; then
    say "invocation gate already running on 127.0.0.1:$gate_port"
  else
    start gate python localstack/gate.py --listen "127.0.0.1:$gate_port" \
      --upstream "http://127.0.0.1:$invoke_port" --max-in-flight "${LAMBDA_CONCURRENCY:-2}"
    wait_for "$gate_port" gate "$pids/gate.pid"
  fi

  cat <<EOF

  Web UI                 $WEB_URL
    the demo user's orders; another user: ${WEB_URL}?user=<userId>
  API (API Gateway)      $API_URL
    try: curl '$API_URL/api/v1/users/5a2fb4b2-f281-4c64-8bbc-ec3500b40c76/orders?name=espresso&pageSize=5'
    every URL and table name: .local/stack.env (the stack's outputs)
  Lambda Invoke API      http://127.0.0.1:$invoke_port   (cargo lambda watch, hot reload)
  AWS emulator           $AWS_ENDPOINT_URL   (MiniStack; sent mail: $AWS_ENDPOINT_URL/_ministack/ses/messages)
    try: .venv/bin/aws --endpoint-url $AWS_ENDPOINT_URL dynamodb scan --table-name $ORDERS_TABLE --max-items 2
  Logs                   $logs/{emulator,functions,gate}.log

EOF
}

down() { # names of the services to stop
  local name pid
  for name in "$@"; do
    [ -f "$pids/$name.pid" ] || continue
    pid=$(cat "$pids/$name.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      say "stopped $name"
    fi
    rm -f "$pids/$name.pid"
  done
}

case "${1:-}" in
  install) install ;;
  up) up ;;
  down) down gate functions emulator ;;
  run)
    # Stop only what this command started; a stack that was already up stays up.
    trap 'echo; [ ${#started[@]} -eq 0 ] || down "${started[@]}"; exit 0' INT TERM
    up
    say "running; Ctrl-C stops everything this command started"
    sleep infinity & wait $!
    ;;
  *) die "usage: $0 run|up|down|install" ;;
esac
