#!/usr/bin/env bash
# Fuzz collector/_lines.c's fast lane for N seconds (default 60) with AddressSanitizer and
# UndefinedBehaviorSanitizer: an instrumented copy of the module in a scratch tree, so the
# installed one is untouched. Any memory error stops the run with the sanitizer's report.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$repo/agent" "$repo/collector" "$repo/tests" "$work/"
rm -f "$work"/collector/_lines*.so
suffix="$("$repo/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
gcc -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fPIC -shared \
  $(python3-config --includes) "$repo/collector/_lines.c" -o "$work/collector/_lines$suffix"
cd "$work"
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
PYTHONPATH="$work" "$repo/.venv/bin/python" -m tests.support.fuzz_lane "${1:-60}"
