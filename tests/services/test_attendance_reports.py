"""The numbers in the attendance matrix and in the long-format export, across filters."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from babyowl.services import attendance_reports
from babyowl.services.attendance_reports import ExportFilter
from tests.report_school import EXPECTED, build_school


@pytest.fixture
def school(db):
    return build_school()


def keyed(rows):
    return {(r.class_name, r.meeting_number, r.student_email): (r.status, r.credits_remaining_after) for r in rows}


def test_every_mark_is_one_row_with_the_credits_left_after_it(db, school):
    rows = list(attendance_reports.export_rows(ExportFilter()))
    assert keyed(rows) == EXPECTED
    assert len(rows) == 13 == attendance_reports.export_count(ExportFilter())
    # Stable order: class, meeting, student.
    assert [(r.class_name, r.meeting_number) for r in rows] == sorted((r.class_name, r.meeting_number) for r in rows)
    first = rows[0]
    assert (first.instructor, first.marked_by, first.meeting_date) == ("Budi Santoso", "Budi Santoso",
                                                                        date(2026, 10, 3))
    assert first.credit_deducted is True and first.marked_at.tzinfo is not None


@pytest.mark.parametrize("filters, expected_keys", [
    (lambda s: ExportFilter(class_id=s.class_a.id), lambda k: k[0] == "Python Sabtu"),
    (lambda s: ExportFilter(instructor_id=s.rina.id), lambda k: k[0] == "Scratch Minggu"),
    (lambda s: ExportFilter(student="ANDI"), lambda k: k[2] == "andi@example.com"),
    (lambda s: ExportFilter(student="siti@example"), lambda k: k[2] == "siti@example.com"),
    (lambda s: ExportFilter(date_from=date(2026, 10, 4), date_to=date(2026, 10, 10)),
     lambda k: (k[0], k[1]) in {("Python Sabtu", 2), ("Scratch Minggu", 1)}),
    (lambda s: ExportFilter(date_from=date(2026, 10, 10), instructor_id=s.budi.id),
     lambda k: k[0] == "Python Sabtu" and k[1] >= 2),
    (lambda s: ExportFilter(date_to=date(2026, 10, 3), student="andi"),
     lambda k: k == ("Python Sabtu", 1, "andi@example.com")),
    (lambda s: ExportFilter(student="%"), lambda k: False),  # typed literally, matches no one
])
def test_filters_select_the_rows_and_keep_their_numbers(db, school, filters, expected_keys):
    chosen = filters(school)
    rows = keyed(attendance_reports.export_rows(chosen))
    # A date range never changes "credits remaining after": it is counted over every meeting.
    assert rows == {key: value for key, value in EXPECTED.items() if expected_keys(key)}
    assert attendance_reports.export_count(chosen) == len(rows)


@pytest.mark.parametrize("filters", [lambda s: ExportFilter(), lambda s: ExportFilter(student="andi"),
                                     lambda s: ExportFilter(date_from=date(2026, 10, 10))])
def test_the_preview_is_the_start_of_the_export_with_the_same_numbers(db, school, filters):
    chosen = filters(school)
    export = list(attendance_reports.export_rows(chosen))
    assert attendance_reports.preview_rows(chosen, 4) == export[:4]
    assert attendance_reports.preview_rows(chosen, 100) == export


def test_the_matrix_counts_and_rates(db, school):
    matrix = attendance_reports.matrix(school.class_a)
    assert matrix.meetings == [1, 2, 3]
    assert matrix.meeting_dates == {1: date(2026, 10, 3), 2: date(2026, 10, 10), 3: date(2026, 10, 17)}
    rows = {row.student_email: row for row in matrix.rows}
    assert [row.student_name for row in matrix.rows] == ["Andi Pratama", "Nguyễn Văn Ân", "Siti Aisyah"]
    andi, siti, nguyen = rows["andi@example.com"], rows["siti@example.com"], rows["nguyen@example.com"]
    assert (andi.attended - andi.late, andi.late, andi.absent, andi.rate) == (1, 1, 1, Decimal("66.7"))
    assert (siti.attended - siti.late, siti.late, siti.absent, siti.rate) == (3, 0, 0, Decimal("100.0"))
    assert (nguyen.attended, nguyen.absent, nguyen.rate) == (1, 2, Decimal("33.3"))
    assert {n: (t.present, t.late, t.absent, t.rate) for n, t in matrix.totals.items()} == {
        1: (2, 0, 1, Decimal("66.7")), 2: (1, 0, 2, Decimal("33.3")), 3: (2, 1, 0, Decimal("100.0"))}
    assert matrix.rate == Decimal("66.7")
    assert {r.student_email: r.credits_remaining for r in matrix.rows} == {
        "andi@example.com": 9, "siti@example.com": 8, "nguyen@example.com": 9}


def test_the_matrix_of_a_class_without_marks_is_empty(db, school):
    from tests.factories import make_class, make_enrollment

    empty = make_class(instructor=school.budi)
    make_enrollment(empty)
    matrix = attendance_reports.matrix(empty)
    assert (matrix.meetings, matrix.rate, len(matrix.rows)) == ([], None, 1)
