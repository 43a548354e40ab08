#!/usr/bin/env bash
# `make deploy-check`: what `sam build` + `sam deploy` need, proven without an AWS account.
#   1. prerequisites, checked before anything slow starts: the project's .venv (cargo-lambda,
#      SAM CLI, cfn-lint), cargo, and the Rust target when arm64 is asked for;
#   2. `sam build` of every function, one after the other (never `--parallel`: parallel
#      cargo lambda builds race to install the target and for cargo's lock);
#   3. `sam validate --lint` and `cfn-lint` on template.yaml.
#
# DEPLOY_CHECK_ARCH=x86_64 (the default) builds for this machine: the template's arm64 is
# swapped for x86_64 in a copy under .local/, so CI needs no aarch64 target or linker.
# DEPLOY_CHECK_ARCH=arm64 builds template.yaml as it is, as a real deploy does.
#
# DEPLOY_CHECK_MODE=release (the default) builds what deploys: the release profile, whose
# fat-LTO link takes about 85 s per function here (31 min in all on 2 cores).
# DEPLOY_CHECK_MODE=debug (`make test`, so CI on every push) runs the same `sam build` in
# SAM's debug mode (SAM_BUILD_MODE=debug: cargo lambda build without --release): the same
# prerequisites, serial builds, handler names and artifact layout, in about 5 minutes.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

arch=${DEPLOY_CHECK_ARCH:-x86_64}
mode=${DEPLOY_CHECK_MODE:-release}
work=.local/deploy-check
export PATH="$root/.venv/bin:$PATH" SAM_CLI_TELEMETRY=0
export AWS_REGION=${AWS_REGION:-eu-west-1}
export AWS_DEFAULT_REGION=$AWS_REGION

say() { printf '\033[1m[deploy-check]\033[0m %s\n' "$*"; }
die() { printf '[deploy-check] error: %s\n' "$*" >&2; exit 1; }

# 1. Prerequisites.
bash localstack/stack.sh install
command -v cargo > /dev/null || die "cargo is not installed (https://rustup.rs)"
cargo lambda --version > /dev/null 2>&1 || die "cargo-lambda is not in .venv/bin (bash localstack/stack.sh install)"
command -v sam > /dev/null || die "the SAM CLI is not in .venv/bin (bash localstack/stack.sh install)"
command -v cfn-lint > /dev/null || die "cfn-lint is not in .venv/bin (bash localstack/stack.sh install)"
case "$arch" in
  x86_64) target=x86_64-unknown-linux-gnu ;;
  arm64) target=aarch64-unknown-linux-gnu ;;
  *) die "DEPLOY_CHECK_ARCH must be x86_64 or arm64, not $arch" ;;
esac
if command -v rustup > /dev/null; then
  # Installed once, here, before any build: not by each of several builds at once.
  rustup target list --installed | grep -qx "$target" || rustup target add "$target" \
    || die "the Rust target $target is missing and could not be installed"
fi
case "$mode" in
  release) unset SAM_BUILD_MODE ;;
  debug) export SAM_BUILD_MODE=debug ;;
  *) die "DEPLOY_CHECK_MODE must be release or debug, not $mode" ;;
esac
say "cargo $(cargo --version | cut -d' ' -f2), $(cargo lambda --version), $(sam --version), $(cfn-lint --version); building for $arch, $mode"

# 2. sam build, serially.
mkdir -p "$work"
template=template.yaml
if [ "$arch" = x86_64 ]; then
  template=$work/template.yaml
  sed 's/^\( *Architectures: *\)\[ *arm64 *\]/\1[x86_64]/' template.yaml > "$template"
  ! grep -q arm64 "$template" || die "template.yaml names arm64 in a form this script does not rewrite: $(grep -n arm64 "$template")"
fi
functions=$(grep -c 'Type: AWS::Serverless::Function' "$template")
say "sam build: $functions functions, one at a time"
# --base-dir: the copy lives in .local/, but CodeUri paths are relative to the repo.
sam build --config-env default --template-file "$template" --base-dir . \
  --build-dir "$work/build" --cache-dir "$work/cache"
built=$(find "$work/build" -mindepth 2 -maxdepth 2 -name bootstrap | wc -l)
[ "$built" -eq "$functions" ] || die "sam build made $built bootstrap binaries for $functions functions"
# Debug binaries are not for deploying, and they take gigabytes.
[ "$mode" = release ] || rm -rf "$work/build"

# 3. The template's own checks.
say "sam validate --lint, cfn-lint"
sam validate --lint --template-file template.yaml > /dev/null
cfn-lint template.yaml
say "ok: $built functions built for $arch ($mode); template valid"
