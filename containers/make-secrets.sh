#!/usr/bin/env bash
# Writes the secrets containers/compose.yaml mounts, into containers/secrets/
# (kept out of git): the Postgres password and the database URL that uses it,
# the S3 secret key, the key that encrypts login sessions and the key that
# signs page sessions. Existing files are kept.
set -euo pipefail
dir="$(dirname "$0")/secrets"
mkdir -p "$dir"
chmod 700 "$dir"
rand() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
[ -s "$dir/pg_password" ] || rand > "$dir/pg_password"
[ -s "$dir/database_url" ] || echo "postgres://bevara:$(cat "$dir/pg_password")@postgres:5432/bevara" > "$dir/database_url"
[ -s "$dir/s3_secret_key" ] || rand > "$dir/s3_secret_key"
[ -s "$dir/session_key" ] || rand > "$dir/session_key"
[ -s "$dir/web_session_key" ] || rand > "$dir/web_session_key"
# Readable inside the containers (they run as uid 10001, the files are
# bind-mounted); the directory keeps them from other users on the host.
chmod 644 "$dir"/*
echo "secrets in $dir"
