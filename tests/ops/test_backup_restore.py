"""Backups that are restored (issue 22, point 6): scripts/backup.sh and scripts/restore.sh.

A seeded demo school with a stored file is backed up, restored into another
fresh database and storage directory, and compared table by table.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa

from babyowl import create_app
from babyowl.extensions import db as _db
from tests.conftest import BASE_TEST_CONFIG
from tests.ops.conftest import fresh_database as _fresh_database
from tests.storage_fixtures import BUCKET, REGION  # the moto S3 server: s3_endpoint

PROJECT = Path(__file__).parents[2]
# Bytes no text conversion would leave alone: a NUL, a CR LF, high bytes.
FILE_BYTES = bytes(range(256)) * 40 + b"\r\n\x00end"


def _env(database_url: str, storage_dir: Path, **extra: str) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url, "STORAGE_DIR": str(storage_dir), "SECRET_KEY": "backup-test",
           "STORAGE_BACKEND": "local", **extra}
    for name in ("REDIS_URL", "DB_STATEMENT_TIMEOUT_MS", "DB_PGBOUNCER", "RESTORE_REPLACE"):
        if name not in extra:
            env.pop(name, None)
    return env


def _run(args: list[str], env: dict) -> str:
    done = subprocess.run(args, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _flask(env: dict, *command: str) -> str:
    return _run([sys.executable, "-m", "flask", "--app", "babyowl", *command], env)


def _table_fingerprints(database_url: str) -> dict[str, tuple[int, str]]:
    """Every table's row count and a hash of its rows in a stable order."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            tables = conn.scalars(sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")).all()
            return {table: tuple(conn.execute(sa.text(
                f'SELECT count(*), md5(coalesce(string_agg(t::text, \'|\' ORDER BY t::text), \'\')) FROM "{table}" t'
            )).one()) for table in tables}
    finally:
        engine.dispose()


def _reconciliation_and_file(database_url: str, storage_dir: Path, key: str):
    from babyowl import storage
    from babyowl.services import credits

    app = create_app({**BASE_TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url, "STORAGE_DIR": str(storage_dir)})
    with app.app_context():
        try:
            return credits.reconciliation(), storage.get_storage().read(key)
        finally:
            _db.session.remove()
            _db.engine.dispose()


@pytest.fixture(scope="module")
def seeded_school(database_url, tmp_path_factory):
    """The demo school (`flask seed-demo`) in a fresh database, plus one stored file; no test changes it."""
    source_url = _fresh_database(database_url, "babyowl_h8_backup_source")
    storage_dir = tmp_path_factory.mktemp("school") / "storage"
    env = _env(source_url, storage_dir)
    _flask(env, "db", "upgrade")
    assert "Demo school ready" in _flask(env, "seed-demo")
    key = "submissions/demo/assignment.pdf"
    app = create_app({**BASE_TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": source_url, "STORAGE_DIR": str(storage_dir)})
    with app.app_context():
        from babyowl import storage

        storage.get_storage().save(key, FILE_BYTES, "application/pdf")
        _db.engine.dispose()
    return source_url, storage_dir, key, env


def _assert_same_school(source_url, restored_url, restored_storage, key):
    source, restored = _table_fingerprints(source_url), _table_fingerprints(restored_url)
    assert set(restored) == set(source)
    assert {t: n for t, (n, _) in restored.items()} == {t: n for t, (n, _) in source.items()}
    assert restored == source  # the rows themselves, not only how many
    assert source["users"][0] > 0 and source["class_attendance"][0] > 0 and source["alembic_version"][0] == 1
    discrepancies, (data, content_type) = _reconciliation_and_file(restored_url, restored_storage, key)
    assert discrepancies == []
    assert data == FILE_BYTES and content_type == "application/pdf"


def test_a_backup_restores_into_a_fresh_database_with_the_same_rows_and_files(seeded_school, database_url, tmp_path):
    source_url, _, key, env = seeded_school
    backups = tmp_path / "backups"
    folder = Path(_run(["bash", "scripts/backup.sh", str(backups)], env).strip().splitlines()[-1])
    assert folder.parent == backups and folder.name.startswith("babyowl-")
    assert sorted(p.name for p in folder.iterdir()) == ["MANIFEST", "database.dump", "files.tar.gz"]
    assert not list(backups.glob(".partial-*"))

    restored_url = _fresh_database(database_url, "babyowl_h8_backup_restored")
    restored_storage = tmp_path / "restored-storage"
    output = _run(["bash", "scripts/restore.sh", str(backups)], _env(restored_url, restored_storage))
    assert folder.name in output

    _assert_same_school(source_url, restored_url, restored_storage, key)
    # The restored school works as an app: its migrations are current.
    assert "(head)" in _flask(_env(restored_url, restored_storage), "db", "current")

    # Restoring again over it, when asked to replace, gives the same school (not twice the rows).
    (restored_storage / "submissions/stray.bin").write_bytes(b"not in the backup")
    _run(["bash", "scripts/restore.sh", str(folder)], _env(restored_url, restored_storage, RESTORE_REPLACE="1"))
    _assert_same_school(source_url, restored_url, restored_storage, key)
    assert not (restored_storage / "submissions/stray.bin").exists()


def test_a_restore_refuses_a_database_that_is_not_empty(seeded_school, tmp_path):
    source_url, storage_dir, _, env = seeded_school
    folder = _run(["bash", "scripts/backup.sh", str(tmp_path / "backups")], env).strip().splitlines()[-1]
    before = _table_fingerprints(source_url)
    done = subprocess.run(["bash", "scripts/restore.sh", folder], cwd=PROJECT, env=_env(source_url, tmp_path / "x"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "already has" in done.stderr
    assert _table_fingerprints(source_url) == before


def test_a_damaged_backup_is_refused_before_anything_is_restored(seeded_school, database_url, tmp_path):
    _, _, _, env = seeded_school
    folder = Path(_run(["bash", "scripts/backup.sh", str(tmp_path / "backups")], env).strip().splitlines()[-1])
    with (folder / "database.dump").open("r+b") as dump:
        dump.seek(200)
        dump.write(b"\xff\xff\xff\xff")
    restored_url = _fresh_database(database_url, "babyowl_h8_backup_restored")
    done = subprocess.run(["bash", "scripts/restore.sh", str(folder)], cwd=PROJECT,
                          env=_env(restored_url, tmp_path / "restored"), capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "checksums" in done.stderr
    assert _table_fingerprints(restored_url) == {}


def test_a_backup_to_s3_restores_the_newest_complete_one(seeded_school, s3_endpoint, database_url, tmp_path):
    source_url, storage_dir, key, _ = seeded_school
    s3_env = {"S3_ENDPOINT_URL": s3_endpoint, "S3_REGION": REGION}
    env = _env(source_url, storage_dir, **s3_env)
    address = _run(["bash", "scripts/backup.sh", f"s3://{BUCKET}/nightly"], env).strip().splitlines()[-1]
    assert address.startswith(f"s3://{BUCKET}/nightly/babyowl-")
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION)
    stored = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    name = address.rsplit("/", 1)[-1]
    assert stored == [f"nightly/{name}/{f}" for f in ("MANIFEST", "database.dump", "files.tar.gz")]
    # A later backup that did not finish (no MANIFEST) is not the one restored.
    s3.put_object(Bucket=BUCKET, Key="nightly/babyowl-99991231T000000Z/database.dump", Body=b"half")

    restored_url = _fresh_database(database_url, "babyowl_h8_backup_restored")
    restored_storage = tmp_path / "restored-storage"
    output = _run(["bash", "scripts/restore.sh", f"s3://{BUCKET}/nightly"],
                  _env(restored_url, restored_storage, **s3_env))
    assert name in output
    _assert_same_school(source_url, restored_url, restored_storage, key)
