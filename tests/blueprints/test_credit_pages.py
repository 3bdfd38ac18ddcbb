"""The credit history page, adjusting credits and correcting a mark, as plain posts and through htmx."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from babyowl.models import AttendanceChange, CreditAdjustment
from babyowl.services import attendance
from tests.factories import make_class, make_enrollment, make_user
from tests.helpers import flashes, reload, signed_in_client, text

HTMX = {"HX-Request": "true"}


@pytest.fixture
def teacher(db):
    return make_user("instructor", full_name="Budi Santoso")


@pytest.fixture
def enrollment(db, teacher):
    school_class = make_class(instructor=teacher, status="active", total_meetings=10)
    enrollment = make_enrollment(school_class, make_user("student", full_name="Siti Aisyah"))
    for meeting, status in ((1, "present"), (2, "late")):
        attendance.mark(teacher, school_class, enrollment_id=enrollment.id, meeting_number=meeting, status=status)
    return enrollment


@pytest.fixture
def teacher_client(app, teacher):
    return signed_in_client(app, teacher)


def adjustments(db):
    return db.session.scalars(select(CreditAdjustment)).all()


def test_the_page_explains_every_credit(teacher_client, enrollment):
    response = teacher_client.get(f"/enrollments/{enrollment.id}/credits")
    assert response.status_code == 200
    page = text(response)
    assert "Credits of Siti Aisyah" in page and "10 meeting credits" in page
    assert "Meeting 1 marked Present" in page and "Meeting 2 marked Late" in page
    assert 'id="credits-remaining">8<' in page
    assert "Adjust credits" in page and "does not add up" not in page


def test_the_student_reads_their_own_credits_but_cannot_adjust(app, db, enrollment):
    own = signed_in_client(app, enrollment.student)
    page = text(own.get(f"/enrollments/{enrollment.id}/credits"))
    assert "Meeting 1 marked Present" in page and "Adjust credits" not in page and "Correct the mark" not in page
    assert own.post(f"/enrollments/{enrollment.id}/credits/adjust",
                    data={"direction": "give_back", "amount": "1", "reason": "bonus"}).status_code == 403
    other = signed_in_client(app, make_user("student"))
    assert other.get(f"/enrollments/{enrollment.id}/credits").status_code == 404
    assert adjustments(db) == []


def test_adjust_as_a_plain_form_post(teacher_client, db, enrollment):
    response = teacher_client.post(f"/enrollments/{enrollment.id}/credits/adjust",
                                   data={"direction": "give_back", "amount": "2", "reason": "refund"})
    assert response.status_code == 303 and response.headers["Location"] == f"/enrollments/{enrollment.id}/credits"
    (row,) = adjustments(db)
    assert (row.adjustment, row.credits_before, row.credits_after, row.reason) == (2, 2, 0, "refund")
    page = teacher_client.get(response.headers["Location"])
    assert "Credits adjusted." in flashes(page)
    assert "Adjustment: Refund" in text(page) and 'id="credits-remaining">10<' in text(page)


def test_adjust_through_htmx_swaps_the_credits_block(teacher_client, db, enrollment):
    response = teacher_client.post(f"/enrollments/{enrollment.id}/credits/adjust", headers=HTMX,
                                   data={"direction": "use", "amount": "1", "reason": "makeup_class"})
    assert response.status_code == 200
    fragment = text(response)
    assert fragment.lstrip().startswith('<div id="credits">') and "<html" not in fragment
    assert 'id="credits-remaining">7<' in fragment and "Adjustment: Makeup class attended" in fragment
    assert reload(db, enrollment).credits_used == 3


@pytest.mark.parametrize("form, message", [
    ({"direction": "give_back", "amount": "1", "reason": "other", "detail": ""}, "Say what the adjustment is for."),
    ({"direction": "give_back", "amount": "abc", "reason": "bonus"}, "Enter a whole number."),
    ({"direction": "give_back", "amount": "0", "reason": "bonus"}, "Enter a whole number from 1 to 50."),
    ({"direction": "sideways", "amount": "1", "reason": "bonus"}, "Choose one of the options."),
    ({"direction": "give_back", "amount": "1", "reason": "gift"}, "Choose one of the options."),
    ({"direction": "use", "amount": "9", "reason": "makeup_class"}, "Only 8 credits remain"),
])
@pytest.mark.parametrize("headers", [{}, HTMX])
def test_bad_adjustments_show_a_message_and_change_nothing(teacher_client, db, enrollment, form, message, headers):
    response = teacher_client.post(f"/enrollments/{enrollment.id}/credits/adjust", data=form, headers=headers)
    assert response.status_code in (409, 422)
    assert message in text(response)
    assert adjustments(db) == [] and reload(db, enrollment).credits_used == 2


def test_an_instructor_of_another_class_cannot_adjust(app, db, enrollment):
    other = signed_in_client(app, make_user("instructor"))
    response = other.post(f"/enrollments/{enrollment.id}/credits/adjust",
                          data={"direction": "give_back", "amount": "1", "reason": "bonus"})
    assert response.status_code == 404
    assert adjustments(db) == []


def test_correct_a_mark_with_a_reason(teacher_client, db, enrollment):
    response = teacher_client.post(f"/enrollments/{enrollment.id}/meetings/2/mark",
                                   data={"status": "absent", "reason": "Left after five minutes"})
    assert response.status_code == 303
    assert "Mark of meeting 2 changed." in flashes(teacher_client.get(response.headers["Location"]))
    change = db.session.scalars(select(AttendanceChange).where(AttendanceChange.old_status == "late")).one()
    assert (change.new_status, change.reason, change.credit_change) == ("absent", "Left after five minutes", -1)
    fragment = teacher_client.post(f"/enrollments/{enrollment.id}/meetings/2/mark", headers=HTMX,
                                   data={"status": "present", "reason": "Came back"})
    assert fragment.status_code == 200
    page = text(fragment)
    assert "Meeting 2: Absent → Present" in page and "Came back" in page
    assert reload(db, enrollment).credits_used == 2


@pytest.mark.parametrize("meeting, form, message", [
    (2, {"status": "excused"}, "Choose one of the options."),
    (5, {"status": "present"}, "Meeting 5 has no mark for this student to correct."),
    (2, {"status": "present", "reason": "x" * 501}, "Use at most 500 characters."),
])
def test_bad_corrections_change_nothing(teacher_client, db, enrollment, meeting, form, message):
    before = db.session.scalar(select(AttendanceChange.id).order_by(AttendanceChange.changed_at.desc()).limit(1))
    response = teacher_client.post(f"/enrollments/{enrollment.id}/meetings/{meeting}/mark", data=form, headers=HTMX)
    assert response.status_code == 422 and message in text(response)
    db.session.expire_all()
    assert db.session.scalar(select(AttendanceChange.id).order_by(AttendanceChange.changed_at.desc())
                             .limit(1)) == before


def key_of(page: str) -> str:
    import re

    return re.search(r'name="key" type="hidden" value="([0-9a-f]{32})"', page).group(1)


def test_a_double_tap_on_save_is_one_adjustment(teacher_client, db, enrollment):
    """Defect 9: the form's key, made when it was shown, makes a re-sent post count once."""
    page = text(teacher_client.get(f"/enrollments/{enrollment.id}/credits"))
    form = {"direction": "give_back", "amount": "1", "reason": "bonus", "key": key_of(page)}
    first = teacher_client.post(f"/enrollments/{enrollment.id}/credits/adjust", data=form, headers=HTMX)
    again = teacher_client.post(f"/enrollments/{enrollment.id}/credits/adjust", data=form, headers=HTMX)
    assert first.status_code == again.status_code == 200
    assert len(adjustments(db)) == 1 and reload(db, enrollment).credits_remaining == 9
    # The block that comes back carries a new key: the next adjustment is a new one.
    assert key_of(text(first)) != form["key"]


def test_twenty_parallel_identical_adjustments_are_one(app, db, teacher, enrollment):
    import threading

    clients = [signed_in_client(app, teacher) for _ in range(20)]
    form = {"direction": "give_back", "amount": "2", "reason": "refund", "key": "ab" * 16}
    barrier, statuses, url = threading.Barrier(20), [], f"/enrollments/{enrollment.id}/credits/adjust"

    def post(client):
        barrier.wait()
        statuses.append(client.post(url, data=form, headers=HTMX).status_code)

    threads = [threading.Thread(target=post, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * 20
    db.session.expire_all()
    assert len(adjustments(db)) == 1 and reload(db, enrollment).credits_remaining == 10


def test_an_instructor_cannot_give_back_beyond_the_package(teacher_client, db, enrollment):
    """Defect 9: an instructor gave back 50 credits on a 10-meeting package (58 remaining)."""
    response = teacher_client.post(f"/enrollments/{enrollment.id}/credits/adjust", headers=HTMX,
                                   data={"direction": "give_back", "amount": "50", "reason": "refund",
                                         "above_package": "y"})
    assert response.status_code == 409
    assert "This would leave 58 credits on a package of 10 meetings; give back at most 2." in text(response)
    assert 'name="above_package"' not in text(response)
    assert adjustments(db) == [] and reload(db, enrollment).credits_remaining == 8


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_staff_give_back_beyond_the_package_after_confirming(app, db, enrollment, headers):
    staff = signed_in_client(app, make_user("staff"))
    form = {"direction": "give_back", "amount": "5", "reason": "bonus", "key": "cd" * 16}
    asked = staff.post(f"/enrollments/{enrollment.id}/credits/adjust", data=form, headers=headers)
    page = text(asked)
    assert asked.status_code == 409 and "Confirm that the student gets more credits than the package." in page
    assert 'name="above_package"' in page and f'value="{form["key"]}"' in page
    assert adjustments(db) == []
    confirmed = staff.post(f"/enrollments/{enrollment.id}/credits/adjust", data={**form, "above_package": "y"},
                           headers=headers)
    assert confirmed.status_code == (200 if headers else 303)
    assert len(adjustments(db)) == 1 and reload(db, enrollment).credits_remaining == 13


def test_the_credits_page_shows_the_attendance_rate(teacher_client, enrollment):
    page = text(teacher_client.get(f"/enrollments/{enrollment.id}/credits"))
    assert 'id="attendance-rate">100%<' in page
