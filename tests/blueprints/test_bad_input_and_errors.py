"""Nothing a person types may produce a 500, and the error page itself always renders (issue 15, defect 4)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from babyowl.extensions import db as _db
from babyowl.models import Section, User
from tests.factories import make_course, make_user
from tests.helpers import reload, signed_in_client, text

HX = {"HX-Request": "true"}
NUL_MESSAGE = "contains a character that cannot be saved (a NUL byte)"


def _assert_refused(response):
    assert response.status_code == 422
    assert NUL_MESSAGE in text(response)


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_a_nul_byte_in_my_profile_name_is_refused_and_nothing_changes(client, db, login_as, headers):
    me = login_as("student", full_name="Andi Pratama")
    _assert_refused(client.post("/account/profile", data={"full_name": "Andi\x00Pratama", "bio": "Hai"},
                                headers=headers))
    me = reload(db, me)
    assert me.full_name == "Andi Pratama" and me.bio is None


def test_a_nul_byte_in_an_admin_user_edit_is_refused(client, db, login_as):
    login_as("staff")
    student = make_user("student", full_name="Dewi Lestari")
    _assert_refused(client.post(f"/admin/users/{student.id}/edit",
                                data={"full_name": "Dewi\x00", "email": student.email, "role": "student"}))
    assert reload(db, student).full_name == "Dewi Lestari"


def test_a_nul_byte_in_a_section_title_is_refused(client, db, login_as):
    author = login_as("instructor")
    course = make_course(author=author, status="draft")
    section = course.sections[0]
    _assert_refused(client.post(f"/authoring/sections/{section.id}", data={"title": "Bab\x00 1"}, headers=HX))
    _assert_refused(client.post(f"/authoring/courses/{course.id}/sections", data={"title": "Baru\x00"}))
    assert [s.title for s in db.session.scalars(select(Section).where(Section.course_id == course.id))] \
        == ["Section 1"]


def test_a_nul_byte_in_a_course_edit_is_refused(client, db, login_as):
    author = login_as("instructor")
    course = make_course(author=author, status="draft", title="Python Dasar")
    _assert_refused(client.post(f"/authoring/courses/{course.id}/edit", data={
        "title": "Python\x00Dasar", "description": "Baru", "slug": course.slug, "level": "beginner",
        "language": "english"}))
    assert reload(db, course).title == "Python Dasar"


def test_a_nul_byte_in_an_exercise_edit_is_refused(client, db, login_as):
    author = login_as("instructor")
    course = make_course(author=author, status="draft")
    exercise = course.sections[0].lessons[0].exercises[0]
    _assert_refused(client.post(f"/authoring/exercises/{exercise.id}", data={
        "title": "Materi\x00", "format": "markdown", "body": "Halo\x00dunia"}))
    exercise = reload(db, exercise)
    assert exercise.title == "Material 1" and exercise.content["body"] == "Hello"


def test_a_nul_byte_in_a_query_string_is_refused_too(client, db, login_as):
    login_as("staff")
    _assert_refused(client.get("/admin/users?q=a%00b"))


# --- the 500 page -------------------------------------------------------------

@pytest.fixture
def broken_app(make_app):
    """An app with a page that leaves the database session failed (a flush error it swallows) and then crashes."""
    app = make_app()

    @app.route("/test-only/fails-after-a-failed-flush")
    def fails_after_a_failed_flush():
        existing = _db.session.scalars(select(User)).first()
        _db.session.add(User(email=existing.email, full_name="Twin", role="student"))
        try:
            _db.session.flush()  # unique email: the session is now waiting for a rollback
        except Exception:
            pass
        raise RuntimeError("a bug after a failed flush")

    return app


def test_the_error_page_renders_when_the_session_is_in_a_failed_state(broken_app, db):
    student = make_user("student", full_name="Siti Rahma")

    browser = signed_in_client(broken_app, student)
    response = browser.get("/test-only/fails-after-a-failed-flush")
    assert response.status_code == 500
    page = text(response)
    # The school's own page, with the signed-in person's menu: it needed the database after the failure.
    assert "Something went wrong" in page and "Siti Rahma" in page
    htmx = browser.get("/test-only/fails-after-a-failed-flush", headers=HX)
    assert htmx.status_code == 500 and "Something went wrong" in text(htmx)
    # Nothing of the failed flush was kept, and the next page works.
    assert db.session.scalar(select(User).where(User.full_name == "Twin")) is None
    assert browser.get("/dashboard").status_code == 200


def test_the_error_page_falls_back_to_a_plain_page_when_rendering_fails(broken_app, db, monkeypatch):
    import babyowl.errors

    def render_fails(*args, **kwargs):
        raise RuntimeError("the template itself is broken")

    monkeypatch.setattr(babyowl.errors, "render", render_fails)
    make_user("student")
    response = broken_app.test_client().get("/test-only/fails-after-a-failed-flush")
    assert response.status_code == 500
    assert response.content_type.startswith("text/html")
    assert "Something went wrong" in text(response) and "Internal Server Error" not in text(response)
