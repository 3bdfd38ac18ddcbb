"""The public catalog: published courses only, search, filters, pages, syllabus."""
from __future__ import annotations

import pytest

from babyowl.extensions import db as _db
from babyowl.models import Course, Exercise, Lesson, Section
from tests.factories import make_course

HX = {"HX-Request": "true"}


def published(title, **fields):
    return make_course(title=title, status="published", **fields)


def test_only_published_courses_are_listed(client, db):
    published("Python Dasar")
    make_course(title="Rahasia Draft", status="draft")
    make_course(title="Kursus Lama", status="archived")
    html = client.get("/catalog").get_data(as_text=True)
    assert "Python Dasar" in html and "Rahasia Draft" not in html and "Kursus Lama" not in html
    assert "1 course" in html


def test_search_by_title_or_description_in_any_case(client, db):
    published("Python Dasar", description="Variabel dan perulangan")
    published("Web dengan Flask", description="Membangun aplikasi web")
    assert "Web dengan Flask" in client.get("/catalog?q=flask").get_data(as_text=True)
    by_description = client.get("/catalog?q=PERULANGAN").get_data(as_text=True)
    assert "Python Dasar" in by_description and "Web dengan Flask" not in by_description
    assert "No course matches your search." in client.get("/catalog?q=%25_").get_data(as_text=True)


def test_filter_by_category_and_level(client, db):
    published("Python Dasar", category="Programming", level="beginner")
    published("Python Lanjut", category="Programming", level="advanced")
    published("Desain Web", category="Web", level="beginner")
    html = client.get("/catalog?category=Programming&level=beginner").get_data(as_text=True)
    assert "Python Dasar" in html and "Python Lanjut" not in html and "Desain Web" not in html
    # An unknown level is ignored rather than an error.
    assert client.get("/catalog?level=expert").status_code == 200


def test_htmx_filtering_returns_only_the_results(client, db):
    published("Python Dasar")
    response = client.get("/catalog?q=python", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<div id="catalog-results">') and "Python Dasar" in html


def test_twenty_courses_per_page(client, db):
    for n in range(25):
        published(f"Kursus {n:02d}")
    first = client.get("/catalog").get_data(as_text=True)
    assert first.count('class="card course-card"') == 20 and "Page 1 of 2" in first
    second = client.get("/catalog?page=2").get_data(as_text=True)
    assert second.count('class="card course-card"') == 5
    assert client.get("/catalog?page=abc").status_code == 200
    assert client.get("/catalog?page=99").status_code == 200


@pytest.mark.parametrize("signed_in", [False, True])
def test_the_catalog_runs_the_same_queries_for_5_and_for_50_courses(client, db, login_as, count_queries,
                                                                    signed_in):
    if signed_in:
        login_as("student")
    for n in range(5):
        published(f"Kursus A{n}", category=f"Cat {n % 3}", lessons=2)
    with count_queries() as few:
        assert client.get("/catalog").status_code == 200
    for n in range(45):
        published(f"Kursus B{n}", category=f"Cat {n % 7}", lessons=3)
    with count_queries() as many:
        assert client.get("/catalog").status_code == 200
    assert len(many) == len(few)


def test_the_course_page_shows_the_syllabus_not_the_exercises(client, db):
    course = published("Python Dasar", lessons=3)
    exercise = _db.session.query(Exercise).join(Lesson).join(Section).filter(Section.course_id == course.id).first()
    exercise.content = {"format": "markdown", "source": "RAHASIA-JAWABAN", "html": "<p>RAHASIA-JAWABAN</p>"}
    _db.session.commit()
    html = client.get(f"/catalog/{course.slug}").get_data(as_text=True)
    assert "Syllabus" in html and "Lesson 1" in html and "Lesson 3" in html
    assert "RAHASIA-JAWABAN" not in html


@pytest.mark.parametrize("status", ["draft", "archived"])
def test_a_course_outside_the_catalog_is_not_found(client, db, status):
    course = make_course(title="Tersembunyi", status=status)
    assert client.get(f"/catalog/{course.slug}").status_code == 404
    assert client.get("/catalog/no-such-course").status_code == 404


def test_the_catalog_is_public(client, db):
    published("Python Dasar")
    assert client.get("/catalog").status_code == 200
    assert _db.session.query(Course).count() == 1
