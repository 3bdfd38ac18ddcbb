"""The CSV (PostgreSQL's COPY of SQL-formatted cells) and the xlsx (XlsxWriter over the raw rows) show the same
values, cell by cell, for a school with every awkward value: formula-looking names and notes, Unicode, empty
notes, a mark changed by someone else, dates, times in the school's zone and running credits (issue 22)."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from babyowl.services import attendance, attendance_reports
from babyowl.services.attendance_reports import COLUMNS, ExportFilter, text_cells
from tests.factories import make_class, make_course, make_enrollment, make_user
from tests.helpers import signed_in_client
from tests.report_school import build_school

TRICKY_NAMES = ["=cmd|' /C calc'!A0", "+62 812 3456", "-Dewi-", "@SUM(A1)", "Nguyễn Thị Ánh", "Zoë; \"Quoted\", Name",
                "李小龍", "\tTabbed"]


@pytest.fixture
def school(db):
    base = build_school()
    teacher = make_user("instructor", full_name="=Guru+1")
    course = make_course(title="@Kursus; Python, \"Dasar\"")
    school_class = make_class(course=course, instructor=teacher, name="-Kelas Ω", total_meetings=4)
    enrollments = [make_enrollment(school_class, make_user("student", full_name=name)) for name in TRICKY_NAMES]
    notes = ["=1+1", "line one\nline two", "", None, "ünïcödé, \"quoted\"; semi", "+sign", "-", "@at"]
    for number, day in enumerate((date(2026, 10, 5), date(2026, 10, 12)), start=1):
        for index, (enrollment, note) in enumerate(zip(enrollments, notes)):
            status = ("present", "late", "absent")[(index + number) % 3]
            attendance.mark(teacher, school_class, enrollment_id=enrollment.id, meeting_number=number,
                            status=status, meeting_date=day, note=note if status == "absent" else None)
    # A mark changed afterwards by someone else (changed_by, changed_at filled).
    attendance.mark(base.staff, school_class, enrollment_id=enrollments[0].id, meeting_number=1, status="absent",
                    note="=corrected", reason="typo")
    return base


def _csv_rows(client, separator: str) -> list[list[str]]:
    response = client.get(f"/reports/attendance.csv?separator={'semicolon' if separator == ';' else 'comma'}")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"), newline=""), delimiter=separator))
    assert rows[0] == list(COLUMNS)
    return rows[1:]


def _xlsx_rows(client) -> list[tuple]:
    response = client.get("/reports/attendance.xlsx")
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.get_data()), read_only=True).active.iter_rows(values_only=True))
    assert rows[0] == COLUMNS
    return rows[1:]


def _as_csv_shows(name: str, value, offset: str) -> str:
    """What the CSV prints for the xlsx cell `value` of column `name`."""
    if value is None:
        return ""
    if name == "meeting_date":
        return value.date().isoformat()
    if name in ("marked_at", "changed_at"):
        # Excel has no zones: the cell holds the local time, read back through a float that can land a few
        # microseconds below the stored instant (never more: a double holds ~46,000 days to about 1 µs). A true
        # 29.9995 s must still print as 29, so only a hair below the next second counts as that second.
        whole = (value + timedelta(microseconds=20)).replace(microsecond=0)
        return whole.isoformat() + offset
    if isinstance(value, (int, float)):
        return str(int(value))
    return attendance_reports.guarded(value)


@pytest.mark.parametrize("separator", [",", ";"])
def test_the_csv_and_the_xlsx_show_the_same_cells(app, school, separator):
    client = signed_in_client(app, school.staff)
    csv_rows, xlsx_rows = _csv_rows(client, separator), _xlsx_rows(client)
    assert len(csv_rows) == len(xlsx_rows) == 13 + 2 * len(TRICKY_NAMES)
    for csv_row, xlsx_row in zip(csv_rows, xlsx_rows):
        expected = [_as_csv_shows(name, value, "+07:00") for name, value in zip(COLUMNS, xlsx_row)]
        assert csv_row == expected
    names = {row[COLUMNS.index("student_name")] for row in csv_rows}
    assert {"'=cmd|' /C calc'!A0", "'+62 812 3456", "'-Dewi-", "'@SUM(A1)", "'\tTabbed", "李小龍"} <= names
    notes = {row[COLUMNS.index("note")] for row in csv_rows}
    assert {"'=1+1", "line one\nline two", "ünïcödé, \"quoted\"; semi", "'=corrected"} <= notes
    changed = [row for row in csv_rows if row[COLUMNS.index("note")] == "'=corrected"]
    assert changed[0][COLUMNS.index("changed_by")] == "Sari Staf" and changed[0][COLUMNS.index("changed_at")]
    xlsx_names = {row[COLUMNS.index("student_name")] for row in xlsx_rows}
    assert "=cmd|' /C calc'!A0" in xlsx_names, "the xlsx holds the name as typed, as text"


def test_postgresql_formats_each_cell_as_python_does_where_it_cannot(app, school):
    """The CSV's cells come from SQL on PostgreSQL and from `text_cells` elsewhere (SQLite): the same text."""
    with app.test_request_context():
        zone = ZoneInfo(app.config["SCHOOL_TIMEZONE"])
        by_python = [text_cells(row, zone) for row in attendance_reports.export_rows(ExportFilter())]
        by_sql = [["" if value is None else value for value in row]
                  for row in attendance_reports.export_text_rows(ExportFilter())]
    assert len(by_sql) == 13 + 2 * len(TRICKY_NAMES)
    assert by_sql == by_python
    assert all(datetime.fromisoformat(row[COLUMNS.index("marked_at")]).utcoffset() == timedelta(hours=7)
               for row in by_sql)
