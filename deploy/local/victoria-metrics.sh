#!/usr/bin/env bash
# Start or stop a private VictoriaMetrics without systemd, for development and the Quick start.
# Usage: deploy/local/victoria-metrics.sh start|stop|status DIR [PORT]   (PORT defaults to 8428)
# Settings: 12 months retention, one sample per series and timestamp (dedup), so a batch
# that reaches the collector twice is stored once.
set -euo pipefail
action="${1:?start|stop|status}"; dir="${2:?data directory}"; port="${3:-8428}"
mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"
pidfile="$dir/victoria-metrics.pid"
case "$action" in
  start)
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then echo "victoria-metrics already running (pid $(cat "$pidfile"))"; exit 0; fi
    # Something else on the port would answer the health check below in our place.
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "port $port is in use by another process: victoria-metrics not started (choose another port)" >&2; exit 1
    fi
    # A scrape.yml in DIR (the collectors' /metrics) is used when present.
    scrape=(); [ -f "$dir/scrape.yml" ] && scrape=(-promscrape.config="$dir/scrape.yml")
    nohup victoria-metrics -storageDataPath="$dir/data" -httpListenAddr="127.0.0.1:$port" \
      -retentionPeriod="${DESKWATCH_VM_RETENTION:-12}" -dedup.minScrapeInterval=1ms \
      -search.latencyOffset=5s -loggerLevel=WARN "${scrape[@]}" >"$dir/victoria-metrics.log" 2>&1 &
    echo $! > "$pidfile"
    pid=$!
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break  # ours exited (a bad flag, the data dir locked): not ours answering
      curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && { echo "victoria-metrics on http://127.0.0.1:$port"; exit 0; }
      sleep 0.1
    done
    rm -f "$pidfile"
    echo "victoria-metrics did not start; see $dir/victoria-metrics.log" >&2; exit 1 ;;
  stop)
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile" ;;
  status)
    [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && echo running || { echo stopped; exit 3; } ;;
  *) echo "usage: $0 start|stop|status DIR [PORT]" >&2; exit 1 ;;
esac
