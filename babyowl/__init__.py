"""Baby Owl: a learning-management system for a coding school."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine


def create_app(config_overrides: dict | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, error handlers, CLI.

    Nothing here touches the database or the network, so creating an app is
    cheap and safe in tests, the worker and the CLI.
    """
    from babyowl import models  # noqa: F401  (registers every table on the metadata)
    from babyowl.cli import register_cli
    from babyowl.config import load_config
    from babyowl.errors import register_error_handlers
    from babyowl.extensions import babel, compress, csrf, db, limiter, login_manager, migrate
    from babyowl.i18n import (
        LANGUAGE_NAMES, install_template_gettext, register_filters, select_locale, select_timezone,
    )
    from flask_babel import get_locale

    from babyowl.navigation import (
        ATTENDANCE_STATUS_NAMES, CLASS_STATUS_ACTIONS, CLASS_STATUS_NAMES, CLASS_TYPE_NAMES, DAY_NAMES,
        ENROLLMENT_STATUS_NAMES, PAYMENT_STATUS_NAMES, COURSE_STATUS_NAMES, LANGUAGE_LABELS, LEVEL_NAMES, ROLE_NAMES,
        STATUS_NAMES, layout_urls, navigation_for,
    )
    from babyowl.authz import can_manage_user
    from babyowl.security import add_security_headers

    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    _configure_templates(app)
    app.config.from_mapping(load_config(app.instance_path, config_overrides))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    _configure_pool(app, db)
    from babyowl.session_cookie import SlidingSessionInterface

    app.session_interface = SlidingSessionInterface()
    # First registered, so its after-request step runs last and sees every Vary the others add.
    compress.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    csrf.init_app(app)
    from babyowl.security import csrf_token

    # Templates sign their token through the per-process reuse (security.csrf_token), not Flask-WTF's own.
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.context_processor(lambda: {"csrf_token": csrf_token})
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    install_template_gettext(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    _configure_login(login_manager)
    register_filters(app)
    app.jinja_env.filters["day_name"] = lambda day: DAY_NAMES.get(day, day)
    from babyowl.static_files import runner_files, serve_static

    app.jinja_env.globals["runner_files"] = runner_files
    from babyowl.services.header_counts import header_counts

    app.jinja_env.globals["header_counts"] = header_counts

    from babyowl.blueprints.account.views import bp as account_bp
    from babyowl.blueprints.admin.views import bp as admin_bp
    from babyowl.blueprints.attendance.views import bp as attendance_bp
    from babyowl.blueprints.auth.views import bp as auth_bp
    from babyowl.blueprints.authoring.views import bp as authoring_bp
    from babyowl.blueprints.catalog.views import bp as catalog_bp
    from babyowl.blueprints.classes.views import bp as classes_bp
    from babyowl.blueprints.coding.views import bp as coding_bp
    from babyowl.blueprints.credits.views import bp as credits_bp
    from babyowl.blueprints.learn.views import bp as learn_bp
    from babyowl.blueprints.main.views import bp as main_bp
    from babyowl.blueprints.reports.views import bp as reports_bp
    from babyowl.blueprints.announcements.views import bp as announcements_bp
    from babyowl.blueprints.notifications.views import bp as notifications_bp
    from babyowl.blueprints.gamification.views import bp as gamification_bp
    from babyowl.blueprints.messages.views import bp as messages_bp
    from babyowl.blueprints.community.views import bp as community_bp
    from babyowl.blueprints.payments.views import bp as payments_bp

    for blueprint in (main_bp, auth_bp, account_bp, admin_bp, catalog_bp, authoring_bp, classes_bp, attendance_bp,
                      credits_bp, reports_bp, coding_bp, learn_bp, announcements_bp, notifications_bp,
                      messages_bp, community_bp, payments_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(gamification_bp)

    register_error_handlers(app)
    from babyowl.blueprints.api.core import init_api

    init_api(app)
    register_cli(app)
    from babyowl.observability import init_observability

    init_observability(app)
    app.after_request(add_security_headers)
    serve_static(app)
    if app.config["PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    @app.context_processor
    def layout_context():
        return {
            "navigation": navigation_for(),
            "layout_urls": layout_urls(),
            "school_name": app.config["SCHOOL_NAME"],
            "role_names": ROLE_NAMES,
            "class_type_names": CLASS_TYPE_NAMES,
            "class_status_names": CLASS_STATUS_NAMES,
            "class_status_actions": CLASS_STATUS_ACTIONS,
            "payment_status_names": PAYMENT_STATUS_NAMES,
            "enrollment_status_names": ENROLLMENT_STATUS_NAMES,
            "attendance_status_names": ATTENDANCE_STATUS_NAMES,
            "status_names": STATUS_NAMES,
            "course_status_names": COURSE_STATUS_NAMES,
            "level_names": LEVEL_NAMES,
            "language_labels": LANGUAGE_LABELS,
            "can_manage_user": can_manage_user,
            "language_names": LANGUAGE_NAMES,
            "current_locale": lambda: str(get_locale()),
        }

    return app


def _configure_templates(app) -> None:
    """Compiled templates kept on disk: a new worker (gunicorn replaces each after max_requests) loads them
    instead of compiling every template again (all of them: ~1.5 s of CPU). Jinja checks each entry against
    the template's source, so a changed template is compiled again."""
    from jinja2 import FileSystemBytecodeCache

    directory = Path(app.instance_path) / "jinja-bytecode"
    directory.mkdir(exist_ok=True)
    app.jinja_options = {**app.jinja_options, "bytecode_cache": FileSystemBytecodeCache(str(directory))}


def _configure_pool(app, db) -> None:
    from babyowl.pool import commit_reads, ping_when_idle

    with app.app_context():  # the engines exist once init_app ran; nothing connects here
        for engine in db.engines.values():
            if engine.dialect.name == "postgresql":
                ping_when_idle(engine, app.config["DB_PING_IDLE_SECONDS"])
                commit_reads(engine)


def _configure_login(login_manager) -> None:
    from flask import request, url_for
    from flask_babel import lazy_gettext as _l

    from babyowl.rendering import full_redirect, is_htmx

    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(cookie_id: str):
        # "<user id>.<password fingerprint>.<session id>" (User.get_id); both
        # the session cookie and the remember-me cookie carry it, so neither
        # outlives a sign-out, a new password or a suspension.
        import uuid

        from babyowl.services.sessions import signed_in_user

        try:
            raw_user_id, fingerprint, raw_session_id = cookie_id.split(".")
            # A plain page view shows the header's unread counts: read them with the user (header_counts.py).
            user = signed_in_user(uuid.UUID(raw_user_id), uuid.UUID(raw_session_id),
                                  header_counts=request.method == "GET" and not is_htmx())
        except ValueError:
            return None
        if user is None or user.password_fingerprint != fingerprint:
            return None
        # A suspended account loses access at its next request, not at its next sign-in.
        return user if user.is_active else None

    @login_manager.unauthorized_handler
    def unauthorized():
        from flask import flash

        target = url_for("auth.login", next=request.full_path.rstrip("?"))
        if is_htmx():
            # A 302 here would put the login page inside the swap target.
            return full_redirect(target)
        flash(login_manager.login_message, login_manager.login_message_category)
        return full_redirect(target)


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(dbapi_connection, connection_record):
    # SQLite ignores foreign keys (and so ON DELETE rules) unless asked per connection.
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
