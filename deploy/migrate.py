"""The one-shot migration step of a rollout: `flask db upgrade`, once, whoever runs it.

    python deploy/migrate.py        (deploy/systemd/babyowl-migrate.service)

Holds a PostgreSQL advisory lock around the upgrade, so app servers rolling out
at the same moment migrate one after the other: the first applies the new
revisions, the others find the schema at head and do nothing. Connects to
MIGRATE_DATABASE_URL when set (PostgreSQL itself where DATABASE_URL points at
PgBouncer, whose transaction pooling does not keep a session lock), and never
with the web's statement timeout: a migration may rewrite a big table.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

# Any fixed number: the lock only has to be the same one on every app server.
MIGRATION_LOCK = 0x0BAB_0001


def main() -> int:
    if os.environ.get("MIGRATE_DATABASE_URL"):
        os.environ["DATABASE_URL"] = os.environ["MIGRATE_DATABASE_URL"]
        os.environ["DB_PGBOUNCER"] = "0"
    os.environ.pop("DB_STATEMENT_TIMEOUT_MS", None)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    from flask_migrate import current, upgrade

    from babyowl import create_app
    from babyowl.extensions import db

    app = create_app()
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        sys.exit("migrate.py: DATABASE_URL must point at PostgreSQL.")
    with app.app_context():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as lock:
            lock.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
            try:
                upgrade()
                current()
            finally:
                lock.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
        db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
