"""The community on a phone, in a real browser: sharing a turtle program, likes, comments, notifications, events.

The closest the code allows to "posting a turtle drawing": a coding submission stores the program and its
result, not the drawing (the coding page draws the turtle's record in the browser), so the student shares the
passed program (shown read-only with the post) and attaches a picture of the drawing.
"""
from __future__ import annotations

from datetime import timedelta

from PIL import Image, ImageDraw

from babyowl.models import CodingSubmission, Exercise
from babyowl.services.school_time import school_today
from tests.browser.conftest import PHONE, sign_in
from tests.factories import PASSWORD, make_class, make_course, make_enrollment, make_user

TURTLE = "import turtle\nt = turtle.Turtle()\nfor _ in range(5):\n    t.forward(100)\n    t.right(144)\n"


def star_png(path):
    image = Image.new("RGB", (200, 200), "white")
    ImageDraw.Draw(image).polygon([(100, 10), (130, 190), (10, 70), (190, 70), (70, 190)], outline="blue", width=3)
    image.save(path, "PNG")
    return str(path)


def test_a_student_shares_a_turtle_program_a_classmate_likes_and_comments_the_author_is_told(
        live_server, open_page, db, tmp_path):
    teacher = make_user("instructor", email="guru@example.com")
    school_class = make_class(instructor=teacher, course=make_course(lessons=1))
    andi = make_user("student", email="andi@example.com", full_name="Andi Pratama")
    dewi = make_user("student", email="dewi@example.com", full_name="Dewi Lestari")
    make_enrollment(school_class, andi)
    make_enrollment(school_class, dewi)
    lesson = school_class.course.sections[0].lessons[0]
    exercise = Exercise(lesson_id=lesson.id, title="Bintang kura-kura", type="coding", order_index=1, content={
        "mode": "playground", "starterCode": "import turtle", "testCases": [], "timeLimit": 5})
    db.session.add(exercise)
    db.session.flush()
    submission = CodingSubmission(user_id=andi.id, exercise_id=exercise.id, code=TURTLE, passed=True, score=1,
                                  max_score=1)
    db.session.add(submission)
    db.session.commit()

    author = open_page(PHONE)
    sign_in(author, live_server, "andi@example.com", PASSWORD)
    author.goto(f"{live_server}/submissions/{submission.id}")
    author.get_by_role("link", name="Share in the community").click()
    author.wait_for_url(f"{live_server}/community?share={submission.id}#post-form")
    assert author.input_value("select[name=submission]") == str(submission.id)
    author.fill("textarea[name=content]", "Bintang pertamaku dengan **turtle**!")
    author.select_option("select[name=where]", label=f"Class: {school_class.name}")
    author.set_input_files("input[name=images]", star_png(tmp_path / "bintang.png"))
    author.click("#post-form button[type=submit]")
    author.get_by_text("Posted.").wait_for()
    post = author.locator("article.post").first
    assert "Bintang pertamaku dengan turtle!" in post.inner_text()
    assert "t.right(144)" in post.locator("pre.code").inner_text()
    assert post.locator(".post-images img").evaluate("img => img.complete && img.naturalWidth") == 200
    assert author.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    friend = open_page(PHONE)
    sign_in(friend, live_server, "dewi@example.com", PASSWORD)
    friend.goto(f"{live_server}/community?show=classes")
    card = friend.locator("article.post", has_text="Bintang pertamaku")
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
