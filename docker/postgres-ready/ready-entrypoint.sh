#!/bin/bash
# Starts PostgreSQL from the cluster made when the image was built: copies it into an
# empty PGDATA, sets POSTGRES_USER's password and creates POSTGRES_DB in single-user
# mode (no server, no port), then runs postgres as the postgres user. Anything this
# cluster cannot serve (another user, another auth method, a PGDATA already in use, a
# command other than postgres) goes to the base image's entrypoint, unchanged.
set -euo pipefail

if [ "${1:-}" != "" ] && [ "${1:0:1}" = "-" ]; then
  set -- postgres "$@"
fi
ready=/var/lib/postgresql/ready
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
if [ "${1:-}" != postgres ] || [ -s "$PGDATA/PG_VERSION" ] || [ "$auth" != scram-sha-256 ] \
  || [ -z "${POSTGRES_PASSWORD:-}" ] || [ "$user" != "$(cat "$ready.user" 2>/dev/null)" ]; then
  exec docker-entrypoint.sh "$@"
fi

mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 0700 "$PGDATA"
cp -a "$ready/." "$PGDATA/"

literal() { local s=${1//\'/\'\'}; printf "'%s'" "$s"; }
ident() { local s=${1//\"/\"\"}; printf '"%s"' "$s"; }
sql="ALTER ROLE $(ident "$user") PASSWORD $(literal "$POSTGRES_PASSWORD")"
if [ "$db" != postgres ]; then
  sql+=$'\n'"CREATE DATABASE $(ident "$db")"
fi
# Single-user mode reports a failed statement on its output and still exits 0.
out=$(printf '%s\n' "$sql" | setpriv --reuid=postgres --regid=postgres --init-groups \
  postgres --single -D "$PGDATA" -c listen_addresses='' postgres 2>&1) || {
  echo "error: setting up the ready cluster failed: $out" >&2
  exit 1
}
if grep -qE '^(ERROR|FATAL|PANIC)' <<<"$out"; then
  echo "error: setting up the ready cluster failed: $(grep -E '^(ERROR|FATAL|PANIC)' <<<"$out")" >&2
  exit 1
fi
echo "database ready (from the image's cluster): user $user, database $db"

exec setpriv --reuid=postgres --regid=postgres --init-groups "$@"
