#!/usr/bin/env bash
# Makes a private CA and a broker certificate for the TLS listener.
# Usage: deploy/mosquitto/make-certs.sh DIR BROKER_HOSTNAME [MORE_NAMES...]
# Writes DIR/ca.crt (give it to every agent as mqtt.ca_file), DIR/ca.key (keep it
# offline), DIR/server.crt and DIR/server.key (for Mosquitto). 127.0.0.1 and
# localhost are always included, so the broker can be reached on the machine itself.
set -euo pipefail
dir="${1:?output directory}"; shift
names=("${@:-localhost}")
mkdir -p "$dir"; cd "$dir"
san="IP:127.0.0.1,DNS:localhost"
for n in "${names[@]}"; do
  if [[ "$n" =~ ^[0-9.]+$ ]]; then san="$san,IP:$n"; else san="$san,DNS:$n"; fi
done
if [ ! -f ca.key ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=deskwatch broker CA" \
    -keyout ca.key -out ca.crt 2>/dev/null
fi
openssl req -newkey rsa:2048 -nodes -subj "/CN=${names[0]}" -keyout server.key -out server.csr 2>/dev/null
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
  -extfile <(printf "subjectAltName=%s\nextendedKeyUsage=serverAuth" "$san") -out server.crt 2>/dev/null
rm -f server.csr ca.srl
chmod 600 ca.key server.key
echo "CA: $dir/ca.crt  broker certificate: $dir/server.crt ($san)"
