#!/usr/bin/env bash
# Runs every test of kinesis-workbench on a fresh machine.
#
# It installs what the tests need (the reference KPL aggregator and boto3 from PyPI in a
# virtualenv under target/, and LocalStack for CloudWatch in another), starts LocalStack, then runs
# the unit, property and integration tests. Kinesis tests start their own in-process
# Kinesis-compatible server (ferrokinesis) on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

# The tests build in the release profile: after the README's first command (cargo run --release)
# every dependency is compiled already, with the same features (see Cargo.toml), and the tests
# run the very binary it built. kwb's own code keeps overflow checks and debug assertions there.
# (Benchmarks are not tests: `cargo bench` runs them; .ci/run's clippy checks that they build.)
# They build while the Python tools install and LocalStack starts.
cargo test --locked --release --tests --no-run "$@" &
build=$!
# On exit: the build if it still runs, and LocalStack's process group once it has started.
localstack_pid=
cleanup() {
  kill "$build" 2>/dev/null || true
  if [ -n "$localstack_pid" ]; then kill -- "-$localstack_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

venv=target/test-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
export KWB_PYTHON="$PWD/$venv/bin/python"

# LocalStack in host mode (no Docker) serves CloudWatch in the Smithy RPC v2 CBOR protocol the
# Rust SDK's CloudWatch client speaks, for the CloudWatch source's test. It needs Python 3.13
# and pinned packages (tests/localstack/requirements.txt). Where it cannot be installed or
# started, this script says SKIPPED with the reason (and fails under CI=true).
python313() {
  local candidate
  for candidate in "$(command -v python3.13 || true)" \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13; do
    if [ -x "$candidate" ] &&
        "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
}

start_localstack() {
  local py venv=target/localstack-venv state=target/localstack-state log=target/localstack.log port
  py=$(python313)
  if [ -z "$py" ]; then
    export KWB_LOCALSTACK_SKIP="python3.13 is not installed (LocalStack 4.13+ needs it)"
    return
  fi
  if [ ! -x "$venv/bin/python" ] && ! "$py" -m venv "$venv"; then
    export KWB_LOCALSTACK_SKIP="could not create a Python 3.13 virtualenv"
    return
  fi
  if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      -r tests/localstack/requirements.txt; then
    export KWB_LOCALSTACK_SKIP="pip could not install tests/localstack/requirements.txt"
    return
  fi
  port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -rf "$state" && mkdir -p "$state"
  OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$PWD/$state" GATEWAY_LISTEN="127.0.0.1:$port" \
    GATEWAY_SERVER=hypercorn SERVICES=cloudwatch EAGER_SERVICE_LOADING=1 \
    SKIP_SSL_CERT_DOWNLOAD=1 DNS_ADDRESS=0 \
    setsid "$venv/bin/python" -m localstack.runtime.main >"$log" 2>&1 &
  # Its own process group, stopped whole when the tests end (cleanup).
  localstack_pid=$!
  # A failed start-up may hang rather than exit: watch the process, and give up after 60 s.
  # (It logs a harmless "ERROR: ... docker ps" line on machines without Docker.)
  for _ in $(seq 1 120); do
    if ! kill -0 "$localstack_pid" 2>/dev/null; then
      export KWB_LOCALSTACK_SKIP="LocalStack did not start (see $log)"
      return
    fi
    if "$venv/bin/python" - "$port" <<'PY' 2>/dev/null; then
import json, sys, urllib.request
health = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/_localstack/health", timeout=2))
sys.exit(0 if health["services"].get("cloudwatch") in ("available", "running") else 1)
PY
      export KWB_LOCALSTACK_ENDPOINT="http://127.0.0.1:$port"
      echo "LocalStack (CloudWatch) at $KWB_LOCALSTACK_ENDPOINT"
      return
    fi
    sleep 0.5
  done
  export KWB_LOCALSTACK_SKIP="LocalStack did not answer within 60 s (see $log)"
}
start_localstack
if ! wait "$build"; then
  echo "error: the tests did not build" >&2
  exit 1
fi

# The tests that need these tools are #[ignore]d, so that a plain `cargo test` counts them as
# ignored instead of passing them; this script runs them too.
skipped=()
[ -n "${KWB_LOCALSTACK_ENDPOINT:-}" ] || skipped+=("tests/cloudwatch.rs: ${KWB_LOCALSTACK_SKIP:-LocalStack was not started}")
if [ ${#skipped[@]} -gt 0 ] && [ "${CI:-}" = true ]; then
  printf 'error: under CI=true no test may be skipped, and these would be:\n' >&2
  printf '  %s\n' "${skipped[@]}" >&2
  exit 1
fi

# One run of every test, the ignored ones too. The integration tests mostly wait on servers,
# processes and clocks rather than the CPU, so they run eight at a time, even on two cores
# (RUST_TEST_THREADS, if set, says otherwise).
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-8}"
filter=()
if [ ${#skipped[@]} -gt 0 ]; then
  printf 'SKIPPED %s\n' "${skipped[@]}"
  filter=(--skip with_localstack)
fi
cargo test --locked --release --tests "$@" -- --include-ignored "${filter[@]}"
if [ ${#skipped[@]} -gt 0 ]; then
  printf 'SKIPPED %s\n' "${skipped[@]}"
fi
