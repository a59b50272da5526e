#!/bin/sh
# Entrypoint of the ari-app container (docker/service/Dockerfile): before
# `ari-app run`, make sure the secrets arrived (docker-compose.yml passes them
# from .env, which scripts/setup-secrets writes) and the config is there, so a
# deployment without them fails at once with a clear message instead of
# running with blank passwords. Other commands (ari-app --help, sh) run as is.
set -eu

log() { printf 'ari-app-entrypoint: %s\n' "$*" >&2; }

if [ "${1:-}" = ari-app ] && [ "${2:-}" = run ]; then
  missing=""
  for v in ARI_PASSWORD AMI_SECRET MQTT_PASSWORD; do
    eval "val=\${$v:-}"
    [ -n "$val" ] || missing="$missing $v"
  done
  if [ -n "$missing" ]; then
    log "error: not set:$missing (run scripts/setup-secrets on the host; it writes .env next to docker-compose.yml)"
    exit 1
  fi
  config=/etc/ari-app/config.toml
  prev=""
  for a in "$@"; do
    [ "$prev" = --config ] && config=$a
    prev=$a
  done
  if [ ! -f "$config" ] || [ ! -r "$config" ]; then
    log "error: config $config is missing or unreadable (docker-compose.yml mounts ./config/production.toml)"
    exit 1
  fi
fi
exec "$@"
