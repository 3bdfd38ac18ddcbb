"""Staff reports on a phone: wide tables scroll in their own box, never the whole page (defect 11)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from babyowl.services import attendance
from tests.browser.conftest import PHONE, TABLET, sign_in
from tests.factories import PASSWORD, make_class, make_enrollment, make_user

MEETINGS = 14


@pytest.fixture
def wide_class(db):
    make_user("staff", email="staf@example.com", full_name="Sari Staf")
    teacher = make_user("instructor", full_name="Budi Santoso")
    school_class = make_class(name="Python Dasar — Grup Sabtu Pagi", instructor=teacher, total_meetings=MEETINGS)
    enrollments = [make_enrollment(school_class, make_user("student", full_name=f"Siswa Dengan Nama Panjang {n}"))
                   for n in range(4)]
    first = date.today() - timedelta(days=7 * MEETINGS)
    for meeting in range(1, MEETINGS + 1):
        for n, enrollment in enumerate(enrollments):
            attendance.mark(teacher, school_class, enrollment_id=enrollment.id, meeting_number=meeting,
                            status=("present", "late", "absent")[(meeting + n) % 3],
                            meeting_date=first + timedelta(days=7 * meeting))
    return school_class


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.mark.parametrize("viewport", [PHONE, TABLET], ids=["phone", "tablet"])
def test_reports_and_the_class_matrix_do_not_scroll_the_page_sideways(live_server, open_page, wide_class, viewport,
                                                                       tmp_path):
    page = open_page(viewport)
    sign_in(page, live_server, "staf@example.com", PASSWORD)
    page.goto(f"{live_server}/reports?class_id={wide_class.id}")  # the whole school is previewed only when filtered
    assert page.locator("#report-results table").count() == 1
    page.screenshot(path=str(tmp_path / f"reports-{viewport['width']}.png"), full_page=True)
    assert page_width(page) <= viewport["width"]
    page.goto(f"{live_server}/classes/{wide_class.id}/attendance/report")
    matrix = page.locator("#attendance-matrix")
    assert matrix.count() == 1
    page.screenshot(path=str(tmp_path / f"matrix-{viewport['width']}.png"), full_page=True)
    assert page_width(page) <= viewport["width"]
    # The matrix itself is wider than a phone and scrolls inside its own box.
    box = page.locator(".table-scroll:has(#attendance-matrix)")
    if viewport is PHONE:
        assert box.evaluate("el => el.scrollWidth > el.clientWidth")
