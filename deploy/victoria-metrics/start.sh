#!/usr/bin/env bash
# Start VictoriaMetrics in the foreground with deskwatch's settings (for containers or a
# hand-run server); under systemd use victoria-metrics.env instead.
# Usage: deploy/victoria-metrics/start.sh DATA_DIR [LISTEN]   (LISTEN defaults to 127.0.0.1:8428)
set -euo pipefail
dir="${1:?data directory}"; listen="${2:-127.0.0.1:8428}"
exec victoria-metrics -storageDataPath="$dir" -httpListenAddr="$listen" \
  -retentionPeriod="${DESKWATCH_VM_RETENTION:-12}" -dedup.minScrapeInterval=1ms \
  -search.latencyOffset=5s -maxInsertRequestSize=64MB
