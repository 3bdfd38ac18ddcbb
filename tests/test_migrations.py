"""Models and migrations agree: autogenerate finds nothing to do on PostgreSQL."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from babyowl.models.base import Base


def test_models_and_migrations_do_not_drift(db):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": False})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_flask_db_check_passes(app, db):
    from flask_migrate import check

    # `flask db check` exits non-zero (SystemExit / CommandError) when it finds drift.
    with app.app_context():
        check()


def test_there_is_one_initial_migration_and_it_is_applied(db):
    from pathlib import Path

    import sqlalchemy as sa

    versions = [p for p in (Path(__file__).parents[1] / "migrations" / "versions").glob("*.py")]
    assert len(versions) >= 1
    head = db.session.scalar(sa.text("SELECT version_num FROM alembic_version"))
    assert any(head in p.name for p in versions)
