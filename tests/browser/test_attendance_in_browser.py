"""Taking attendance in headless Chromium on a tablet (768×1024) and a phone (390×844): online, offline, refused."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from babyowl.models import AttendanceChange, ClassAttendance, ClassEnrollment
from tests.browser.conftest import PHONE, TABLET, sign_in
from tests.factories import PASSWORD, make_class, make_enrollment, make_user

ARTIFACTS = Path(__file__).parents[2] / "artifacts"
VIEWPORTS = pytest.mark.parametrize("viewport", [TABLET, PHONE], ids=["tablet", "phone"])


@pytest.fixture
def classroom(db):
    teacher = make_user("instructor", email="guru@example.com", full_name="Budi Guru")
    school_class = make_class(instructor=teacher, status="active", total_meetings=20, max_capacity=30,
                              name="Python Grup Sabtu")
    enrollments = [make_enrollment(school_class, make_user("student", full_name=f"Siswa {n:02d}"))
                   for n in range(30)]
    return school_class, enrollments


def tally(page) -> dict:
    return {cell.get_attribute("data-count"): int(cell.inner_text())
            for cell in page.locator("#tally [data-count]").all()}


def open_sheet(page, live_server, school_class):
    sign_in(page, live_server, "guru@example.com", PASSWORD)
    page.goto(f"{live_server}/classes/{school_class.id}/attendance")


def by_name(enrollments):
    return sorted(enrollments, key=lambda e: e.student.full_name)


def counted(db) -> tuple[int, int]:
    """(history rows, credits used): a tap counted twice shows in both."""
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(AttendanceChange)),
            db.session.scalar(select(func.sum(ClassEnrollment.credits_used))))


def marks(db) -> dict:
    db.session.expire_all()
    return dict(db.session.execute(select(ClassAttendance.enrollment_id, ClassAttendance.status)).all())


def wait_saved(page, seconds: float = 15):
    # Polled from Python: wait_for_function evaluates a string, which the page's CSP forbids.
    import time

    deadline = time.monotonic() + seconds
    while page.evaluate("window.babyowlAttendance.pending()") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert page.evaluate("window.babyowlAttendance.pending()") == 0


@VIEWPORTS
def test_a_thirty_student_class_marked_on_a_tablet(live_server, open_page, db, classroom, viewport):
    school_class, enrollments = classroom
    page = open_page(viewport)
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
    # With JavaScript on, the sheet says on screen what "mark all" did.
    assert page.locator("#sheet-confirmation").inner_text() == "27 students marked present."
    assert tally(page) == {"present": 27, "late": 1, "absent": 2, "unmarked": 0, "credits": 28}
    assert page.locator("#jump-unmarked").is_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"attendance-{viewport['width']}.png"), full_page=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"attendance-top-{viewport['width']}.png"))

    page.reload()
    checked = page.locator(".att-choice input:checked")
    assert checked.count() == 30
    saved = marks(db)
    assert len(saved) == 30
    assert [saved[e.id] for e in by_name[:3]] == ["absent", "late", "absent"]
    assert all(saved[e.id] == "present" for e in by_name[3:])
    used = dict(db.session.execute(select(ClassEnrollment.id, ClassEnrollment.credits_used)).all())
    assert sum(used.values()) == 28


@VIEWPORTS
def test_taps_made_offline_are_sent_once_when_the_connection_returns(live_server, open_page, db, classroom,
                                                                      viewport):
    school_class, enrollments = classroom
    page = open_page(viewport)
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
    page.screenshot(path=str(ARTIFACTS / f"attendance-offline-{viewport['width']}.png"))

    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_saved(page)
    for enrollment in three:
        page.locator(f"#row-{enrollment.id}[data-state=saved]").wait_for()
    assert marks(db) == {e.id: "present" for e in three}
    changes = db.session.scalar(select(func.count()).select_from(AttendanceChange))
    used = db.session.scalar(select(func.sum(ClassEnrollment.credits_used)))
    assert changes == 3 and used == 3


def is_tap(request) -> bool:
    return request.method == "POST" and request.url.endswith("/attendance/mark")


@VIEWPORTS
def test_a_tap_answered_500_then_429_is_kept_retried_and_saved_once(live_server, open_page, db, classroom, viewport):
    school_class, enrollments = classroom
    page = open_page(viewport)
    open_sheet(page, live_server, school_class)
    answers = [500, 429]
    seen = []

    def flaky(route):
        seen.append(route.request.post_data)
        if answers:
            route.fulfill(status=answers.pop(0), body="busy", headers={"Retry-After": "1"})
        else:
            route.continue_()

    page.route("**/attendance/mark", flaky)
    first = by_name(enrollments)[0]
    page.locator(f"#row-{first.id} label.att-choice.late").click()
    page.locator(f"#row-{first.id}[data-state=pending]").get_by_text("the server is busy").wait_for()
    wait_saved(page)
    page.locator(f"#row-{first.id}[data-state=saved]").wait_for()
    assert len(seen) == 3 and len(set(seen)) == 1  # the same tap, the same key, three times
    assert marks(db) == {first.id: "late"} and counted(db) == (1, 1)


@VIEWPORTS
def test_an_expired_csrf_token_is_renewed_and_the_tap_sent_again(live_server, open_page, db, classroom, viewport):
    school_class, enrollments = classroom
    page = open_page(viewport)
    open_sheet(page, live_server, school_class)
    # The token the page holds is no longer valid (a tablet left open past its expiry): the server answers 400.
    page.evaluate("document.body.setAttribute('hx-headers', JSON.stringify({'X-CSRFToken': 'expired'}))")
    statuses = []
    page.on("response", lambda response: statuses.append((response.url.rsplit("/", 1)[-1], response.status))
            if "/attendance/" in response.url else None)
    first = by_name(enrollments)[0]
    page.locator(f"#row-{first.id} label.att-choice.present").click()
    page.locator(f"#row-{first.id}[data-state=saved]").wait_for()
    wait_saved(page)
    assert statuses == [("mark", 400), ("csrf-token", 200), ("mark", 200)]
    assert marks(db) == {first.id: "present"} and counted(db) == (1, 1)


@VIEWPORTS
def test_a_refused_tap_says_why_on_its_row_and_is_not_retried(live_server, open_page, db, classroom, viewport):
    school_class, enrollments = classroom
    page = open_page(viewport)
    open_sheet(page, live_server, school_class)
    tries = []

    def forbidden(route):
        tries.append(route.request.url)
        route.fulfill(status=403, body="Not allowed")

    page.route("**/attendance/mark", forbidden)
    first, second = by_name(enrollments)[:2]
    page.locator(f"#row-{first.id} label.att-choice.present").click()
    blocked = page.locator(f"#row-{first.id}[data-state=blocked]")
    blocked.wait_for()
    assert "not allowed to take attendance for this class" in blocked.locator(".att-state").inner_text()
    # Other taps still go through (the refused one does not hold up the queue), and it is never retried.
    page.unroute("**/attendance/mark")
    page.locator(f"#row-{second.id} label.att-choice.absent").click()
    page.locator(f"#row-{second.id}[data-state=saved]").wait_for()
    assert len(tries) == 1 and page.evaluate("window.babyowlAttendance.blocked()") == 1
    assert marks(db) == {second.id: "absent"}


@VIEWPORTS
def test_the_queue_survives_closing_the_tab_and_a_replay_counts_once(live_server, open_page, db, classroom,
                                                                      viewport):
    school_class, enrollments = classroom
    page = open_page(viewport)
    open_sheet(page, live_server, school_class)
    first, second, third = by_name(enrollments)[:3]

    # The first tap reaches the server, but its answer is lost: the connection drops on the way back.
    def answer_lost(route):
        route.fetch()
        page.context.set_offline(True)
        route.abort("internetdisconnected")

    page.route("**/attendance/mark", answer_lost)
    page.locator(f"#row-{first.id} label.att-choice.present").click()
    page.locator(f"#row-{first.id}[data-state=pending]").get_by_text(
        re.compile("Waiting for the connection|the server is busy")).wait_for()
    page.unroute("**/attendance/mark")
    assert marks(db) == {first.id: "present"}
    # Two more taps wait on the tablet; then the tab is closed.
    page.context.set_offline(True)
    page.evaluate("window.dispatchEvent(new Event('offline'))")
    page.locator(f"#row-{second.id} label.att-choice.late").click()
    page.locator(f"#row-{third.id} label.att-choice.absent").click()
    page.locator(f"#row-{third.id}[data-state=pending]").wait_for()
    assert page.evaluate("window.babyowlAttendance.pending()") == 3
    context = page.context
    page.close()

    context.set_offline(False)
    reopened = context.new_page()
    reopened.goto(f"{live_server}/classes/{school_class.id}/attendance")
    wait_saved(reopened)
    for enrollment, status in ((first, "present"), (second, "late"), (third, "absent")):
        reopened.locator(f"#row-{enrollment.id}[data-state=saved] input[value={status}]:checked").wait_for(
            state="attached")
    assert marks(db) == {first.id: "present", second.id: "late", third.id: "absent"}
    assert counted(db) == (3, 2)  # the first tap, sent twice, counted once
    assert reopened.evaluate("localStorage.length") == 0


@VIEWPORTS
def test_mark_all_present_made_offline_is_sent_when_back_and_never_overwrites(live_server, open_page, db,
                                                                             classroom, viewport):
    school_class, enrollments = classroom
    page = open_page(viewport)
    open_sheet(page, live_server, school_class)
    names = by_name(enrollments)
    page.context.set_offline(True)
    page.evaluate("window.dispatchEvent(new Event('offline'))")
    page.locator(f"#row-{names[0].id} label.att-choice.absent").click()
    page.get_by_role("button", name="Mark all present").click()
    page.locator(f"#row-{names[5].id}[data-state=pending]").get_by_text("marked present when the connection").wait_for()
    page.locator(f"#row-{names[1].id} label.att-choice.late").click()  # tapped after "mark all", still offline
    assert "Mark all present” is waiting" in page.locator("#connection-status").inner_text()
    assert marks(db) == {}

    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_saved(page)
    assert page.locator("#sheet-confirmation").inner_text() == "29 students marked present."
    saved = marks(db)
    assert saved[names[0].id] == "absent" and saved[names[1].id] == "late"
    assert all(saved[e.id] == "present" for e in names[2:]) and len(saved) == 30
    assert counted(db) == (31, 29)  # 30 first marks and late over present; absent used none
    assert tally(page) == {"present": 28, "late": 1, "absent": 1, "unmarked": 0, "credits": 29}


@VIEWPORTS
def test_the_tally_follows_each_tap_focus_stays_on_the_row_and_jump_finds_the_unmarked(
        live_server, open_page, db, classroom, viewport):
    school_class, enrollments = classroom
    page = open_page(viewport)
    open_sheet(page, live_server, school_class)
    names = by_name(enrollments)
    assert tally(page) == {"present": 0, "late": 0, "absent": 0, "unmarked": 30, "credits": 0}
    # Before any tap the row says what each choice leaves (20 credits each, present/late use one).
    assert page.locator(f"#row-{names[0].id} .att-choice.present .att-cost").inner_text() == "19 left"
    assert page.locator(f"#row-{names[0].id} .att-choice.absent .att-cost").inner_text() == "20 left"
    page.locator(f"#row-{names[0].id} label.att-choice.late").click()
    page.locator(f"#row-{names[0].id}[data-state=saved]").wait_for()
    assert tally(page) == {"present": 0, "late": 1, "absent": 0, "unmarked": 29, "credits": 1}
    # Focus is back on the choice just made, in the row the server sent back.
    assert page.evaluate("document.activeElement.closest('.att-row').id") == f"row-{names[0].id}"
    assert page.evaluate("document.activeElement.value") == "late"
    assert page.locator(f"#row-{names[0].id} .att-choice.absent .att-cost").inner_text() == "20 left"
    assert page.locator("#jump-unmarked").get_attribute("href") == f"#row-{names[1].id}"
    for enrollment in names[1:4]:
        page.locator(f"#row-{enrollment.id} label.att-choice.present").click()
    wait_saved(page)
    page.locator("#jump-unmarked").click()
    assert page.evaluate("document.activeElement.closest('.att-row').id") == f"row-{names[4].id}"
    box = page.locator(f"#row-{names[4].id}").bounding_box()
    assert 0 <= box["y"] < viewport["height"]
    assert tally(page)["credits"] == 4
