#!/usr/bin/env bash
# Installs everything deskwatch needs on a Debian/Ubuntu machine, idempotently:
# the Debian packages of the real services the stack and the tests run, and a
# virtualenv (.venv) with deskwatch and its development tools.
# Usage: deploy/install-deps.sh [--no-venv]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"

# gcc and python3-dev build the collector's C fast lane (collector/_lines.c); gcc's
# AddressSanitizer also fuzzes it in deploy/test.sh (tests/support/fuzz_lane.sh).
# dbus-daemon: the agent's sleep and shutdown announcements are tested on a private bus.
# wine64 runs the Windows agent (the official Windows CPython) in tests; msitools and wixl
# build and inspect its MSI (deploy/windows/build.sh).
# chromium and chromium-driver: the console's browser tests drive the system browser (no download).
packages=(mosquitto mosquitto-clients victoria-metrics snmp curl python3-venv gcc python3-dev
  dbus-daemon wine64 msitools wixl chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian packages start system-wide services on default ports; deskwatch never uses
# them (it starts private instances), so they are left as the machine's owner set them.

[ "${1:-}" = "--no-venv" ] && exit 0
python="${PYTHON:-python3}"
# grafana-client needs niquests, which brings urllib3-future; its wheel replaces the urllib3
# package itself (and puts it back at every interpreter start), so influxdb-client would
# write through the fork, at twice the CPU per request. Built from source with
# URLLIB3_NO_OVERRIDE it installs beside urllib3 only, which niquests supports. A venv
# made before that is rebuilt.
if compgen -G "$repo/.venv/lib/python3*/site-packages/urllib3_future.pth" >/dev/null; then
  echo "rebuilding .venv: urllib3-future had replaced urllib3 in it"
  rm -rf "$repo/.venv"
fi
if [ ! -x "$repo/.venv/bin/python" ]; then
  "$python" -m venv "$repo/.venv"
fi
stamp="$repo/.venv/.deskwatch-installed"
if [ ! -f "$stamp" ] || [ "$repo/pyproject.toml" -nt "$stamp" ] || [ "$repo/collector/_lines.c" -nt "$stamp" ] || [ "$repo/setup.py" -nt "$stamp" ]; then
  "$repo/.venv/bin/pip" install -q --upgrade pip
  URLLIB3_NO_OVERRIDE=1 "$repo/.venv/bin/pip" install -q --no-binary urllib3-future -e "$repo[dev]"
  touch "$stamp"
fi
# paho-mqtt 2.1, which collector/lean_paho.py does not fit, for the test that the collector
# still ingests with it (tests/collector/test_paho_fallback.py); fetched once, into .venv/cache.
(cd "$repo" && "$repo/.venv/bin/python" -m tests.support.old_paho >/dev/null)
