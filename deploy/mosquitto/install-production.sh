#!/usr/bin/env bash
# Installs the production broker config on this machine (Debian's mosquitto package):
# TLS on 8883, per-agent passwords, the deskwatch ACL.
# Usage: deploy/mosquitto/install-production.sh BROKER_HOSTNAME [MORE_NAMES...]
# Then add agents with `deskwatch-collector agents enroll NAME` (or mosquitto_passwd) and
# restart mosquitto. Re-running keeps the CA, passwords and ACL edits already made.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir=/etc/mosquitto/deskwatch
mkdir -p "$dir/certs" "$dir/data"
"$here/make-certs.sh" "$dir/certs" "$@"
[ -f "$dir/acl" ] || cp "$here/acl" "$dir/acl"
touch "$dir/passwd"
sed -e "s|@PORT@|8883|g" -e "s|@DIR@|$dir|g" "$here/production.conf" > /etc/mosquitto/conf.d/deskwatch.conf
chown -R mosquitto: "$dir"; chmod 700 "$dir"
echo "installed /etc/mosquitto/conf.d/deskwatch.conf; restart mosquitto to apply"
