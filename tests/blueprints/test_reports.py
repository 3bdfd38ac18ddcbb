"""Attendance reports as staff and instructors get them, read back with csv, openpyxl and pypdf."""
from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import update

from babyowl.models import ClassEnrollment
from babyowl.services.attendance_reports import COLUMNS
from tests.helpers import signed_in_client, text
from tests.report_school import EXPECTED, build_school


@pytest.fixture
def school(db):
    return build_school()


@pytest.fixture
def staff_client(app, school):
    return signed_in_client(app, school.staff)


def read_csv(response, separator):
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM, so Excel reads the names right"
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=separator))
    assert rows[0] == list(COLUMNS), "the header is the first line"
    return [dict(zip(COLUMNS, row)) for row in rows[1:]]


def keyed(rows):
    return {(r["class_name"], int(r["meeting_number"]), r["student_email"]): (r["status"],
                                                                             int(r["credits_remaining_after"]))
            for r in rows}


@pytest.mark.parametrize("separator, character", [("comma", ","), ("semicolon", ";")])
def test_staff_export_every_mark_as_csv(staff_client, school, separator, character):
    response = staff_client.get(f"/reports/attendance.csv?separator={separator}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="attendance-')
    rows = read_csv(response, character)
    assert keyed(rows) == EXPECTED
    nguyen = next(r for r in rows if r["student_email"] == "nguyen@example.com")
    assert nguyen["student_name"] == "Nguyễn Văn Ân"
    assert nguyen["student_id"] == str(school.nguyen_a.student_id)
    assert nguyen["class_id"] == str(school.class_a.id)
    first = rows[0]
    assert first["meeting_date"] == "2026-10-03"
    assert datetime.fromisoformat(first["marked_at"]).utcoffset().total_seconds() == 7 * 3600  # Jakarta time
    assert (first["marked_by"], first["instructor"], first["credit_deducted"]) == ("Budi Santoso",
                                                                                    "Budi Santoso", "1")
    dewi = next(r for r in rows if r["student_email"] == "dewi@example.com")
    assert dewi["student_name"].startswith("'="), "a name that looks like a formula stays text in Excel"


@pytest.mark.parametrize("query, count", [
    ("", 13),
    ("date_from=2026-10-04&date_to=2026-10-10", 5),
    ("student=andi", 5),
    ("date_from=2026-10-10&student=andi", 3),
    ("student=%25", 0),  # typed literally into PostgreSQL's COPY, matches no one
    ("student=O'Brien%22;--", 0),
])
def test_csv_filters_from_the_query_string(staff_client, school, query, count):
    rows = read_csv(staff_client.get(f"/reports/attendance.csv?{query}"), ",")
    assert len(rows) == count


def test_csv_filters_by_class_and_instructor(staff_client, school):
    rows = read_csv(staff_client.get(f"/reports/attendance.csv?class_id={school.class_b.id}"), ",")
    assert {r["class_name"] for r in rows} == {"Scratch Minggu"} and len(rows) == 4
    rows = read_csv(staff_client.get(f"/reports/attendance.csv?instructor_id={school.budi.id}"), ",")
    assert {r["class_name"] for r in rows} == {"Python Sabtu"} and len(rows) == 9


@pytest.mark.parametrize("query, message", [
    ("date_from=2026-10-10&date_to=2026-10-01", "The end date comes before the start date."),
    ("date_from=10/03/2026", "Enter a date such as 2026-12-31."),
    ("class_id=not-a-class", "Choose one of the options."),
    ("separator=tab", "Choose one of the options."),
])
def test_bad_filters_explain_themselves_instead_of_downloading(staff_client, school, query, message):
    for path in ("/reports/attendance.csv", "/reports/attendance.xlsx", "/reports"):
        response = staff_client.get(f"{path}?{query}")
        assert response.status_code == 422 and response.mimetype == "text/html"
        assert message in text(response)


def test_the_same_rows_as_xlsx(staff_client, school):
    response = staff_client.get(f"/reports/attendance.xlsx?instructor_id={school.budi.id}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=attendance-")
    sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == COLUMNS
    rows = [dict(zip(COLUMNS, row)) for row in values[1:]]
    assert {(r["class_name"], r["meeting_number"], r["student_email"]): (r["status"], r["credits_remaining_after"])
            for r in rows} == {k: v for k, v in EXPECTED.items() if k[0] == "Python Sabtu"}
    assert rows[0]["meeting_date"] == datetime(2026, 10, 3)  # a real date cell
    assert isinstance(rows[0]["marked_at"], datetime)
    assert "Nguyễn Văn Ân" in {r["student_name"] for r in rows}


def test_a_formula_lookalike_stays_text_in_xlsx(staff_client, school):
    response = staff_client.get(f"/reports/attendance.xlsx?class_id={school.class_b.id}")
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    names = [row[8] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert '=HYPERLINK("x") Dewi' in names
    cells = [row[8] for row in sheet.iter_rows(min_row=2)]
    assert all(cell.data_type == "s" for cell in cells)


def test_class_matrix_page_shows_counts_and_rates(app, school):
    client = signed_in_client(app, school.budi)
    response = client.get(f"/classes/{school.class_a.id}/attendance/report")
    assert response.status_code == 200
    page = text(response)
    assert "3 meetings held" in page and "attendance rate 66.7%" in page
    for name in ("Andi Pratama", "Siti Aisyah", "Nguyễn Văn Ân"):
        assert name in page
    assert "33.3%" in page and "100%" in page


def test_class_pdf_reads_back(app, school):
    client = signed_in_client(app, school.budi)
    response = client.get(f"/classes/{school.class_a.id}/attendance/report.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    content = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.get_data())).pages)
    assert "Attendance: Python Sabtu" in content
    assert "Budi Santoso" in content
    for name in ("Andi Pratama", "Siti Aisyah", "Nguyễn Văn Ân"):
        assert name in content
    assert "66.7%" in content and "33.3%" in content and "100%" in content


def test_class_exports_for_its_instructor_only(app, school):
    budi, rina = signed_in_client(app, school.budi), signed_in_client(app, school.rina)
    rows = read_csv(budi.get(f"/classes/{school.class_a.id}/attendance/report.csv?separator=semicolon"), ";")
    assert {r["class_name"] for r in rows} == {"Python Sabtu"} and len(rows) == 9
    assert budi.get(f"/classes/{school.class_a.id}/attendance/report.xlsx").status_code == 200
    for suffix in ("", ".csv", ".xlsx", ".pdf"):
        assert rina.get(f"/classes/{school.class_a.id}/attendance/report{suffix}").status_code == 404
        student = signed_in_client(app, school.andi_a.student)
        assert student.get(f"/classes/{school.class_a.id}/attendance/report{suffix}").status_code == 403
    assert budi.get("/reports/attendance.csv").status_code == 403


def test_reports_page_previews_and_links_the_downloads(staff_client, school):
    response = staff_client.get("/reports?student=andi")
    assert response.status_code == 200
    page = text(response)
    assert "5 rows match." in page
    assert "/reports/attendance.csv?student=andi" in page and "/reports/attendance.xlsx?student=andi" in page
    fragment = staff_client.get("/reports?student=siti", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in text(fragment)
    assert "3 rows match." in text(fragment) and 'id="report-results"' in text(fragment)


def test_the_unfiltered_reports_page_counts_and_previews_nothing_until_asked(staff_client, school, count_queries):
    with count_queries() as statements:
        response = staff_client.get("/reports")
    assert response.status_code == 200
    page = text(response)
    assert "Choose a class, an instructor, a student or dates" in page and "rows match." not in page
    assert 'id="report-preview"' not in page and "/reports/attendance.csv?" in page
    # No statement reads the marks: the page costs the same whatever the school's history.
    assert not [s for s in statements if "class_attendance" in s]


def test_reconciliation_page(staff_client, school, db):
    response = staff_client.get("/reports/reconciliation")
    assert "Every enrollment adds up" in text(response)
    db.session.execute(update(ClassEnrollment).where(ClassEnrollment.id == school.siti_a.id).values(credits_used=9))
    db.session.commit()
    page = text(staff_client.get("/reports/reconciliation"))
    assert "Every enrollment adds up" not in page
    assert "Siti Aisyah" in page and "Andi Pratama" not in page
    assert f"/enrollments/{school.siti_a.id}/credits" in page


def test_the_class_page_links_its_report(app, school):
    page = text(signed_in_client(app, school.budi).get(f"/classes/{school.class_a.id}"))
    assert f"/classes/{school.class_a.id}/attendance/report" in page
    assert f"/enrollments/{school.andi_a.id}/credits" in page


def test_reports_in_the_staff_navigation(app, staff_client, school):
    assert 'href="/reports"' in text(staff_client.get("/dashboard"))
    assert 'href="/reports"' not in text(signed_in_client(app, school.budi).get("/dashboard"))


def test_the_long_lists_of_the_filters_render_as_wtforms_select_does(app, school):
    """LongSelect (one format per option) prints exactly what WTForms' Select prints, escaping included."""
    from types import SimpleNamespace

    from wtforms.widgets import Select

    from babyowl.blueprints.reports.forms import LongSelect, ReportFilterForm

    odd = SimpleNamespace(id=school.class_a.id, name='<Kelas> & "Python"')
    with app.test_request_context(f"/reports?class_id={school.class_a.id}"):
        from flask import request

        form = ReportFilterForm(request.args, classes=[odd, school.class_b], instructors=[school.budi])
        for field in (form.class_id, form.instructor_id):
            assert isinstance(field.widget, LongSelect)
            assert LongSelect()(field) == Select()(field)
        shown = str(form.class_id())
    assert f'<option selected value="{school.class_a.id}">&lt;Kelas&gt; &amp; &#34;Python&#34;</option>' in shown
