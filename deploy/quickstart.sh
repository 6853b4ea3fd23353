#!/usr/bin/env bash
# The whole deskwatch stack on this machine, on embedded defaults, for a first look:
# a private Mosquitto, VictoriaMetrics, the collector with its API, an agent watching
# this PC, and a simulated office (two printers, one low on toner, and a modem) served
# from real SNMP recordings. Everything lives under var/quickstart/ in the checkout; the
# ports are chosen not to clash with services on the default ones.
#
#   bash deploy/quickstart.sh          set up and start (idempotent), print where to look
#   bash deploy/quickstart.sh stop     stop everything it started (data is kept)
#   bash deploy/quickstart.sh status
#
# A second stack on the same machine (another checkout, a test) takes its own directory
# and ports from the environment; give the same ones to stop and status:
#   DESKWATCH_QUICKSTART_DIR  where its data, logs and pid files live (default var/quickstart)
#   DESKWATCH_BROKER_PORT     MQTT (11883)        DESKWATCH_VM_PORT   VictoriaMetrics (18428)
#   DESKWATCH_API_PORT        console and API (19108)
#   DESKWATCH_OPS_PORT        the collector's /metrics and /docs (19109)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
state="${DESKWATCH_QUICKSTART_DIR:-$repo/var/quickstart}"
mkdir -p "$state"; state="$(cd "$state" && pwd)"
action="${1:-start}"
BROKER_PORT="${DESKWATCH_BROKER_PORT:-11883}"
VM_PORT="${DESKWATCH_VM_PORT:-18428}"
API_PORT="${DESKWATCH_API_PORT:-19108}"
OPS_PORT="${DESKWATCH_OPS_PORT:-19109}"  # the collector's internal listener: /metrics, /docs
venv="$repo/.venv/bin"
PROCS=(agent collector office)

running() { [ -f "$state/$1.pid" ] && kill -0 "$(cat "$state/$1.pid")" 2>/dev/null; }

start_bg() {  # name, command...: start in the background unless already running
  local name="$1"; shift
  running "$name" && return 0
  nohup "$@" >"$state/$name.log" 2>&1 &
  echo $! > "$state/$name.pid"
}

stop_all() {
  for name in "${PROCS[@]}"; do
    if running "$name"; then
      kill "$(cat "$state/$name.pid")"
      for _ in $(seq 100); do running "$name" || break; sleep 0.1; done
      echo "stopped $name"
    fi
    rm -f "$state/$name.pid"
  done
  "$repo/deploy/local/victoria-metrics.sh" stop "$state/victoria-metrics" || true
  "$repo/deploy/local/mosquitto.sh" stop "$state/mosquitto" || true
  echo "deskwatch quick start stopped (data kept in $state; delete it to start afresh)"
}

case "$action" in
  stop) stop_all; exit 0 ;;
  status)
    for name in "${PROCS[@]}"; do running "$name" && echo "$name: running" || echo "$name: stopped"; done
    "$repo/deploy/local/mosquitto.sh" status "$state/mosquitto" | sed 's/^/mosquitto: /' || true
    "$repo/deploy/local/victoria-metrics.sh" status "$state/victoria-metrics" | sed 's/^/victoria-metrics: /' || true
    exit 0 ;;
  start) ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 1 ;;
esac

"$repo/deploy/install-deps.sh"
mkdir -p "$state/victoria-metrics"
trap 'echo "quick start failed; logs are in $state" >&2' ERR

# VictoriaMetrics also scrapes the collector's own /metrics (collector-health dashboard).
cat > "$state/victoria-metrics/scrape.yml" <<YAML
scrape_configs:
  - job_name: deskwatch-collector
    scrape_interval: 15s
    static_configs:
      - targets: ["127.0.0.1:$OPS_PORT"]
YAML
"$repo/deploy/local/mosquitto.sh" start "$state/mosquitto" "$BROKER_PORT"
"$repo/deploy/local/victoria-metrics.sh" start "$state/victoria-metrics" "$VM_PORT"

# A client id of its own per checkout: two stacks on one machine never take over each
# other's broker session.
client_id="deskwatch-collector-quickstart-$(printf '%s' "$state" | cksum | cut -d' ' -f1)"
cat > "$state/collector.toml" <<TOML
[mqtt]
broker = "mqtt://127.0.0.1:$BROKER_PORT"
client_id = "$client_id"
[metrics]
url = "http://127.0.0.1:$VM_PORT"
buffer_dir = "$state/collector-buffer"
[store]
url = "sqlite:///$state/collector.db"
[http]
listen = "127.0.0.1:$API_PORT"
internal_listen = "127.0.0.1:$OPS_PORT"
TOML
start_bg collector "$venv/deskwatch-collector" run --config "$state/collector.toml"
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$API_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
if [ ! -s "$state/token" ]; then
  "$venv/deskwatch-collector" token create --role admin --name quickstart --config "$state/collector.toml" \
    | tail -n 1 > "$state/token"
fi
# The helpdesk console's first user: an administrator with a generated password, shown once.
console_login="admin (its password was shown when it was made; a new one: $venv/deskwatch-collector user passwd admin --config $state/collector.toml)"
if ! "$venv/deskwatch-collector" user list --config "$state/collector.toml" | cut -f1 | grep -qx admin; then
  admin_password=$("$venv/python" -c "import secrets; print(secrets.token_urlsafe(12))")
  echo "$admin_password" | "$venv/deskwatch-collector" user add admin --role admin --config "$state/collector.toml" 2>/dev/null
  console_login="admin / $admin_password   (shown only this once)"
fi

# Diagnostics: the agent accepts commands signed with the collector's key.
command_key=$("$venv/deskwatch-collector" signing-key --config "$state/collector.toml" | tail -n 1)

# The simulated office: real SNMP recordings of two printers and a modem (../shared/data/snmp).
devices=""
if [ -d "$repo/../shared/data/snmp" ]; then
  start_bg office "$venv/python" "$repo/deploy/local/simulate-office.py" "$state/office.json"
  for _ in $(seq 150); do [ -s "$state/office.json" ] && break; sleep 0.2; done
  devices=$("$venv/python" -c "import json,sys; d=json.load(open(sys.argv[1])); print(', '.join(f'\"snmp://{n}@127.0.0.1:{p}\"' for n,p in d.items()))" "$state/office.json")
else
  echo "(no ../shared/data/snmp beside the checkout: starting without simulated printers)"
fi

# The agent watches this PC. Its network checks stay on this machine: the simulated
# office's "gateway" and "internet" are local services. Like every agent by default, it
# also asks this PC's real default gateway over SNMP: most office routers have SNMP off,
# and such a router shows as "not monitored by SNMP" (deskwatch devices), never a ticket.
cat > "$state/agent.toml" <<TOML
site = "quickstart"
interval_seconds = 10
command_key = "$command_key"
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
[snmp]
enabled = true
interval_seconds = 15
device_urls = [$devices]
[snmp.discovery]
cups = false
windows_spooler = false
gateway = true
TOML
start_bg agent "$venv/deskwatch-agent" run --config "$state/agent.toml"
trap - ERR

token=$(cat "$state/token")
cat <<INFO

deskwatch is running (logs and data in $state).
  MQTT broker       mqtt://127.0.0.1:$BROKER_PORT     watch: mosquitto_sub -p $BROKER_PORT -t 'deskwatch/v1/#' -v
  VictoriaMetrics   http://127.0.0.1:$VM_PORT/vmui    try: printer_supply_level_percent, memory_used_percent
  helpdesk console  http://127.0.0.1:$API_PORT/        login: $console_login
  collector API     http://127.0.0.1:$API_PORT/api/v1   (bearer token below; OpenAPI docs at http://127.0.0.1:$OPS_PORT/docs)
  API token         $token
  agent             $("$venv/deskwatch-agent" check --config "$state/agent.toml" | sed -n 2p | xargs)
  simulated office  ${devices:-none}

The Sharp printer reports low toner: within a minute or two a ticket opens by itself, in the
console's queue and here:
  export DESKWATCH_API=http://127.0.0.1:$API_PORT DESKWATCH_TOKEN=$token
  $venv/deskwatch incidents list
  $venv/deskwatch whois $(hostname)
  $venv/deskwatch diag $("$venv/deskwatch-agent" check --config "$state/agent.toml" | sed -n 2p | awk '{print $3}') --triage
Grafana: point file provisioning at $repo/deploy/grafana/provisioning
         (datasource URL http://127.0.0.1:$VM_PORT), or: $venv/deskwatch dashboards push --url URL --token T

Stop everything: bash deploy/quickstart.sh stop
INFO
