"""The bell, the notifications page, email settings and unsubscribe links."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from babyowl.models import Notification, NotificationPreference
from babyowl.services import announcements, classes, notifications
from babyowl.services.notifications import unsubscribe_token
from tests.factories import make_class, make_enrollment, make_user
from tests.helpers import flashes, reload, signed_in_client, text
from babyowl.transactions import use_case

# notify() joins its caller's use case; a test calls it as one of its own.
notify = use_case(notifications.notify)

HTMX = {"HX-Request": "true"}


@pytest.fixture
def student(db):
    return make_user("student", full_name="Siti Aisyah")


@pytest.fixture
def student_client(app, student):
    return signed_in_client(app, student)


def tell(student, n: int, **fields) -> list:
    ids = []
    for i in range(n):
        ids += notify([student], kind="announcement", title=fields.get("title", f"Kabar {i}"),
                                    message="Isi", link=fields.get("link"), email=False)
    return ids


def bell_count(client) -> int:
    response = client.get("/notifications/bell")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    found = re.search(r'id="bell-count">(\d+)<', response.get_data(as_text=True))
    return int(found.group(1)) if found else 0


def layout_counts(page: str) -> tuple[int, int]:
    """The bell's and the messages link's numbers as the page itself shows them."""
    found = [re.search(rf'id="{name}-count">(\d+)<', page) for name in ("bell", "messages")]
    return tuple(int(match.group(1)) if match else 0 for match in found)


def test_the_layout_has_a_bell_that_htmx_refreshes(student_client, student):
    page = text(student_client.get("/dashboard"))
    assert 'id="bell"' in page and 'href="/notifications"' in page
    assert 'hx-get="/notifications/bell"' in page
    # The count comes with the page: no request on load, only the refreshes.
    assert 'hx-trigger="every 60s, notifications-changed from:body"' in page
    assert 'hx-trigger="every 30s, messages-changed from:body"' in page
    assert layout_counts(page) == (0, 0) and "0 unread notifications" in page
    assert bell_count(student_client) == 0
    tell(student, 2)
    assert bell_count(student_client) == 2
    page = text(student_client.get("/dashboard"))
    assert layout_counts(page) == (2, 0) and "2 unread notifications" in page


def test_the_layout_shows_unread_messages_with_the_page(app, db, student, student_client):
    from babyowl.services import messages

    teacher = make_user("instructor")
    make_enrollment(make_class(instructor=teacher), student)
    conversation = messages.start_direct(teacher, student.id)
    messages.send_message(teacher, conversation.id, "Halo")
    page = text(student_client.get("/dashboard"))
    assert layout_counts(page) == (0, 1) and "1 unread message" in page


def test_the_bell_is_right_after_reading_an_announcement(app, db, student, student_client):
    teacher = make_user("instructor")
    school_class = make_class(instructor=teacher)
    make_enrollment(school_class, student)
    first = announcements.create_announcement(teacher, school_class, title="Satu", content="x")
    announcements.create_announcement(teacher, school_class, title="Dua", content="x")
    assert bell_count(student_client) == 2
    student_client.get(f"/announcements/{first.id}")
    assert bell_count(student_client) == 1


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_mark_one_as_read(student_client, db, student, headers):
    [first, _second] = tell(student, 2)
    response = student_client.post(f"/notifications/{first}/read", headers=headers)
    if headers:
        assert response.status_code == 200
        assert response.headers["HX-Trigger"] == "notifications-changed"  # the bell refreshes itself
        fragment = text(response)
        assert fragment.lstrip().startswith(f'<li id="notification-{first}" class="row">')
        assert "unread-marker" not in fragment
    else:
        assert response.status_code == 303 and response.headers["Location"] == "/notifications"
        assert flashes(student_client.get("/notifications")) == ["Marked as read."]
    assert reload(db, db.session.get(Notification, first)).read
    assert bell_count(student_client) == 1


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_mark_all_as_read(student_client, db, student, headers):
    tell(student, 3)
    other = make_user("student")
    tell(other, 1)
    response = student_client.post("/notifications/read-all", headers=headers)
    if headers:
        assert response.status_code == 200 and response.headers["HX-Trigger"] == "notifications-changed"
        assert text(response).lstrip().startswith('<section id="notification-list"')
        assert "Every notification is marked as read." in text(response)
        assert "unread-marker" not in text(response)
    else:
        assert response.status_code == 303
        assert flashes(student_client.get("/notifications")) == ["Every notification is marked as read."]
    assert bell_count(student_client) == 0
    assert notifications.unread_count(other) == 1


def test_someone_elses_notification_is_not_found(app, db, student_client):
    [theirs] = tell(make_user("student"), 1)
    assert student_client.post(f"/notifications/{theirs}/read").status_code == 404
    assert not reload(db, db.session.get(Notification, theirs)).read


def test_the_page_lists_20_newest_first_with_links(student_client, student):
    tell(student, 25)
    tell(student, 1, title="Pelajaran baru", link="/classes/x/lessons/y")
    page = text(student_client.get("/notifications"))
    assert page.count('class="row unread"') == 20
    assert page.index("Pelajaran baru") < page.index("Kabar 24") < page.index("Kabar 6")
    assert "Kabar 5" not in page and '<a href="/classes/x/lessons/y">Pelajaran baru</a>' in page
    assert "Page 1 of 2" in page
    second = text(student_client.get("/notifications?page=2"))
    assert second.count('class="row unread"') == 6 and "Kabar 0" in second
    assert student_client.get("/notifications?page=nonsense").status_code == 200


def test_the_page_runs_as_many_queries_for_20_as_for_2(student_client, student, count_queries):
    tell(student, 2)
    with count_queries() as few:
        assert student_client.get("/notifications").status_code == 200
    tell(student, 30)
    with count_queries() as many:
        assert student_client.get("/notifications").status_code == 200
    assert len(many) == len(few)


def test_a_lesson_unlock_notification_links_to_the_lesson(app, db, student, student_client):
    teacher = make_user("instructor")
    school_class = make_class(instructor=teacher, status="active")
    make_enrollment(school_class, student)
    school_class.meetings_completed = 1
    db.session.commit()
    lesson = classes.unlock_next_lesson(teacher, school_class)
    page = text(student_client.get("/notifications"))
    assert f'href="/classes/{school_class.id}/lessons/{lesson.id}"' in page and "New lesson: Lesson 1" in page


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_email_settings(student_client, db, student, headers):
    page = student_client.get("/notifications/preferences")
    assert page.status_code == 200 and page.get_data(as_text=True).count("checked") == len(notifications.KINDS)
    response = student_client.post("/notifications/preferences", data={"emails": ["lesson_unlocked"],
                                                                         "language": "en"}, headers=headers)
    if headers:
        assert response.status_code == 204 and response.headers["HX-Location"] == "/notifications/preferences"
    else:
        assert response.status_code == 303
    assert notifications.email_choices(student) == {kind: kind == "lesson_unlocked" for kind in notifications.KINDS}
    assert reload(db, student).language == "en"


@pytest.mark.parametrize("data, message", [
    ({"emails": ["spam"], "language": "en"}, "Choose one of the options."),
    ({"emails": ["announcement"], "language": "fr"}, "Choose one of the options."),
])
def test_bad_email_settings_change_nothing(student_client, db, student, data, message):
    response = student_client.post("/notifications/preferences", data=data, headers=HTMX)
    assert response.status_code == 422 and message in text(response)
    assert db.session.scalar(select(func.count()).select_from(NotificationPreference)) == 0
    assert reload(db, student).language is None


def test_unsubscribe_asks_on_get_and_acts_on_post(app, db, student):
    anonymous = app.test_client()  # the link works without signing in
    link = f"/unsubscribe/{unsubscribe_token(student, 'announcement')}"
    page = anonymous.get(link)
    assert page.status_code == 200 and "Stop sending emails about “Class announcements”" in text(page)
    assert notifications.wants_email(student.id, "announcement")  # a GET (a mail scanner's too) changes nothing
    response = anonymous.post(link)
    assert response.status_code == 303 and response.headers["Location"] == link
    after = anonymous.get(link)
    assert flashes(after) == ["Done: you will no longer get emails about “Class announcements”."]
    assert "no longer gets emails" in text(after)
    assert notifications.email_choices(student) == {kind: kind != "announcement" for kind in notifications.KINDS}


def test_a_bad_unsubscribe_link_says_so(app, db):
    client = app.test_client()
    for method in ("GET", "POST"):
        response = client.open("/unsubscribe/not-a-token", method=method)
        assert response.status_code == 400 and "This unsubscribe link is not valid" in text(response)
    assert db.session.scalar(select(func.count()).select_from(NotificationPreference)) == 0


def test_failed_mail_page_without_redis_says_so(app, db):
    staff = signed_in_client(app, make_user("staff"))
    page = staff.get("/admin/failed-mail")
    assert page.status_code == 200 and "No job queue is configured" in text(page)
    response = staff.post("/admin/failed-mail/some-job/resend")
    assert response.status_code == 303
    assert "No job queue is configured" in flashes(staff.get("/admin/failed-mail"))[0]
    instructor = signed_in_client(app, make_user("instructor"))
    assert instructor.get("/admin/failed-mail").status_code == 403


def test_failed_mail_page_with_redis_unreachable_says_so(make_app, db):
    from tests.jobs.support import free_port

    app = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    staff = signed_in_client(app, make_user("staff"))
    page = staff.get("/admin/failed-mail")
    assert page.status_code == 200 and "The job queue (Redis) does not answer" in text(page)
    response = staff.post("/admin/failed-mail/some-job/resend")
    assert response.status_code == 303
    assert flashes(staff.get("/admin/failed-mail")) == ["The job queue (Redis) does not answer; try again in a moment."]
    htmx = staff.post("/admin/failed-mail/some-job/resend", headers={"HX-Request": "true"})
    assert htmx.status_code == 409 and 'id="failed-list"' in text(htmx)
