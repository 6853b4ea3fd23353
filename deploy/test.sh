#!/usr/bin/env bash
# Sets up everything (Debian packages, .venv) and runs the whole test suite:
# lint (ruff), types (mypy --strict), import contracts (lint-imports) and pytest against real services.
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
exit "$rc"
