#!/bin/sh
# Entrypoint of the optional PostgreSQL container (docker/postgres/Dockerfile).
# First start (empty volume): initdb, database and role "ari_app". Every start:
# the role's password set to POSTGRES_PASSWORD (.env, scripts/setup-secrets),
# so .env is the one place it lives; then the server in the foreground on
# 127.0.0.1:5432, scram-sha-256 only, as PID 1's child with no su in between
# (SIGINT from `docker-compose stop`: a fast shutdown, not a kill).
set -eu
log() { printf 'postgres-entrypoint: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
[ -n "${POSTGRES_PASSWORD:-}" ] || die "POSTGRES_PASSWORD is not set (run scripts/setup-secrets; it writes .env)"
case $POSTGRES_PASSWORD in *"'"*|*'\'*) die "POSTGRES_PASSWORD must not hold quotes or backslashes" ;; esac
as_postgres() { env HOME=/var/lib/postgresql setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
install -d -o postgres -g postgres -m 2775 /run/postgresql
chown postgres:postgres /var/lib/ari-app-pg
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  log "initialising the cluster in $PGDATA"
  as_postgres initdb -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  new=1
else
  new=0
fi
# a server on the socket only, for the role and its password
as_postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
if [ "$new" = 1 ]; then
  as_postgres psql -v ON_ERROR_STOP=1 -q -d postgres -c "CREATE ROLE ari_app LOGIN" -c "CREATE DATABASE ari_app OWNER ari_app"
fi
# on stdin, never on a command line
printf "ALTER ROLE ari_app PASSWORD '%s';\n" "$POSTGRES_PASSWORD" | as_postgres psql -v ON_ERROR_STOP=1 -q -d postgres
as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
exec env HOME=/var/lib/postgresql setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" -c listen_addresses=127.0.0.1 -c port=5432
