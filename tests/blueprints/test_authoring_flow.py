"""The whole authoring story through the pages: a course, its structure, one exercise of each type,
reordering, publishing, and finding it in the catalog."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from babyowl.models import Course, Exercise, Lesson, Section
from tests.helpers import reload, text

HX = {"HX-Request": "true"}

EXERCISE_FORMS = {
    "video": {"title": "Video: Halo Python", "url": "https://youtu.be/kqtD5dpn9C8", "duration_minutes": "6",
              "duration_seconds": "30", "allow_manual_complete": "y"},
    "material": {"title": "Materi: Variabel", "format": "markdown", "body": "## Variabel\n\n`x = 5` menyimpan 5.",
                 "estimated_duration": "10"},
    "quiz": {"title": "Kuis: Variabel", "passing_score": "70", "attempts_allowed": "3",
             "questions-0-kind": "single_choice", "questions-0-text": "Apa hasil print(2 + 3)?",
             "questions-0-options": "23\n* 5\nError", "questions-0-points": "2",
             "questions-0-explanation": "Penjumlahan bilangan bulat.",
             "questions-1-kind": "true_false", "questions-1-text": "Python membedakan huruf besar.",
             "questions-1-true_false": "true", "questions-1-points": "1", "estimated_duration": "5"},
    "assignment": {"title": "Tugas: Kalkulator", "instructions": "Buat kalkulator **sederhana**.", "allow_file": "y",
                   "allow_link": "y", "allowed_file_types": ".py, .zip", "max_file_size_mb": "5",
                   "max_grade": "100", "due_offset_days": "7", "estimated_duration": "30"},
    "coding": {"title": "Latihan: kali()", "mode": "challenge", "instructions": "Tulis fungsi `kali(a, b)`.",
               "starter_code": "def kali(a, b):\n    pass\n", "solution_code": "def kali(a, b):\n    return a * b\n",
               "test_cases-0-test_name": "Contoh", "test_cases-0-input": "print(kali(5, 3))",
               "test_cases-0-expected_output": "15", "test_cases-0-points": "10",
               "test_cases-1-test_name": "Rahasia", "test_cases-1-input": "print(kali(-2, 4))",
               "test_cases-1-expected_output": "-8", "test_cases-1-is_hidden": "y", "test_cases-1-points": "10",
               "hints": "Gunakan operator *.", "time_limit": "10", "output_type": "console",
               "estimated_duration": "15"},
}


@pytest.fixture
def author(login_as):
    return login_as("instructor")


def ordered(db, model, parent_column, parent_id):
    db.session.expire_all()
    return db.session.scalars(select(model).where(parent_column == parent_id).order_by(model.order_index)).all()


def test_an_instructor_builds_publishes_and_finds_a_course(client, db, author):
    # A course through its form.
    response = client.post("/authoring/courses/new", data={
        "title": "Python untuk Remaja", "description": "Belajar Python sambil membuat game kecil.",
        "category": "Programming", "level": "beginner", "language": "indonesian", "code": "PY-T"})
    assert response.status_code == 303
    course = db.session.scalar(select(Course).where(Course.slug == "python-untuk-remaja"))

    # Two sections, three lessons.
    for title in ("Dasar", "Game"):
        assert client.post(f"/authoring/courses/{course.id}/sections", data={"title": title}).status_code == 303
    dasar, game = ordered(db, Section, Section.course_id, course.id)
    for section, title in ((dasar, "Halo"), (dasar, "Variabel"), (game, "Pygame Zero")):
        client.post(f"/authoring/sections/{section.id}/lessons", data={"title": title}, headers=HX)
    halo, variabel = ordered(db, Lesson, Lesson.section_id, dasar.id)

    # One exercise of each type in "Variabel", through each type's own form.
    for kind, data in EXERCISE_FORMS.items():
        response = client.post(f"/authoring/lessons/{variabel.id}/exercises/new/{kind}", data=data)
        assert response.status_code == 303, (kind, text(response)[:2000])
    exercises = ordered(db, Exercise, Exercise.lesson_id, variabel.id)
    assert [e.type for e in exercises] == ["video", "material", "quiz", "assignment", "coding"]
    video, material, quiz, assignment, coding = exercises
    assert video.content["videoId"] == "kqtD5dpn9C8" and video.content["duration"] == 390
    assert "<h2>Variabel</h2>" in material.content["html"]
    assert quiz.content["questions"][0]["correct"] == ["b"] and quiz.content["attemptsAllowed"] == 3
    assert assignment.content["allowedFileTypes"] == [".py", ".zip"]
    assert coding.content["maxPoints"] == 20 and coding.content["testCases"][1]["isHidden"] is True
    # A lesson lasts as long as its exercises.
    assert reload(db, variabel).estimated_duration == 7 + 10 + 5 + 30 + 15

    # Reorder: the coding exercise up once, the lesson "Variabel" above "Halo", the section "Game" first.
    client.post(f"/authoring/exercises/{coding.id}/move", data={"direction": "up"}, headers=HX)
    client.post(f"/authoring/lessons/{variabel.id}/move", data={"direction": "up"})
    client.post(f"/authoring/sections/{game.id}/move", data={"direction": "up"}, headers=HX)
    assert [e.type for e in ordered(db, Exercise, Exercise.lesson_id, variabel.id)] == [
        "video", "material", "quiz", "coding", "assignment"]
    assert [lesson.title for lesson in ordered(db, Lesson, Lesson.section_id, dasar.id)] == ["Variabel", "Halo"]
    assert [s.title for s in ordered(db, Section, Section.course_id, course.id)] == ["Game", "Dasar"]

    # Publish, then find it in the catalog by search and by filters.
    assert client.post(f"/authoring/courses/{course.id}/status", data={"status": "published"}).status_code == 303
    assert reload(db, course).status == "published" and reload(db, course).published_at is not None
    for query in ("q=remaja", "q=GAME+KECIL", "category=Programming", "level=beginner",
                  "q=python&category=Programming&level=beginner"):
        assert "Python untuk Remaja" in text(client.get(f"/catalog?{query}")), query
    assert "Python untuk Remaja" not in text(client.get("/catalog?level=advanced"))
    syllabus = text(client.get("/catalog/python-untuk-remaja"))
    assert syllabus.index("Pygame Zero") < syllabus.index("Variabel") < syllabus.index("Halo")
    assert "return a * b" not in syllabus and "kqtD5dpn9C8" not in syllabus


@pytest.fixture
def lesson(db, author):
    from tests.factories import make_course

    course = make_course(author=author, status="draft", lessons=1)
    return course.sections[0].lessons[0]


def post_exercise(client, lesson, kind, **changes):
    data = {**EXERCISE_FORMS[kind], **changes}
    return client.post(f"/authoring/lessons/{lesson.id}/exercises/new/{kind}", data=data)


def exercise_count(db, lesson) -> int:
    db.session.expire_all()
    return len(db.session.scalars(select(Exercise).where(Exercise.lesson_id == lesson.id)).all())


@pytest.mark.parametrize("kind, changes, message", [
    ("coding", {"test_cases-1-expected_output": ""}, "Test 2 needs an expected output."),
    ("quiz", {"questions-0-options": "23\n5\nError"}, "Question 1: mark the correct option."),
    ("video", {"url": "https://example.com/video"}, "Use a YouTube or Vimeo link, or upload a video file."),
    ("assignment", {"allow_file": "", "allow_link": ""}, "Choose at least one way to hand in the work."),
])
def test_bad_exercise_content_is_a_form_error_and_nothing_is_saved(client, db, lesson, kind, changes, message):
    before = exercise_count(db, lesson)
    response = post_exercise(client, lesson, kind, **changes)
    assert response.status_code == 422
    assert message in text(response)
    assert exercise_count(db, lesson) == before


def test_script_tags_never_reach_the_stored_material(client, db, lesson):
    response = post_exercise(client, lesson, "material", format="html",
                             body='<p onclick="steal()">Halo</p><script>alert(1)</script><img src=x onerror=alert(2)>')
    assert response.status_code == 303
    stored = db.session.scalars(select(Exercise).where(Exercise.title == "Materi: Variabel")).one().content
    assert "<script" not in str(stored) and "onerror" not in str(stored) and "onclick" not in str(stored)
    assert "<p>Halo</p>" in stored["html"]
    preview = text(client.get(f"/authoring/lessons/{lesson.id}/preview"))
    assert "<script>alert(1)</script>" not in preview and "Halo" in preview


def test_an_oversized_or_fake_video_upload_is_refused(make_app, db, tmp_path):
    from tests.factories import cookie_id_for, make_course, make_user

    app = make_app(VIDEO_MAX_MB=1, STORAGE_DIR=str(tmp_path / "files"))
    author = make_user("instructor")
    lesson = make_course(author=author, status="draft", lessons=1).sections[0].lessons[0]
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = cookie_id_for(author)
    base = {**EXERCISE_FORMS["video"], "url": ""}
    mp4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * (2 * 1024 * 1024)
    too_big = client.post(f"/authoring/lessons/{lesson.id}/exercises/new/video",
                          data={**base, "file": (io.BytesIO(mp4), "kelas.mp4")})
    assert too_big.status_code == 422 and "The video is larger than 1 MB." in text(too_big)
    fake = client.post(f"/authoring/lessons/{lesson.id}/exercises/new/video",
                       data={**base, "file": (io.BytesIO(b"just text, not a video"), "kelas.mp4")})
    assert fake.status_code == 422 and "This file is not an MP4, WebM or Ogg video." in text(fake)
    assert not list((tmp_path / "files").rglob("*.mp4"))


def test_adding_a_question_row_keeps_what_was_typed(client, db, lesson):
    response = post_exercise(client, lesson, "quiz", add_row="1")
    assert response.status_code == 200
    html = text(response)
    assert 'name="questions-2-text"' in html and "Apa hasil print(2 + 3)?" in html
    assert exercise_count(db, lesson) == 1  # the factory's material only


def test_editing_an_exercise_keeps_its_content_in_the_form(client, db, lesson):
    post_exercise(client, lesson, "coding")
    coding = db.session.scalars(select(Exercise).where(Exercise.type == "coding")).one()
    form = text(client.get(f"/authoring/exercises/{coding.id}"))
    assert "print(kali(5, 3))" in form and "return a * b" in form
    response = client.post(f"/authoring/exercises/{coding.id}", data={**EXERCISE_FORMS["coding"], "time_limit": "20"})
    assert response.status_code == 303 and reload(db, coding).content["timeLimit"] == 20


def test_the_preview_shows_no_answers_and_records_nothing(client, db, lesson):
    from babyowl.models import ExerciseProgress, QuizAttempt

    post_exercise(client, lesson, "quiz")
    post_exercise(client, lesson, "coding")
    html = text(client.get(f"/authoring/lessons/{lesson.id}/preview"))
    assert "Apa hasil print(2 + 3)?" in html
    assert "Penjumlahan bilangan bulat." not in html  # explanations come after answering
    assert "return a * b" not in html and "print(kali(-2, 4))" not in html  # solution, hidden test
    assert db.session.query(ExerciseProgress).count() == 0 and db.session.query(QuizAttempt).count() == 0


def test_another_instructor_cannot_touch_the_lesson(client, db, login_as):
    from tests.factories import make_course, make_user

    lesson = make_course(author=make_user("instructor"), status="draft", lessons=1).sections[0].lessons[0]
    login_as("instructor")
    assert client.get(f"/authoring/lessons/{lesson.id}").status_code == 403
    assert post_exercise(client, lesson, "material").status_code == 403
    assert client.get(f"/authoring/lessons/{lesson.id}/preview").status_code == 403
