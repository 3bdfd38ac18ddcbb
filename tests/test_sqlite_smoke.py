"""The embedded default: SQLite file, migrations, demo seed and a page, as `make run` does it."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

PROJECT = Path(__file__).parents[1]


@pytest.mark.sqlite
def test_embedded_sqlite_app_migrates_seeds_and_serves_pages(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "BABYOWL_ENV")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/smoke.sqlite3"
    flask = [sys.executable, "-m", "flask", "--app", "babyowl"]
    for command in (["db", "upgrade"], ["seed-demo"], ["seed-demo"], ["db", "check"]):
        result = subprocess.run(flask + command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr + result.stdout

    from babyowl import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "BABEL_DEFAULT_LOCALE": "en"})
    client = app.test_client()
    assert client.get("/").status_code == 200
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    response = client.post("/login", data={"email": "budi@babyowl.example", "password": "BabyOwl#2026",
                                           "csrf_token": token})
    assert response.status_code == 303
    html = client.get("/dashboard").get_data(as_text=True)
    assert "Python Dasar — Grup Sabtu Pagi" in html and "3 / 10" in html
    # A student's home: SQLite has no arrays, so the page asks each service in turn (services/student_home.py).
    student = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      student.get("/login").get_data(as_text=True)).group(1)
    assert student.post("/login", data={"email": "andi@babyowl.example", "password": "BabyOwl#2026",
                                        "csrf_token": token}).status_code == 303
    home = student.get("/dashboard").get_data(as_text=True)
    assert "Lessons completed: 0 · Lessons open: 3" in home and "Continue: Halo, Python" in home
    assert "125 XP" in home and "First Step" in home and "in a row" in home
    from sqlalchemy import select

    from babyowl.extensions import db
    from babyowl.models import SchoolClass

    with app.app_context():
        class_id = db.session.scalar(select(SchoolClass.id).where(SchoolClass.name == "Python Dasar — Grup Sabtu Pagi"))
    # Without PostgreSQL's COPY the CSV's cells are formatted and joined by Python: the same file.
    csv_file = client.get(f"/classes/{class_id}/attendance/report.csv?separator=semicolon")
    assert csv_file.status_code == 200
    lines = csv_file.get_data().decode("utf-8").split("\n")
    assert lines[0].startswith("\ufeffattendance_id;class_id;class_name") and len(lines) > 3
    assert "Python Dasar — Grup Sabtu Pagi" in lines[1] and "+07:00" in lines[1]
    assert client.get(f"/classes/{class_id}/attendance/report.xlsx").get_data().startswith(b"PK")

    # Taps: on PostgreSQL their writes are one statement (data-modifying CTEs), here one statement each.
    from babyowl.models import AttendanceChange, ClassAttendance, ClassEnrollment, XPTransaction

    sheet = client.get(f"/classes/{class_id}/attendance?meeting=4").get_data(as_text=True)
    enrollment_id = re.search(r'data-enrollment="([0-9a-f-]+)"', sheet).group(1)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', sheet).group(1)
    with app.app_context():
        used = db.session.get(ClassEnrollment, uuid.UUID(enrollment_id)).credits_used
    for status in ("late", "absent", "present"):
        row = client.post(f"/classes/{class_id}/attendance/mark", headers={"HX-Request": "true"}, data={
            "enrollment_id": enrollment_id, "meeting_number": "4", "status": status, "key": str(uuid.uuid4()),
            "csrf_token": csrf}).get_data(as_text=True)
        assert "✓ Saved" in row and f'value="{status}" checked' in row
    with app.app_context():
        record = db.session.scalar(select(ClassAttendance).where(
            ClassAttendance.enrollment_id == uuid.UUID(enrollment_id), ClassAttendance.meeting_number == 4))
        assert db.session.get(ClassEnrollment, record.enrollment_id).credits_used == used + 1
        assert db.session.scalars(select(AttendanceChange.new_status).where(
            AttendanceChange.attendance_id == record.id).order_by(AttendanceChange.changed_at)).all() == [
            "late", "absent", "present"]
        assert db.session.scalars(select(XPTransaction.amount).where(
            XPTransaction.reference_id == record.id)).all() == [5]  # late earned it; present again does not
        db.engine.dispose()


@pytest.mark.sqlite
def test_default_database_is_a_file_under_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    from babyowl import create_app

    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///" + str(Path(app.instance_path) / "babyowl.sqlite3")
