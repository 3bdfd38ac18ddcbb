"""The CSV writer streams: a large export leaves it in bounded chunks, never as one string."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from babyowl.blueprints.reports.files import FLUSH_AT, csv_chunks
from babyowl.services.attendance_reports import COLUMNS, ExportRow, text_cells


def fake_rows(n: int):
    for i in range(n):
        yield ExportRow(uuid.uuid4(), uuid.uuid4(), "Kelas Python", "Python Dasar", "Budi", i % 20 + 1,
                        date(2026, 10, 3), uuid.uuid4(), f"Siswa {i}", f"siswa{i}@example.com", "present", True,
                        9, "Budi", datetime(2026, 10, 3, 12, tzinfo=timezone.utc), None, None, "catatan; \"kutip\"")


def test_a_large_csv_leaves_in_bounded_chunks(app):
    with app.app_context():
        zone = ZoneInfo(app.config["SCHOOL_TIMEZONE"])
        chunks = list(csv_chunks((text_cells(row, zone) for row in fake_rows(5000)), ";"))
    assert len(chunks) > 10
    assert max(len(chunk) for chunk in chunks) < FLUSH_AT + 1000
    rows = list(csv.reader(io.StringIO("".join(chunks).removeprefix("\ufeff"), newline=""), delimiter=";"))
    assert rows[0] == list(COLUMNS) and len(rows) == 5001
    assert rows[1][14] == "2026-10-03T19:00:00+07:00" and rows[1][17] == 'catatan; "kutip"'


def test_only_the_app_factory_imports_blueprints_and_services_produce_plain_rows():
    """Edges stay dumb: the report writers live in the reports blueprint; services never import a blueprint."""
    import ast
    import dataclasses
    from pathlib import Path

    from babyowl.services import attendance_reports

    package = Path(__file__).resolve().parent.parent / "babyowl"
    offenders = []
    for path in package.rglob("*.py"):
        relative = path.relative_to(package).as_posix()
        if relative.startswith("blueprints/") or relative == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            offenders += [f"{relative}: {name}" for name in names if name.startswith("babyowl.blueprints")]
    assert offenders == []
    assert not (package / "report_files.py").exists()
    for row_type in (attendance_reports.ExportRow, attendance_reports.MatrixRow, attendance_reports.Matrix):
        for column in dataclasses.fields(row_type):
            models = ("ClassEnrollment", "ClassAttendance", "SchoolClass", "User")
            assert not any(model in str(column.type) for model in models), (row_type.__name__, column.name)
