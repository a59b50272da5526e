#!/bin/sh
# Entrypoint of the mosquitto container (docker/mosquitto/Dockerfile). At every
# start:
#   1. the password file (secrets/mosquitto_passwd, mounted read-only at
#      /run/secrets/mosquitto_passwd) is copied to /run/mosquitto/passwd, owned
#      by mosquitto, mode 0600;
#   2. the ACL: user "ari-app" (the service) reads and writes <prefix>/#, user
#      "wallboard" (dashboards, wall screens) only reads <prefix>/#; nobody
#      else anything;
#   3. the config: the image's mosquitto.conf plus one listener per address of
#      MQTT_LISTEN (port 1883; 127.0.0.1 is always one: ari-app uses it) and a
#      websocket listener per "address:port" of MQTT_WS_LISTEN.
# Environment: MQTT_LISTEN (default 127.0.0.1), MQTT_WS_LISTEN (default none),
# MQTT_PREFIX (default callcenter; the service's [mqtt] prefix).
set -eu

src=${MOSQUITTO_PASSWD_SECRET:-/run/secrets/mosquitto_passwd}
run=${MOSQUITTO_RUN_DIR:-/run/mosquitto}
template=${MOSQUITTO_TEMPLATE:-/usr/share/ari-app/mosquitto.conf}
prefix=${MQTT_PREFIX:-callcenter}

log() { printf 'mosquitto-entrypoint: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
addr_ok() { [ -n "$1" ] && [ -z "$(printf '%s' "$1" | sed 's/[][0-9A-Za-z.:_-]//g')" ]; }

[ -s "$src" ] || die "$src is missing or empty: run scripts/setup-secrets on the host (writes ./secrets/mosquitto_passwd)"
grep -q '^ari-app:' "$src" || die "$src has no user ari-app (regenerate: scripts/setup-secrets --force)"
[ -z "$(printf '%s' "$prefix" | sed 's/[0-9A-Za-z_-]//g')" ] && [ -n "$prefix" ] || die "MQTT_PREFIX '$prefix' must be letters, digits, - or _"

umask 077
mkdir -p "$run"
cp "$src" "$run/passwd"
cat >"$run/acl" <<ACL
user ari-app
topic readwrite $prefix/#

user wallboard
topic read $prefix/#
ACL
{
  cat "$template"
  echo
  echo "# rendered by the entrypoint from MQTT_LISTEN='${MQTT_LISTEN:-}' MQTT_WS_LISTEN='${MQTT_WS_LISTEN:-}'"
  seen=" "
  for a in 127.0.0.1 ${MQTT_LISTEN:-}; do
    addr_ok "$a" || die "MQTT_LISTEN: '$a' is not an address"
    a=${a#\[}; a=${a%\]}   # mosquitto wants IPv6 bare; PBX_BIND (and so MQTT_LISTEN) has [brackets]
    case $seen in *" $a "*) continue ;; esac
    seen="$seen$a "
    echo "listener 1883 $a"
  done
  for l in ${MQTT_WS_LISTEN:-}; do
    a=${l%:*} p=${l##*:}
    addr_ok "$a" && [ "$a" != "$l" ] || die "MQTT_WS_LISTEN: '$l' is not address:port"
    case $p in ''|*[!0-9]*) die "MQTT_WS_LISTEN: '$l' has no port" ;; esac
    [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "MQTT_WS_LISTEN: '$l': the port is not 1-65535"
    a=${a#\[}; a=${a%\]}
    printf 'listener %s %s\nprotocol websockets\n' "$p" "$a"
  done
} >"$run/mosquitto.conf.new"
mv -f "$run/mosquitto.conf.new" "$run/mosquitto.conf"
if [ "$(id -u)" = 0 ]; then
  chown -R mosquitto:mosquitto "$run" /var/lib/mosquitto 2>/dev/null || chown -R mosquitto:mosquitto "$run"
  chmod 0600 "$run/passwd" "$run/acl"
  chmod 0644 "$run/mosquitto.conf"
fi
log "listeners: 127.0.0.1 ${MQTT_LISTEN:-} ${MQTT_WS_LISTEN:+websockets: $MQTT_WS_LISTEN}"
[ $# -gt 0 ] || set -- mosquitto -c "$run/mosquitto.conf"
exec "$@"
