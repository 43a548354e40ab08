#!/usr/bin/env bash
# `make bench`: the performance benchmark (tests/bench/).
#
# Builds every function named in template.yaml, the bench and its hello-world for release
# in ONE `cargo lambda build` (dependencies compile once), while the local stack starts if
# it is not running (e-wallet delay 0 s; stopped afterwards). Then runs the bench: a table
# on the console and BENCHMARKS.md.
#
#   bash localstack/bench.sh            the full run (500 checkouts)
#   bash localstack/bench.sh --smoke    a quick check that every part works (.local/bench/)
#   bash localstack/bench.sh --orders 50 --starts 30 --skip pipeline ...   (bench --help)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

emulator_port=${EMULATOR_PORT:-4566}
invoke_port=${INVOKE_PORT:-9000}
triple=x86_64-unknown-linux-gnu
target_dir=${CARGO_TARGET_DIR:-target}
say() { printf '\033[1m[bench]\033[0m %s\n' "$*"; }

mkdir -p .local/bench
bash localstack/stack.sh install # cargo-lambda and Zig come with the project's .venv
export PATH="$root/.venv/bin:$PATH"

# Every function of the template; the ones without a binary in the workspace yet are
# reported as missing by the bench.
mapfile -t functions < <(sed -n 's/^[[:space:]]*Binary:[[:space:]]*\([A-Za-z0-9_-]*\).*/\1/p' template.yaml)
known=$(cargo metadata --no-deps --format-version 1 | python3 -c \
  'import json, sys; print("\n".join(t["name"] for p in json.load(sys.stdin)["packages"] for t in p["targets"] if "bin" in t["kind"]))')
bins=(bench bench-hello)
for f in "${functions[@]}"; do
  if grep -qx "$f" <<< "$known"; then bins+=("$f"); else say "$f: no such binary in the workspace yet"; fi
done

# Zips of this run only: a function that fails to build must not be measured from an old zip.
for b in "${bins[@]}"; do rm -rf "$target_dir/lambda/$b"; done
if [ -d "$target_dir/$triple/release/deps" ]; then note="(incremental)"; else note="(fresh: no earlier release build)"; fi
build() { cargo lambda build --release --output-format zip --quiet "$@"; }
release_build() {
  local args=() b
  for b in "${bins[@]}"; do args+=(--bin "$b"); done
  if ! build "${args[@]}"; then
    say "the build failed: building each function alone to find the ones that do not compile"
    build --bin bench --bin bench-hello || return 1
    for b in "${bins[@]:2}"; do
      build --bin "$b" || say "$b does not compile: reported as missing"
    done
  fi
}

timed_release_build() {
  local start=$SECONDS rc=0
  release_build || rc=$?
  echo $((SECONDS - start)) > .local/bench/build-seconds
  return $rc
}

started=$SECONDS
build_log=.local/bench/build.log
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if listening "$emulator_port" && listening "$invoke_port" && [ -f .local/stack.env ]; then
  say "using the stack that is already running (as it was started: e-wallet delay)"
  stack_note="already running when the bench started (left running)"
  say "release build of ${#bins[@]} binaries in one cargo lambda build $note"
  timed_release_build
else
  # The release build runs while the stack starts: their idle moments overlap.
  say "release build of ${#bins[@]} binaries in one cargo lambda build $note, in the background ($build_log)"
  timed_release_build > "$build_log" 2>&1 &
  build_pid=$!
  trap 'pkill -TERM -P "$build_pid" 2>/dev/null || true; kill "$build_pid" 2>/dev/null || true; bash localstack/stack.sh down' EXIT
  EWALLET_MIN_DELAY_SECONDS=0 EWALLET_MAX_DELAY_SECONDS=0 bash localstack/stack.sh up
  stack_note="started by the bench (e-wallet delay 0 s), stopped after"
  say "waiting for the release build"
  if ! wait "$build_pid"; then
    cat "$build_log" >&2
    say "the release build failed"
    exit 1
  fi
  note="$note, while the stack started (both done after $((SECONDS - started)) s)"
fi
build_seconds=$(cat .local/bench/build-seconds 2>/dev/null || echo 0)
say "release build took $build_seconds s; ready to measure $((SECONDS - started)) s after the start"

"$target_dir/$triple/release/bench" \
  --target-dir "$target_dir" --triple "$triple" \
  --build-seconds "$build_seconds" --build-note "$note" \
  --stack-note "$stack_note" --api-url "$(sed -n 's/^API_URL=//p' .local/stack.env)" \
  --command "make bench${*:+ (bench.sh $*)}" "$@"
