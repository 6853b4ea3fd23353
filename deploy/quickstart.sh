#!/usr/bin/env bash
# The whole deskwatch stack on this machine, on embedded defaults, for a first look:
# a private Mosquitto, VictoriaMetrics, the collector (when installed), and an agent
# watching this PC. Everything lives under var/quickstart/ in the checkout; ports are
# chosen not to clash with system services on the default ones.
#
#   bash deploy/quickstart.sh          set up and start (idempotent), print where to look
#   bash deploy/quickstart.sh stop     stop everything it started
#   bash deploy/quickstart.sh status
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
state="$repo/var/quickstart"
action="${1:-start}"
BROKER_PORT="${DESKWATCH_BROKER_PORT:-11883}"
VM_PORT="${DESKWATCH_VM_PORT:-18428}"
venv="$repo/.venv/bin"

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_all() {
  for name in agent; do
    if running "$state/$name.pid"; then kill "$(cat "$state/$name.pid")"; echo "stopped $name"; fi
    rm -f "$state/$name.pid"
  done
  "$repo/deploy/local/victoria-metrics.sh" stop "$state/victoria-metrics" || true
  "$repo/deploy/local/mosquitto.sh" stop "$state/mosquitto" || true
  echo "deskwatch quick start stopped (data kept in $state; delete it to start afresh)"
}

case "$action" in
  stop) stop_all; exit 0 ;;
  status)
    for name in agent; do running "$state/$name.pid" && echo "$name: running" || echo "$name: stopped"; done
    "$repo/deploy/local/mosquitto.sh" status "$state/mosquitto" | sed 's/^/mosquitto: /' || true
    "$repo/deploy/local/victoria-metrics.sh" status "$state/victoria-metrics" | sed 's/^/victoria-metrics: /' || true
    exit 0 ;;
  start) ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 1 ;;
esac

"$repo/deploy/install-deps.sh"
mkdir -p "$state"
"$repo/deploy/local/mosquitto.sh" start "$state/mosquitto" "$BROKER_PORT"
"$repo/deploy/local/victoria-metrics.sh" start "$state/victoria-metrics" "$VM_PORT"

# The agent watches this PC. Its network checks stay on this machine: the simulated
# office's "gateway" is the local broker, so a first run sends nothing anywhere else.
cat > "$state/agent.toml" <<TOML
site = "quickstart"
interval_seconds = 10
[mqtt]
broker = "mqtt://127.0.0.1:$BROKER_PORT"
[spool]
path = "$state/agent-spool.db"
[network]
gateway = "127.0.0.1"
gateway_ports = [$BROKER_PORT]
dns_names = ["localhost"]
tcp_targets = ["127.0.0.1:$BROKER_PORT", "127.0.0.1:$VM_PORT"]
http_targets = ["http://127.0.0.1:$VM_PORT/health"]
internet_targets = ["127.0.0.1:$VM_PORT"]
TOML
if ! running "$state/agent.pid"; then
  nohup "$venv/deskwatch-agent" run --config "$state/agent.toml" >"$state/agent.log" 2>&1 &
  echo $! > "$state/agent.pid"
fi

cat <<INFO

deskwatch is running.
  MQTT broker       mqtt://127.0.0.1:$BROKER_PORT   watch it: mosquitto_sub -p $BROKER_PORT -t 'deskwatch/v1/#' -v
  VictoriaMetrics   http://127.0.0.1:$VM_PORT/vmui   (PromQL, e.g. memory_used_percent)
  agent             $("$venv/deskwatch-agent" check --config "$state/agent.toml" | sed -n 2p | xargs)
                    log: $state/agent.log   spool: $venv/deskwatch-agent spool --config $state/agent.toml
  Grafana           import the provisioning in $repo/deploy/grafana/provisioning (when present)

Stop everything: bash deploy/quickstart.sh stop
INFO
