"""On a phone, in Indonesian: a student finishes an exercise and their home shows the XP and the new badge."""
from __future__ import annotations

from sqlalchemy import select

from babyowl.models import UserLevel
from babyowl.services import badges
from tests.browser.conftest import PHONE, sign_in
from tests.factories import PASSWORD
from tests.learning_data import MATERIAL, exercise, make_setup


def test_a_student_completes_an_exercise_and_sees_xp_and_a_new_badge(db, live_server, open_page):
    setup = make_setup(unlocked=1, lessons=1)
    material = exercise(setup.lessons[0], "material", MATERIAL, "Variabel")
    badges.seed_catalog()
    page = open_page(viewport=PHONE, locale="id-ID")
    sign_in(page, live_server, setup.student.email, PASSWORD)
    home = page.inner_text("main")
    assert "Level 1" in home and "0 XP" in home and "Selesaikan satu latihan" in home

    page.goto(f"{live_server}{setup.lesson_url(setup.lessons[0])}")
    page.locator(f"#status-{material.id} .status-published").wait_for()  # read to the end: done

    page.goto(f"{live_server}/dashboard")
    db.session.expire_all()
    total = db.session.scalar(select(UserLevel.total_xp).where(UserLevel.user_id == setup.student.id))
    assert total >= 10 + 30 + 10  # the exercise, its lesson, the first badge
    level_card = page.locator(".level-card")
    assert f"{total} XP" in level_card.inner_text()
    badges_card = page.locator("section[aria-labelledby=badges-heading]")
    assert "Lencana terbaru" in badges_card.inner_text() and "Langkah Pertama" in badges_card.inner_text()
    assert badges_card.locator("img.badge-icon").first.is_visible()
    # Phone first: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
