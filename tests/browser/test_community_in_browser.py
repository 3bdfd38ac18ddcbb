"""The community on a phone, in a real browser: sharing a turtle drawing, likes, comments, notifications, events."""
from __future__ import annotations

import json
import time
from datetime import timedelta

from babyowl.extensions import db as _db
from babyowl.models import CodingSubmission, Exercise
from babyowl.services.school_time import school_today
from tests.browser.conftest import PHONE, sign_in
from tests.factories import PASSWORD, make_open_lesson, make_user

STAR = "import turtle\nt = turtle.Turtle()\nfor _ in range(5):\n    t.forward(100)\n    t.right(144)\n"


def wait_visible(page, selector: str, seconds: float = 90):
    # Polled from Python: the coding page's CSP forbids wait_for_function's string evaluation.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if page.locator(selector).is_visible():
            return
        time.sleep(0.2)
    raise AssertionError(f"{selector} never became visible; status: {page.locator('#runner-status').text_content()}")


def test_a_student_shares_a_turtle_drawing_a_classmate_likes_and_comments_the_author_is_told(
        live_server, open_page, db):
    andi = make_user("student", email="andi@example.com", full_name="Andi Pratama")
    make_user("student", email="dewi@example.com", full_name="Dewi Lestari")
    lesson = make_open_lesson(andi)
    exercise = Exercise(lesson=lesson, title="Bintang kura-kura", type="coding", order_index=1, content={
        "mode": "challenge", "language": "python", "instructions": "<p>Gambar bintang.</p>",
        "starterCode": "import turtle\n", "requiredPackages": [], "hints": [], "timeLimit": 5, "maxPoints": 10,
        "outputType": "auto", "completionCriteria": "all_tests_pass",
        "testCases": [{"id": "a", "name": "Tanpa teks", "stdin": "", "input": "", "expectedOutput": "",
                       "isHidden": False, "points": 10}]})
    _db.session.add(exercise)
    _db.session.flush()
    # The exercise was passed before: the drawing is shared together with that program.
    _db.session.add(CodingSubmission(user_id=andi.id, exercise_id=exercise.id, code=STAR, passed=True))
    _db.session.commit()

    author = open_page(PHONE)
    sign_in(author, live_server, "andi@example.com", PASSWORD)
    author.goto(f"{live_server}/exercises/{exercise.id}/code")
    assert author.locator("#share-drawing-form").is_hidden()  # nothing drawn yet
    author.locator("#run-button:not([disabled])").wait_for(timeout=90_000)
    author.evaluate(f"window.babyowlCoding.setCode({json.dumps(STAR)})")
    author.click("#run-button")
    author.locator("#visual svg line").nth(4).wait_for(state="attached", timeout=60_000)
    wait_visible(author, "#share-drawing-form")
    author.fill("#share-drawing-text", "Bintang pertamaku dengan **turtle**!")
    author.click("#share-drawing-form button[type=submit]")
    author.wait_for_url(f"{live_server}/community")
    author.get_by_text("Posted.").wait_for()
    post = author.locator("article.post").first
    assert "Bintang pertamaku dengan turtle!" in post.inner_text()
    assert post.locator(".post-drawing svg line").count() == 5  # the star, drawn by the server from the record
    assert "t.right(144)" in post.locator("pre.code").inner_text()
    assert author.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    friend = open_page(PHONE)
    sign_in(friend, live_server, "dewi@example.com", PASSWORD)
    friend.goto(f"{live_server}/community")
    card = friend.locator("article.post", has_text="Bintang pertamaku")
    assert card.locator(".post-drawing svg line").count() == 5
    card.get_by_role("button", name="Like · 0").click()  # htmx swaps the button in place
    card.get_by_role("button", name="Liked · 1").wait_for()
    card.get_by_role("link", name="0 comments").click()
    friend.fill("#comments textarea[name=content]", "Keren sekali!")
    friend.click("#comments button[type=submit]")
    friend.locator("#comments .comment", has_text="Keren sekali!").wait_for()

    author.goto(f"{live_server}/notifications")
    author.get_by_text("New comment on your post").wait_for()
    assert "Dewi Lestari commented: Keren sekali!" in author.locator("#notification-list").inner_text()
    author.get_by_role("link", name="New comment on your post").click()
    author.locator(".comment", has_text="Keren sekali!").wait_for()
    assert author.locator("article.post .like-count").inner_text() == "1"


def test_an_instructor_creates_an_event_and_two_students_rsvp(live_server, open_page, db):
    make_user("instructor", email="rina@example.com", full_name="Rina Wijaya")
    for name in ("andi", "dewi"):
        make_user("student", email=f"{name}@example.com", full_name=name.title())
    teacher = open_page(PHONE)
    sign_in(teacher, live_server, "rina@example.com", PASSWORD)
    teacher.goto(f"{live_server}/community/events")
    teacher.fill("input[name=title]", "Workshop game kecil")
    teacher.fill("input[name=event_date]", (school_today() + timedelta(days=7)).isoformat())
    teacher.fill("input[name=start_time]", "09:00")
    teacher.fill("input[name=end_time]", "12:00")
    teacher.fill("input[name=location]", "Aula")
    teacher.fill("input[name=capacity]", "2")
    teacher.click("#event-form button[type=submit]")
    teacher.get_by_text("The event is published.").wait_for()
    event_url = teacher.url

    for email in ("andi@example.com", "dewi@example.com"):
        student = open_page(PHONE)
        sign_in(student, live_server, email, PASSWORD)
        student.goto(event_url)
        student.get_by_role("button", name="Going", exact=True).click()  # htmx: the panel is swapped in place
        student.get_by_text("Your answer:").wait_for()
        assert "Going" in student.locator("#rsvp-panel strong").inner_text()
    student.locator("#attending-count", has_text="2 of 2 places taken").wait_for()
    assert "full" in student.locator("#attending-count").inner_text()

    teacher.reload()
    answers = teacher.locator("#rsvp-panel").inner_text()
    assert "2 of 2 places taken" in answers and "Andi · Going" in answers and "Dewi · Going" in answers
