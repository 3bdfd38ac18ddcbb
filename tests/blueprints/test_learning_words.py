"""The words students act on (defect 12): buttons are verbs, and instructions name the button the page shows."""
from __future__ import annotations

import re

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import select

from babyowl.models import Exercise, User
from tests.helpers import text
from tests.learning_data import ASSIGNMENT, exercise, make_setup, sign_in

INDONESIAN = {"Accept-Language": "id-ID,id;q=0.9"}
ENGLISH = {"Accept-Language": "en-US,en;q=0.9"}


def buttons(page: str) -> list[str]:
    return [re.sub(r"\s+", " ", label).strip() for label in re.findall(r"<button[^>]*>(.*?)</button>", page, re.S)]


def test_the_assignment_button_is_a_verb_in_indonesian(client, db):
    setup = make_setup(unlocked=1, lessons=1)
    exercise(setup.lessons[0], "assignment", ASSIGNMENT, "Tugas sapaan")
    sign_in(client, setup.student)
    page = text(client.get(setup.lesson_url(setup.lessons[0]), headers=INDONESIAN))
    assert "Kirim tugas" in buttons(page)
    assert "Pengumpulan" not in buttons(page)
    # The noun stays where a noun belongs: the label of how the work may be handed in.
    assert "Cara pengumpulan" in page


def test_the_assignment_button_in_english(client, db):
    setup = make_setup(unlocked=1, lessons=1)
    exercise(setup.lessons[0], "assignment", ASSIGNMENT, "Greeting")
    sign_in(client, setup.student)
    page = text(client.get(setup.lesson_url(setup.lessons[0]), headers=ENGLISH))
    assert "Hand in" in buttons(page) and "Ways to hand in" in page


@pytest.mark.parametrize("headers, locale", [(INDONESIAN, "id"), (ENGLISH, "en")], ids=["id", "en"])
def test_seeded_coding_instructions_name_the_button_the_page_shows(app, client, db, headers, locale):
    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    coding = db.session.scalars(select(Exercise).where(Exercise.type == "coding")).first()
    admin = db.session.scalars(select(User).where(User.email == "admin@babyowl.example")).one()
    with force_locale(locale):
        button = gettext("Submit")  # the student's button on the coding page (templates/coding/exercise.html)
    assert button == {"id": "Kirim", "en": "Submit"}[locale]
    sign_in(client, admin)
    page = text(client.get(f"/exercises/{coding.id}/code", headers=headers))
    instructions = page[page.index('class="instructions"'):]
    assert re.search(rf"<(strong|em)>{button}</\1>", instructions[:2000])


def test_a_refused_course_status_change_names_the_statuses_in_indonesian(client, db, login_as):
    from tests.factories import make_course

    author = login_as("instructor")
    course = make_course(author=author, status="draft", lessons=1)
    response = client.post(f"/authoring/courses/{course.id}/status", data={"status": "archived"},
                           headers={**INDONESIAN, "HX-Request": "true"})
    assert response.status_code == 409
    assert "Kursus tidak dapat diubah dari draf menjadi diarsipkan." in text(response)
    assert "draft" not in text(response).split("Kursus tidak dapat")[1][:60]
