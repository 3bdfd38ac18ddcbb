#!/usr/bin/env bash
# Back up Baby Owl: the database (pg_dump, custom format) and the stored files.
#
#   DATABASE_URL=postgresql://... STORAGE_DIR=/srv/babyowl/storage scripts/backup.sh DIR
#
# DIR is a local directory or s3://bucket/prefix. Each run writes one folder,
# babyowl-YYYYmmddTHHMMSSZ, holding database.dump, files.tar.gz (when the app
# keeps its files in STORAGE_DIR) and MANIFEST (sha256 of both, written last:
# a folder without it is an interrupted backup and restore.sh refuses it).
# Restore with scripts/restore.sh. Retention (deleting old folders) is left to
# the caller; see the README, "Backups".
set -euo pipefail

usage() { echo "usage: DATABASE_URL=... [STORAGE_DIR=...] $0 DIR|s3://bucket/prefix" >&2; exit 2; }
[ $# -eq 1 ] || usage
target=$1
here=$(cd "$(dirname "$0")" && pwd)

: "${DATABASE_URL:?DATABASE_URL must name the database to back up}"
# libpq does not know SQLAlchemy's driver suffix (postgresql+psycopg://).
db_url=$(printf '%s' "$DATABASE_URL" | sed -E 's#^postgres(ql)?(\+[a-z0-9]+)?://#postgresql://#')
case "$db_url" in postgresql://*) ;; *) echo "backup.sh: DATABASE_URL is not PostgreSQL: $DATABASE_URL" >&2; exit 2;; esac

python=${PYTHON:-}
if [ -z "$python" ]; then
  if [ -x "$here/../.venv/bin/python" ]; then python="$here/../.venv/bin/python"; else python=python3; fi
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
name="babyowl-$stamp"
case "$target" in
  s3://*) work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; folder="$work/$name" ;;
  *) mkdir -p "$target"; folder="$target/$name" ;;
esac
# Written under a hidden name and renamed when complete, so a listing of DIR
# never shows a half-written backup as the latest.
partial="$(dirname "$folder")/.partial-$name"
rm -rf "$partial"
mkdir -p "$partial"
chmod 700 "$partial"

# pg_dump reads the whole database in one snapshot (a repeatable-read
# transaction), so the dump is consistent while the school keeps working.
pg_dump --format=custom --compress=6 --no-owner --no-acl --file="$partial/database.dump" "$db_url"

# The files after the database: a file is stored before the row that names it
# commits, so every file a dumped row names is already there. (The other way
# round, a file uploaded between the two steps would be named by no row: harmless.)
storage_backend=${STORAGE_BACKEND:-local}
if [ "$storage_backend" = "local" ]; then
  : "${STORAGE_DIR:?STORAGE_DIR must name the stored files (or set STORAGE_BACKEND=s3)}"
  mkdir -p "$STORAGE_DIR"
  tar --create --gzip --file="$partial/files.tar.gz" --directory="$STORAGE_DIR" .
else
  echo "backup.sh: STORAGE_BACKEND=$storage_backend: the files stay in their bucket (turn on its versioning)." >&2
fi

{
  echo "# Baby Owl backup $stamp"
  echo "# pg_dump: $(pg_dump --version)"
  (cd "$partial" && sha256sum database.dump $( [ -f "$partial/files.tar.gz" ] && echo files.tar.gz ))
} > "$partial/MANIFEST.tmp"
mv "$partial/MANIFEST.tmp" "$partial/MANIFEST"
mv "$partial" "$folder"

case "$target" in
  s3://*)
    "$python" "$here/backup_s3.py" upload "$folder" "${target%/}/$name"
    echo "${target%/}/$name"
    ;;
  *) echo "$folder" ;;
esac
