#!/usr/bin/env bash
# Runs every test of kinesis-workbench on a fresh machine.
#
# It installs what the tests need (the reference KPL aggregator from PyPI, in a virtualenv under
# target/), then runs the unit, property and integration tests. Integration tests start their own
# in-process Kinesis-compatible server (ferrokinesis) on loopback; nothing else is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/test-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
export KWB_PYTHON="$PWD/$venv/bin/python"

cargo test --locked --all-targets "$@"
