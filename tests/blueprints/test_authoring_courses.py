"""Authoring courses and their structure through the pages, as an instructor does it."""
from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image
from sqlalchemy import func, select

from babyowl.models import Course, Lesson, Section
from tests.factories import make_class, make_course, make_user
from tests.helpers import flashes, reload, signed_in_client, text

HX = {"HX-Request": "true"}


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(STORAGE_DIR=str(tmp_path / "files"))


@pytest.fixture
def author(login_as):
    return login_as("instructor", full_name="Budi Santoso")


def new_course(client, **fields):
    data = {"title": "Python Dasar", "description": "Belajar Python dari nol.", "level": "beginner",
            "language": "indonesian", "category": "Programming", **fields}
    return client.post("/authoring/courses/new", data=data)


def course_named(db, title) -> Course:
    return db.session.scalar(select(Course).where(Course.title == title))


def picture(size=(1600, 900), fmt="PNG") -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", size, "orange").save(out, fmt)
    out.seek(0)
    return out


def test_an_instructor_creates_a_draft_course_with_a_generated_address(client, db, author):
    response = new_course(client)
    course = course_named(db, "Python Dasar")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/authoring/courses/{course.id}"
    assert (course.slug, course.status, course.created_by, course.language) == ("python-dasar", "draft", author.id,
                                                                                 "indonesian")
    new_course(client, title="Python Dasar!")
    assert course_named(db, "Python Dasar!").slug == "python-dasar-2"


def test_a_taken_or_malformed_address_is_refused_and_nothing_is_created(client, db, author):
    new_course(client)
    taken = new_course(client, title="Another", slug="python-dasar")
    assert taken.status_code == 422
    assert "The address “python-dasar” is already used by another course." in text(taken)
    malformed = new_course(client, title="Another", slug="Hello World!")
    assert malformed.status_code == 422 and "lowercase letters, digits and single hyphens" in text(malformed)
    assert db.session.scalar(select(func.count()).select_from(Course)) == 1


def test_required_fields_and_unknown_choices(client, db, author):
    assert "This field is required." in text(new_course(client, title="", description=""))
    assert "Choose one of the options." in text(new_course(client, level="expert"))
    assert db.session.scalar(select(func.count()).select_from(Course)) == 0


def test_a_cover_picture_is_shrunk_and_served_publicly(client, db, author, app):
    response = new_course(client, cover=(picture(), "cover.png"))
    assert response.status_code == 303
    course = course_named(db, "Python Dasar")
    assert course.cover_image.startswith("covers/")
    served = app.test_client().get(f"/covers/{course.cover_image}")  # signed out
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(served.data)).size == (1200, 675)


@pytest.mark.parametrize("upload, message", [
    ((io.BytesIO(b"%PDF-1.4 not a picture"), "cover.png"), "This file is not a picture we can read."),
    ((io.BytesIO(b"\x00" * (5 * 1024 * 1024 + 1)), "huge.jpg"), "The picture is larger than 5 MB."),
])
def test_a_wrong_or_oversized_cover_is_refused(client, db, author, upload, message, tmp_path):
    response = new_course(client, cover=upload)
    assert response.status_code == 422 and message in text(response)
    assert course_named(db, "Python Dasar") is None
    assert not list((tmp_path / "files").rglob("*.jpg"))


def test_editing_details_and_replacing_the_cover(client, db, author, tmp_path):
    new_course(client, cover=(picture(), "one.png"))
    course = course_named(db, "Python Dasar")
    old_cover = course.cover_image
    response = client.post(f"/authoring/courses/{course.id}/edit", data={
        "title": "Python untuk Pemula", "description": "Baru", "slug": "python-pemula", "level": "beginner",
        "language": "english", "cover": (picture(), "two.png")})
    assert response.status_code == 303
    course = reload(db, course)
    assert (course.title, course.slug, course.language) == ("Python untuk Pemula", "python-pemula", "english")
    assert course.cover_image != old_cover
    assert not (tmp_path / "files" / old_cover).exists()


def test_another_instructors_course_is_forbidden(client, db, author):
    other = make_user("instructor")
    course = make_course(author=other, status="draft")
    for url in (f"/authoring/courses/{course.id}", f"/authoring/courses/{course.id}/edit"):
        assert client.get(url).status_code == 403
    response = client.post(f"/authoring/courses/{course.id}/sections", data={"title": "Disusupkan"})
    assert response.status_code == 403
    assert db.session.scalar(select(func.count()).where(Section.course_id == course.id)) == 1


def test_a_super_admin_may_edit_any_course(client, db, login_as):
    course = make_course(author=make_user("instructor"), status="draft")
    login_as("super_admin")
    assert client.get(f"/authoring/courses/{course.id}").status_code == 200


@pytest.mark.parametrize("role", ["student", "staff"])
def test_students_and_staff_reach_no_authoring_page(client, db, login_as, role):
    course = make_course(status="draft")
    login_as(role)
    for url in ("/authoring/courses", "/authoring/courses/new", f"/authoring/courses/{course.id}"):
        assert client.get(url).status_code == 403


def outline(db, course) -> list[tuple[str, list[str]]]:
    db.session.expire_all()
    sections = db.session.scalars(select(Section).where(Section.course_id == course.id)
                                  .order_by(Section.order_index)).all()
    return [(s.title, [lesson.title for lesson in s.lessons]) for s in sections]


def structure_post(client, url, data, htmx=False):
    return client.post(url, data=data, headers=HX if htmx else {})


def test_building_and_reordering_sections_and_lessons(client, db, author):
    new_course(client)
    course = course_named(db, "Python Dasar")
    base = f"/authoring/courses/{course.id}"
    assert structure_post(client, f"{base}/sections", {"title": "Mengenal Python"}).status_code == 303
    htmx = structure_post(client, f"{base}/sections", {"title": "Logika"}, htmx=True)
    assert htmx.status_code == 200 and text(htmx).lstrip().startswith('<div id="structure">')
    first, second = db.session.scalars(select(Section).where(Section.course_id == course.id)
                                       .order_by(Section.order_index)).all()
    for title in ("Halo", "Variabel"):
        structure_post(client, f"/authoring/sections/{first.id}/lessons", {"title": title})
    structure_post(client, f"/authoring/sections/{second.id}/lessons", {"title": "Percabangan"}, htmx=True)
    assert outline(db, course) == [("Mengenal Python", ["Halo", "Variabel"]), ("Logika", ["Percabangan"])]

    structure_post(client, f"/authoring/sections/{second.id}/move", {"direction": "up"}, htmx=True)
    variabel = db.session.scalar(select(Lesson).where(Lesson.title == "Variabel"))
    structure_post(client, f"/authoring/lessons/{variabel.id}/move", {"direction": "up"})
    structure_post(client, f"/authoring/sections/{first.id}", {"title": "Dasar-dasar"}, htmx=True)
    assert outline(db, course) == [("Logika", ["Percabangan"]), ("Dasar-dasar", ["Variabel", "Halo"])]
    # The order survives a reload of the page.
    page = text(client.get(base))
    assert page.index("Logika") < page.index("Dasar-dasar") and page.index("Variabel") < page.index(">Halo<")


def test_moving_past_the_end_changes_nothing_and_bad_input_is_refused(client, db, author):
    new_course(client)
    course = course_named(db, "Python Dasar")
    structure_post(client, f"/authoring/courses/{course.id}/sections", {"title": "Satu"})
    section = db.session.scalar(select(Section).where(Section.course_id == course.id))
    assert structure_post(client, f"/authoring/sections/{section.id}/move", {"direction": "up"}).status_code == 303
    sideways = structure_post(client, f"/authoring/sections/{section.id}/move", {"direction": "sideways"}, htmx=True)
    assert sideways.status_code == 422 and "Unknown direction." in text(sideways)
    empty = structure_post(client, f"/authoring/courses/{course.id}/sections", {"title": "  "}, htmx=True)
    assert empty.status_code == 422 and "Enter a title." in text(empty)
    plain = structure_post(client, f"/authoring/courses/{course.id}/sections", {"title": ""})
    assert plain.status_code == 303
    assert "Enter a title." in flashes(client.get(plain.headers["Location"]))
    assert outline(db, course) == [("Satu", [])]


def test_concurrent_reordering_never_duplicates_positions(app, db, client, author):
    course = make_course(author=author, lessons=6, status="draft")
    lessons = db.session.scalars(select(Lesson).join(Section).where(Section.course_id == course.id)).all()
    browsers = [signed_in_client(app, author) for _ in range(4)]

    def shuffle(n):
        browser = browsers[n % 4]
        lesson = lessons[n % len(lessons)]
        return browser.post(f"/authoring/lessons/{lesson.id}/move",
                            data={"direction": "up" if n % 3 else "down"}).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(shuffle, range(40)))
    assert set(statuses) == {303}
    db.session.expire_all()
    indexes = [lesson.order_index for lesson in db.session.scalars(select(Lesson).join(Section)
                                                                   .where(Section.course_id == course.id))]
    assert len(indexes) == 6 and len(set(indexes)) == 6


def test_publishing_needs_a_lesson_with_an_exercise(client, db, author):
    new_course(client)
    course = course_named(db, "Python Dasar")
    response = client.post(f"/authoring/courses/{course.id}/status", data={"status": "published"}, headers=HX)
    assert response.status_code == 409
    assert "Add at least one lesson with one exercise before publishing." in text(response)
    assert reload(db, course).status == "draft"
    archived = client.post(f"/authoring/courses/{course.id}/status", data={"status": "archived"})
    assert archived.status_code == 303 and reload(db, course).status == "draft"


def test_a_draft_course_can_be_deleted_unless_a_class_uses_it(client, db, author):
    used = make_course(author=author, status="draft", title="Dipakai")
    make_class(course=used)
    free = make_course(author=author, status="draft", title="Bebas")
    assert client.post(f"/authoring/courses/{used.id}/delete").status_code == 303
    assert reload(db, used) is not None
    free_id = free.id
    assert client.post(f"/authoring/courses/{free_id}/delete").status_code == 303
    db.session.expire_all()
    assert db.session.get(Course, free_id) is None
    published = make_course(author=author, status="published", title="Terbit")
    client.post(f"/authoring/courses/{published.id}/delete")
    assert reload(db, published) is not None


def test_my_courses_lists_only_mine(client, db, author):
    make_course(author=author, title="Kursus Saya", status="draft")
    make_course(author=make_user("instructor"), title="Kursus Orang Lain")
    html = text(client.get("/authoring/courses"))
    assert "Kursus Saya" in html and "Kursus Orang Lain" not in html
    assert re.search(r"1 section\b", html)
