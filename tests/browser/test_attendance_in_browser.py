"""Taking attendance on a tablet (768×1024) in headless Chromium, online and offline."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from babyowl.models import AttendanceChange, ClassAttendance, ClassEnrollment
from tests.browser.conftest import TABLET, sign_in
from tests.factories import PASSWORD, make_class, make_enrollment, make_user

ARTIFACTS = Path(__file__).parents[2] / "artifacts"


@pytest.fixture
def classroom(db):
    teacher = make_user("instructor", email="guru@example.com", full_name="Budi Guru")
    school_class = make_class(instructor=teacher, status="active", total_meetings=20, max_capacity=30,
                              name="Python Grup Sabtu")
    enrollments = [make_enrollment(school_class, make_user("student", full_name=f"Siswa {n:02d}"))
                   for n in range(30)]
    return school_class, enrollments


def marks(db) -> dict:
    db.session.expire_all()
    return dict(db.session.execute(select(ClassAttendance.enrollment_id, ClassAttendance.status)).all())


def wait_saved(page, seconds: float = 10):
    # Polled from Python: wait_for_function evaluates a string, which the page's CSP forbids.
    import time

    deadline = time.monotonic() + seconds
    while page.evaluate("window.babyowlAttendance.pending()") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert page.evaluate("window.babyowlAttendance.pending()") == 0


def test_a_thirty_student_class_marked_on_a_tablet(live_server, open_page, db, classroom):
    school_class, enrollments = classroom
    page = open_page(TABLET)
    sign_in(page, live_server, "guru@example.com", PASSWORD)
    page.goto(f"{live_server}/classes/{school_class.id}/attendance")
    assert page.locator(".att-row").count() == 30
    # Touch targets: every choice at least 44 px tall and wide.
    for box in (el.bounding_box() for el in page.locator(".att-choice span").all()[:9]):
        assert box["height"] >= 44 and box["width"] >= 44
    by_name = sorted(enrollments, key=lambda e: e.student.full_name)
    for enrollment, choice in ((by_name[0], "absent"), (by_name[1], "late"), (by_name[2], "absent")):
        page.locator(f"#row-{enrollment.id} label.att-choice.{choice}").click()
        page.locator(f"#row-{enrollment.id}[data-state=saved]").wait_for()
    wait_saved(page)
    page.get_by_role("button", name="Mark all present").click()
    page.locator(f"#row-{by_name[29].id} input[value=present]:checked").wait_for(state="attached")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "attendance-tablet.png"), full_page=True)

    page.reload()
    checked = page.locator(".att-choice input:checked")
    assert checked.count() == 30
    saved = marks(db)
    assert len(saved) == 30
    assert [saved[e.id] for e in by_name[:3]] == ["absent", "late", "absent"]
    assert all(saved[e.id] == "present" for e in by_name[3:])
    used = dict(db.session.execute(select(ClassEnrollment.id, ClassEnrollment.credits_used)).all())
    assert sum(used.values()) == 28


def test_taps_made_offline_are_sent_once_when_the_connection_returns(live_server, open_page, db, classroom):
    school_class, enrollments = classroom
    page = open_page(TABLET)
    sign_in(page, live_server, "guru@example.com", PASSWORD)
    page.goto(f"{live_server}/classes/{school_class.id}/attendance")
    three = sorted(enrollments, key=lambda e: e.student.full_name)[:3]
    page.context.set_offline(True)
    page.evaluate("window.dispatchEvent(new Event('offline'))")
    for enrollment in three:
        page.locator(f"#row-{enrollment.id} label.att-choice.present").click()
        page.locator(f"#row-{enrollment.id}[data-state=pending]").wait_for()
    assert "Offline" in page.locator("#connection-status").inner_text()
    assert marks(db) == {}
    page.screenshot(path=str(ARTIFACTS / "attendance-offline.png"))

    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_saved(page)
    for enrollment in three:
        page.locator(f"#row-{enrollment.id}[data-state=saved]").wait_for()
    assert marks(db) == {e.id: "present" for e in three}
    changes = db.session.scalar(select(func.count()).select_from(AttendanceChange))
    used = db.session.scalar(select(func.sum(ClassEnrollment.credits_used)))
    assert changes == 3 and used == 3
