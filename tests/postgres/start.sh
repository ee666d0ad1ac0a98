#!/usr/bin/env bash
# Starts the PostgreSQL server the tests use, from Debian's packages,
# installing it first on a fresh machine. Creates the role and database named
# in KEYHOUSE_TEST_PG (postgres://USER:PASSWORD@HOST:PORT/DB) when missing.
# Each suite then makes its own schema inside that database.
set -euo pipefail
url="${KEYHOUSE_TEST_PG:?KEYHOUSE_TEST_PG must name the test server, e.g. postgres://keyhouse:keyhouse@127.0.0.1:5432/keyhouse_test}"

if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version="$(ls /usr/lib/postgresql | sort -n | tail -1)"
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main"' | grep -q .; then
  pg_createcluster "$version" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
  pg_ctlcluster "$version" main start
fi

# postgres://user:password@host:port/db
rest="${url#*://}"
creds="${rest%%@*}"
user="${creds%%:*}"
password="${creds#*:}"
db="${rest##*/}"
db="${db%%\?*}"
psql_admin() { runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qAt "$@"; }
for _ in $(seq 1 30); do psql_admin -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.5; done
if [ -z "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$user'")" ]; then
  psql_admin -c "CREATE ROLE \"$user\" LOGIN PASSWORD '$password'"
fi
# CREATEDB: one test makes a database of its own and drops it under a store.
psql_admin -c "ALTER ROLE \"$user\" CREATEDB"
if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
  psql_admin -c "CREATE DATABASE \"$db\" OWNER \"$user\""
fi
echo "PostgreSQL $version is up for $user@$db"

# Schemas that earlier test runs left behind (a killed run, or a language
# whose tests do not drop their own).
stale="$(psql_admin -d "$db" -c "SELECT string_agg(format('%I', nspname), ', ') FROM pg_namespace \
  WHERE nspname ~ '^(t|py|node|kt|sw|torture)_'")"
if [ -n "$stale" ]; then
  psql_admin -d "$db" -c "SET client_min_messages = warning; DROP SCHEMA $stale CASCADE" >/dev/null
fi
for stale_db in $(psql_admin -c "SELECT datname FROM pg_database WHERE datname ~ '^t_dropdb_'"); do
  psql_admin -c "DROP DATABASE \"$stale_db\" WITH (FORCE)"
done
