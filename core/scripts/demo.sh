#!/usr/bin/env bash
# The main job, end to end: the keyhouse CLI on a local SQLite file.
# Usage: demo.sh PATH-TO-KEYHOUSE-BINARY [DB-FILE]
set -euo pipefail

bin=$1
db=${2:-keyhouse-demo.db}
rm -f "$db" "$db-wal" "$db-shm"
kh() { "$bin" --db "$db" "$@"; }
say() { printf '\n\033[1m$ keyhouse %s\033[0m\n' "$*"; }
run() { say "$@"; kh "$@"; }

say create --prefix acme_live --owner team-42 --name deploy-bot --permission 'deploy:*' --remaining 3
key=$(kh create --prefix acme_live --owner team-42 --name deploy-bot --permission 'deploy:*' --remaining 3 | head -n 1)
echo "$key"
# The id is the 14 characters before the last underscore; it is safe to log.
rest=${key%_*}
id=${rest: -14}

run create --prefix acme_test --owner team-42 --name ci --expires-in 30d --rate-limit 100 --rate-window 1m >/dev/null 2>&1
echo "(a second key, created; its plaintext is not shown here)"

run verify "$key" --permission deploy:prod
run verify "${key%?}X" || echo "exit code $? (a typo is caught by the checksum; the store was not touched)"
run verify "$key" --permission billing:read || echo "exit code $?"
run list
run show "$id"
run revoke "$id"
run verify "$key" || echo "exit code $? (revoked)"
run list --include-revoked
echo
echo "Database: $db"
