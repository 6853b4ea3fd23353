#!/usr/bin/env bash
# Sets up everything (Debian packages, .venv) and runs the whole test suite:
# lint (ruff), types (mypy --strict), import contracts (lint-imports) and pytest against real services.
# Then the ingest tests on ingest's slower paths and a bounded fuzz of its C module.
# Extra arguments go to pytest: deploy/test.sh -k spool -x
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
"$repo/deploy/install-deps.sh"
venv="$repo/.venv/bin"
echo "== ruff"; "$venv/ruff" check agent collector dashboards tests bench
echo "== mypy"; "$venv/mypy"
echo "== mypy (Windows)"; "$venv/mypy" --platform win32
echo "== import contracts"; "$venv/lint-imports"
echo "== pytest"
set +e
"$venv/pytest" "$@"
rc=$?
set -e
# pytest exits 5 when it collected no test at all: that is a failure of the suite here.
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi
[ "$rc" -eq 0 ] || exit "$rc"
# Arguments that pick some tests (deploy/test.sh -k spool) skip the lanes below.
for arg in "$@"; do
  case "$arg" in -k | -m | --lf | --deselect | tests* | *.py | *::*) exit 0 ;; esac
done

# Ingest's slower paths, which the suite above never takes where the C module is built and
# lean_paho fits the installed paho: the collector's ingest tests again with each switched
# off (collector/line_protocol.py, collector/ingest.py; the collectors the tests start
# inherit the switch). About a minute each; with the fuzz, about 3.5 minutes in all.
ingest_tests=(tests/collector/test_end_to_end.py tests/collector/test_faults.py tests/collector/test_paho_fallback.py)
echo "== ingest without the C module (DESKWATCH_NO_C_LINES=1)"
DESKWATCH_NO_C_LINES=1 "$venv/pytest" -p no:cacheprovider -q -m "not slow" "${ingest_tests[@]}"
echo "== ingest on paho's own client (DESKWATCH_PLAIN_PAHO=1)"
DESKWATCH_PLAIN_PAHO=1 "$venv/pytest" -p no:cacheprovider -q -m "not slow" "${ingest_tests[@]}"
# The C module parses what arrives from the network: damaged payloads under AddressSanitizer
# and UndefinedBehaviorSanitizer for a bounded time (any report fails the run).
echo "== fuzz collector/_lines.c under ASan+UBSan (60 s)"
bash "$repo/tests/support/fuzz_lane.sh" 60
