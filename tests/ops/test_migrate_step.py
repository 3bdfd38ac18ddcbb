"""The one-shot migration step of a rollout (deploy/migrate.py, babyowl-migrate.service)."""
from __future__ import annotations

import os
import subprocess
import sys

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from tests.ops.conftest import PROJECT
from tests.ops.conftest import fresh_database as _fresh_database


def test_two_app_servers_migrating_at_once_both_succeed_and_the_schema_is_at_head(database_url):
    fresh = _fresh_database(database_url, "babyowl_h8_migrate")
    env = {key: value for key, value in os.environ.items() if not key.startswith("DB_")}
    # The web's statement timeout is in the environment of a unit, never of the migration.
    env.update({"DATABASE_URL": "postgresql://unused@127.0.0.1:1/nothing", "MIGRATE_DATABASE_URL": fresh,
                "SECRET_KEY": "migrate-test", "DB_STATEMENT_TIMEOUT_MS": "1", "DB_PGBOUNCER": "1"})
    env.pop("REDIS_URL", None)
    runs = [subprocess.Popen([sys.executable, "deploy/migrate.py"], cwd=PROJECT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=180)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    # The revisions were applied once: by whichever server took the lock first.
    assert sum(output.count("Running upgrade  -> 0001") for output in outputs) == 1, outputs
    engine = sa.create_engine(fresh)
    with engine.connect() as conn:
        head = conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    engine.dispose()
    assert head == ScriptDirectory(str(PROJECT / "migrations")).get_current_head()
    # Run again (a restart of the web unit): nothing to do, success.
    again = subprocess.run([sys.executable, "deploy/migrate.py"], cwd=PROJECT, env=env, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0 and "Running upgrade" not in again.stdout + again.stderr
