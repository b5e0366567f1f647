#!/bin/bash
# Initialises an empty PGDATA from POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB, then
# runs postgres (as the postgres user) in the foreground, like the official image.
set -euo pipefail

# `docker run IMAGE -c fsync=off` means `postgres -c fsync=off`.
if [ "${1:-}" != "" ] && [ "${1:0:1}" = "-" ]; then
  set -- postgres "$@"
fi
if [ "${1:-}" != "postgres" ]; then
  exec "$@"
fi

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != "trust" ]; then
  echo "error: POSTGRES_PASSWORD is not set (or set POSTGRES_HOST_AUTH_METHOD=trust)" >&2
  exit 1
fi

mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 0700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  chown postgres "$pwfile"
  as_postgres initdb --username="$user" --pwfile="$pwfile" --auth-local=trust \
    --auth-host="$auth" --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  {
    echo "listen_addresses = '*'"
    echo "password_encryption = scram-sha-256"
  } >>"$PGDATA/postgresql.conf"
  echo "host all all all $auth" >>"$PGDATA/pg_hba.conf"
  if [ "$db" != "postgres" ]; then
    # Create the database with a server that listens on the socket only.
    as_postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    as_postgres psql -v ON_ERROR_STOP=1 --username="$user" --dbname=postgres -q \
      -c "CREATE DATABASE \"$db\"" >/dev/null
    as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  echo "database initialised: user $user, database $db"
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups "$@"
