#!/bin/sh
# Entrypoint of the optional PostgreSQL container (docker/postgres/Dockerfile).
# First start (empty volume): initdb, then database and role "ari_app" with
# POSTGRES_PASSWORD (scripts/setup-secrets writes it to .env; the service's
# store URL names it through [store] url_env = "ARI_APP_STORE_URL"). Every
# start: the server in the foreground on 127.0.0.1:5432, scram-sha-256 only.
set -eu
log() { printf 'postgres-entrypoint: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
[ -n "${POSTGRES_PASSWORD:-}" ] || die "POSTGRES_PASSWORD is not set (run scripts/setup-secrets; it writes .env)"
case $POSTGRES_PASSWORD in *"'"*|*'\'*) die "POSTGRES_PASSWORD must not hold quotes or backslashes" ;; esac
install -d -o postgres -g postgres -m 2775 /run/postgresql
chown postgres:postgres /var/lib/ari-app-pg
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  log "initialising the cluster in $PGDATA"
  pw=$(mktemp); chown postgres "$pw"; printf '%s\n' "$POSTGRES_PASSWORD" >"$pw"
  su postgres -s /bin/sh -c "initdb -D '$PGDATA' -U postgres --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null"
  rm -f "$pw"
  su postgres -s /bin/sh -c "pg_ctl -D '$PGDATA' -o \"-c listen_addresses='' \" -w start >/dev/null"
  su postgres -s /bin/sh -c "psql -v ON_ERROR_STOP=1 -q -d postgres" <<SQL
CREATE ROLE ari_app LOGIN PASSWORD '$POSTGRES_PASSWORD';
CREATE DATABASE ari_app OWNER ari_app;
SQL
  su postgres -s /bin/sh -c "pg_ctl -D '$PGDATA' -m fast -w stop >/dev/null"
fi
exec su postgres -s /bin/sh -c "exec postgres -D '$PGDATA' -c listen_addresses=127.0.0.1 -c port=5432"
