"""Configuration: embedded default, PostgreSQL/Redis from the environment, a safe production start."""
from __future__ import annotations

import pytest

from babyowl import create_app
from babyowl.config import ConfigError, load_config


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "BABYOWL_ENV", "MAIL_BACKEND", "STORAGE_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_with_nothing_set_the_app_uses_sqlite_under_instance_and_inline_jobs(clean_env, tmp_path):
    config = load_config(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/babyowl.sqlite3"
    assert config["REDIS_URL"] is None
    assert config["MAIL_BACKEND"] == "console"


def test_database_and_redis_come_from_the_environment(clean_env, tmp_path):
    clean_env.setenv("DATABASE_URL", "postgres://u:p@db.internal:5432/babyowl")
    clean_env.setenv("REDIS_URL", "redis://cache:6379/0")
    config = load_config(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db.internal:5432/babyowl"
    assert config["REDIS_URL"] == "redis://cache:6379/0"


def test_production_without_secret_key_refuses_to_start(clean_env):
    clean_env.setenv("BABYOWL_ENV", "production")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_production_with_secret_key_uses_secure_cookies_and_hsts(clean_env, tmp_path):
    clean_env.setenv("BABYOWL_ENV", "production")
    clean_env.setenv("SECRET_KEY", "x" * 64)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/p.db"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    response = app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.parametrize("name, value", [("MAIL_BACKEND", "pigeon"), ("STORAGE_BACKEND", "floppy")])
def test_an_unknown_backend_is_a_startup_error(clean_env, tmp_path, name, value):
    clean_env.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_config(str(tmp_path))


def test_a_new_process_loads_compiled_templates_instead_of_compiling_them(clean_env):
    first = create_app()
    first.jinja_env.get_template("base.html")  # compiled once, kept on disk
    second = create_app()

    def compile_again(*args, **kwargs):
        raise AssertionError("base.html was compiled again")

    second.jinja_env.compile = compile_again
    assert second.jinja_env.get_template("base.html").render  # loaded from the bytecode cache
