"""The floor of the load benchmark: the least a Flask page can cost here (bench/load.py measures it in the same run).

Flask + SQLAlchemy + Jinja, as Baby Owl is built: a signed session cookie, one
indexed query (a user by primary key), a small page. Whatever Baby Owl's pages
cost above this is its own work; the ratio of their throughput to this one's
says how far from the floor they are.

    DATABASE_URL=... gunicorn -c deploy/gunicorn.conf.py --chdir bench 'floor_app:create_app()'
"""
from __future__ import annotations

import os
import uuid

import sqlalchemy as sa
from flask import Flask, abort, render_template_string, request, session

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Floor</title></head>
<body><h1>Hello, {{ name }}</h1><p>Signed in as {{ email }}; {{ visits }} visits.</p>
<ul>{% for n in range(10) %}<li>Item {{ n }}</li>{% endfor %}</ul></body></html>"""


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "floor")
    url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url, pool_size=int(os.environ.get("DB_POOL_SIZE", "5")), pool_pre_ping=True)

    @app.route("/")
    def page():
        if "uid" not in session:  # the first visit names the user; later ones come with the cookie
            session["uid"] = request.args.get("uid") or abort(400)
        with engine.connect() as connection:
            row = connection.execute(sa.text("SELECT full_name, email FROM users WHERE id = :id"),
                                     {"id": uuid.UUID(session["uid"])}).first()
        if row is None:
            abort(404)
        session["visits"] = session.get("visits", 0) + 1
        return render_template_string(PAGE, name=row.full_name, email=row.email, visits=session["visits"])

    return app
