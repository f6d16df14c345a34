#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what it needs, then runs it.
# Extra arguments go to pytest (e.g. -m "not slow", -k loader).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p test-artifacts
echo "== The real-time stress host and the export check (tests/plugin/test_stress.py, test_export_wav.py)"
cmake --build build/python --target latentplay_stress_host latentplay_export_check
echo "== C++ unit tests (CTest)"
ctest --test-dir build/python --output-on-failure
echo "== Python tests (pytest)"
.venv/bin/python -m pytest "$@"
