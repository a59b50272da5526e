#!/bin/sh
# Entrypoint of the mosquitto service (eclipse-mosquitto:2; docker-compose.yml
# mounts this file and runs it with /bin/sh). Mosquitto reads its password file
# as the mosquitto user and (2.0.16+) warns about files it does not own, so the
# generated file (scripts/setup-secrets: secrets/mosquitto_passwd, mounted
# read-only at /run/secrets/mosquitto_passwd) is copied to
# /mosquitto/config/passwd, owned by mosquitto, mode 0600, at every start.
# Then the image's own entrypoint and the broker.
set -eu

src=${MOSQUITTO_PASSWD_SECRET:-/run/secrets/mosquitto_passwd}
dst=/mosquitto/config/passwd

log() { printf 'mosquitto-entrypoint: %s\n' "$*" >&2; }

if [ ! -s "$src" ]; then
  log "error: $src is missing or empty: run scripts/setup-secrets on the host (writes ./secrets/mosquitto_passwd)"
  exit 1
fi
if ! grep -q '^[^:#][^:]*:' "$src"; then
  log "error: $src has no user:hash line"
  exit 1
fi

umask 077
cp "$src" "$dst.new"
chown mosquitto:mosquitto "$dst.new"
chmod 0600 "$dst.new"
mv -f "$dst.new" "$dst"

[ $# -gt 0 ] || set -- /usr/sbin/mosquitto -c /mosquitto/config/mosquitto.conf
exec /docker-entrypoint.sh "$@"
