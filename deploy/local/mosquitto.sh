#!/usr/bin/env bash
# Start or stop a private Mosquitto without systemd, for development and the Quick start.
# Usage: deploy/local/mosquitto.sh start|stop|status DIR [PORT]   (PORT defaults to 1883)
# DIR holds its config, data and log; the config comes from deploy/mosquitto/dev.conf.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
action="${1:?start|stop|status}"; dir="${2:?data directory}"; port="${3:-1883}"
mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"
pidfile="$dir/mosquitto.pid"
case "$action" in
  start)
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then echo "mosquitto already running (pid $(cat "$pidfile"))"; exit 0; fi
    # Something else on the port would answer the check below in our place (and a second
    # stack's collector would then share, and fight over, the first stack's broker).
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "port $port is in use by another process: mosquitto not started (choose another port)" >&2; exit 1
    fi
    sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" "$here/../mosquitto/dev.conf" > "$dir/mosquitto.conf"
    echo "pid_file $pidfile" >> "$dir/mosquitto.conf"
    rm -f "$pidfile"
    mosquitto -d -c "$dir/mosquitto.conf"
    for _ in $(seq 50); do
      # listening counts only while our own daemon runs: its pid file names it
      if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "mosquitto listening on 127.0.0.1:$port"; exit 0
      fi
      sleep 0.1
    done
    echo "mosquitto did not start; see $dir/mosquitto.log" >&2; exit 1 ;;
  stop)
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile" ;;
  status)
    [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && echo running || { echo stopped; exit 3; } ;;
  *) echo "usage: $0 start|stop|status DIR [PORT]" >&2; exit 1 ;;
esac
