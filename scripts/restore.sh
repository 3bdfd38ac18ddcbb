#!/usr/bin/env bash
# Restore a Baby Owl backup made by scripts/backup.sh.
#
#   DATABASE_URL=postgresql://... STORAGE_DIR=/srv/babyowl/storage scripts/restore.sh DIR
#
# DIR is one backup folder (babyowl-YYYYmmddTHHMMSSZ), or a directory or
# s3://bucket/prefix holding several: then the newest complete one is taken.
# The database named by DATABASE_URL must exist (createdb) and be empty, and
# STORAGE_DIR must be empty or missing: a restore never mixes two schools.
# RESTORE_REPLACE=1 replaces what is there instead (stop the app first).
# The whole database is restored in one transaction: it fails as a whole.
set -euo pipefail

usage() { echo "usage: DATABASE_URL=... [STORAGE_DIR=...] $0 DIR|s3://bucket/prefix" >&2; exit 2; }
[ $# -eq 1 ] || usage
source_dir=$1
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "restore.sh: $*" >&2; exit 1; }

: "${DATABASE_URL:?DATABASE_URL must name the database to restore into}"
db_url=$(printf '%s' "$DATABASE_URL" | sed -E 's#^postgres(ql)?(\+[a-z0-9]+)?://#postgresql://#')
case "$db_url" in postgresql://*) ;; *) fail "DATABASE_URL is not PostgreSQL: $DATABASE_URL";; esac
replace=${RESTORE_REPLACE:-0}

python=${PYTHON:-}
if [ -z "$python" ]; then
  if [ -x "$here/../.venv/bin/python" ]; then python="$here/../.venv/bin/python"; else python=python3; fi
fi

case "$source_dir" in
  s3://*)
    work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
    folder=$("$python" "$here/backup_s3.py" download "$source_dir" "$work")
    ;;
  *)
    [ -d "$source_dir" ] || fail "no such directory: $source_dir"
    if [ -f "$source_dir/MANIFEST" ]; then
      folder=$source_dir
    else
      # The newest complete backup: names sort by time, and only finished ones have a MANIFEST.
      folder=$(find "$source_dir" -mindepth 2 -maxdepth 2 -name MANIFEST -path '*/babyowl-*/MANIFEST' -printf '%h\n' \
               | sort | tail -n 1)
      [ -n "$folder" ] || fail "no complete backup (a babyowl-* folder with a MANIFEST) in $source_dir"
    fi
    ;;
esac

# Every file exactly as it was written: a copy damaged in transit or on disk stops here.
(cd "$folder" && grep -v '^#' MANIFEST | sha256sum --check --quiet) || fail "checksums in $folder/MANIFEST do not match"

tables=$(psql "$db_url" --no-psqlrc -tAc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") \
  || fail "cannot reach the database (create it first: createdb -O <owner> <name>)"
clean=()
if [ "$tables" != "0" ]; then
  [ "$replace" = "1" ] || fail "the database already has $tables tables; restore into an empty one, or set RESTORE_REPLACE=1"
  clean=(--clean --if-exists)
fi
pg_restore --single-transaction --exit-on-error --no-owner --no-acl "${clean[@]}" --dbname="$db_url" \
  "$folder/database.dump"

if [ -f "$folder/files.tar.gz" ]; then
  : "${STORAGE_DIR:?STORAGE_DIR must name where the stored files go}"
  mkdir -p "$STORAGE_DIR"
  if [ -n "$(ls -A "$STORAGE_DIR")" ]; then
    [ "$replace" = "1" ] || fail "STORAGE_DIR $STORAGE_DIR is not empty; set RESTORE_REPLACE=1 to replace its files"
    find "$STORAGE_DIR" -mindepth 1 -delete
  fi
  tar --extract --gzip --file="$folder/files.tar.gz" --directory="$STORAGE_DIR" --no-same-owner
fi

revision=$(psql "$db_url" --no-psqlrc -tAc "SELECT version_num FROM alembic_version" 2>/dev/null || true)
echo "Restored $(basename "$folder") (database at migration ${revision:-unknown}); run 'flask db upgrade' if the code is newer."
