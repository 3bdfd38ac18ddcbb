"""The lesson player: exercises in order with their state, navigation, and completing materials and videos."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from babyowl.extensions import db as _db
from babyowl.models import ExerciseProgress, LessonProgress
from tests.factories import make_enrollment, make_user
from tests.helpers import flashes, reload, text
from tests.learning_data import ASSIGNMENT, HX, MATERIAL, QUIZ, VIDEO, exercise, make_setup, sign_in


@pytest.fixture
def setup(db):
    return make_setup(unlocked=2, lessons=3)


@pytest.fixture
def first(setup):
    """The first lesson: a material, then a video."""
    lesson = setup.lessons[0]
    return {"material": exercise(lesson, "material", MATERIAL, "Apa itu variabel"),
            "video": exercise(lesson, "video", VIDEO, "Video variabel")}


@pytest.fixture
def student(client, setup):
    sign_in(client, setup.student)
    return client


def progress_of(db, user, row):
    db.session.expire_all()
    return db.session.scalar(select(ExerciseProgress).where(ExerciseProgress.user_id == user.id,
                                                            ExerciseProgress.exercise_id == row.id))


def test_the_lesson_page_lists_exercises_in_order_with_state_bar_and_navigation(student, db, setup, first):
    second = setup.lessons[1]
    exercise(second, "quiz", QUIZ, "Kuis")
    page = text(student.get(setup.lesson_url(setup.lessons[0])))
    assert page.index("Apa itu variabel") < page.index("Video variabel")
    assert "Exercise 1 of 2" in page and "Exercise 2 of 2" in page
    assert "0 of 2 exercises done" in page and page.count("Not done yet") == 2
    assert f'href="{setup.lesson_url(second)}"' in page  # next lesson: unlocked
    middle = text(student.get(setup.lesson_url(second)))
    assert f'href="{setup.lesson_url(setup.lessons[0])}"' in middle and "opens after its meeting" in middle


def test_the_lesson_page_runs_the_same_four_statements_for_3_or_8_exercises(student, db, setup, first,
                                                                            count_queries):
    lesson = setup.lessons[0]
    exercise(lesson, "quiz", QUIZ, "Kuis 1")
    url = setup.lesson_url(lesson)

    def statements():
        db.session.expire_all()
        with count_queries() as seen:
            page = text(student.get(url))
        return page, len(seen)

    page, before = statements()
    assert "Exercise 3 of 3" in page
    for n in range(2, 7):
        exercise(lesson, "quiz", QUIZ, f"Kuis {n}")
    page, after = statements()
    assert "Exercise 8 of 8" in page and "Kuis 6" in page
    # The session; the plan with the class and the enrollment; the exercises with their progress; quiz attempts.
    assert after == before == 4


def test_the_class_lesson_link_takes_a_student_to_the_player(student, setup, first):
    response = student.get(f"/classes/{setup.school_class.id}/lessons/{setup.lessons[0].id}")
    assert response.status_code == 303 and response.headers["Location"] == setup.lesson_url(setup.lessons[0])


def test_a_locked_lesson_or_another_class_is_refused(client, db, setup, first):
    locked = setup.lessons[2]
    exercise(locked, "material", MATERIAL)
    sign_in(client, setup.student)
    assert client.get(setup.lesson_url(locked)).status_code == 403
    outsider = make_user("student")
    sign_in(client, outsider)
    assert client.get(setup.lesson_url(setup.lessons[0])).status_code == 404


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_reading_to_the_end_completes_a_material(student, db, setup, first, htmx):
    material = first["material"]
    page = text(student.get(setup.lesson_url(setup.lessons[0])))
    assert 'hx-trigger="intersect once"' in page and setup.url(material, "progress") in page
    response = student.post(setup.url(material, "progress"), data={"scroll_depth": "100"},
                            headers=HX if htmx else {})
    if htmx:
        fragment = text(response)
        assert response.status_code == 200 and f'id="status-{material.id}"' in fragment and "✓ Done" in fragment
        assert 'id="lesson-progress" class="lesson-progress" hx-swap-oob="true"' in fragment
        assert "1 of 2 exercises done" in fragment and "<html" not in fragment
    else:
        assert response.status_code == 303 and response.headers["Location"].endswith(f"#exercise-{material.id}")
    row = progress_of(db, setup.student, material)
    assert (row.completed, row.scroll_depth) == (True, 100) and row.completed_at is not None
    assert reload(db, setup.enrollment).exercises_completed == 1


def test_half_way_down_a_material_is_not_done(student, db, setup, first):
    response = student.post(setup.url(first["material"], "progress"), data={"scroll_depth": "50"}, headers=HX)
    assert response.status_code == 200 and "Not done yet" in text(response)
    assert progress_of(db, setup.student, first["material"]).completed is False


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_mark_as_done_completes_a_material(student, db, setup, first, htmx):
    response = student.post(setup.url(first["material"], "complete"), headers=HX if htmx else {})
    if htmx:
        assert response.status_code == 200 and "✓ Done" in text(response)
    else:
        assert response.status_code == 303
        assert "“Apa itu variabel” is done." in flashes(student.get(response.headers["Location"]))
    assert progress_of(db, setup.student, first["material"]).completed


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_a_video_cannot_be_marked_done_unless_the_instructor_allows_it(student, db, setup, first, htmx):
    response = student.post(setup.url(first["video"], "complete"), headers=HX if htmx else {})
    message = "Watch the video to complete it: it counts once you have watched 90%."
    # htmx gets the status block, a plain post the lesson page again, the message at the exercise either way.
    assert response.status_code == 409 and message in text(response)
    if not htmx:
        assert "<h1>Lesson 1" in response.get_data(as_text=True)
    assert progress_of(db, setup.student, first["video"]) is None
    allowed = exercise(setup.lessons[0], "video", {**VIDEO, "allowManualComplete": True}, "Boleh ditandai")
    assert "Mark as done" in text(student.get(setup.lesson_url(setup.lessons[0])))
    assert student.post(setup.url(allowed, "complete"), headers=HX).status_code == 200
    assert progress_of(db, setup.student, allowed).completed


def _rewind(db, user, row, seconds):
    """Pretend the previous report was `seconds` ago."""
    progress = progress_of(db, user, row)
    progress.updated_at = progress.updated_at - timedelta(seconds=seconds)
    db.session.commit()


def test_watched_seconds_add_up_and_complete_the_video_at_ninety_percent(student, db, setup, first):
    video = first["video"]  # 200 seconds
    page = text(student.get(setup.lesson_url(setup.lessons[0])))
    assert "data-video-progress" in page and "js/video-progress.js" in page and "enablejsapi=1" in page
    assert student.post(setup.url(video, "progress"), data={"seconds": "15"}, headers=HX).status_code == 200
    for _ in range(10):
        _rewind(db, setup.student, video, 16)
        student.post(setup.url(video, "progress"), data={"seconds": "16"}, headers=HX)
    row = progress_of(db, setup.student, video)
    assert (row.watched_seconds, row.completed) == (175, False)
    _rewind(db, setup.student, video, 16)
    response = student.post(setup.url(video, "progress"), data={"seconds": "16"}, headers=HX)
    assert "✓ Done" in text(response)
    row = progress_of(db, setup.student, video)
    assert (row.watched_seconds, row.completed) == (191, True)


def test_a_report_cannot_claim_more_than_the_time_that_passed(student, db, setup, first):
    video = first["video"]
    student.post(setup.url(video, "progress"), data={"seconds": "600"}, headers=HX)
    assert progress_of(db, setup.student, video).watched_seconds == 30  # the slack of a first report
    student.post(setup.url(video, "progress"), data={"seconds": "600"}, headers=HX)
    assert progress_of(db, setup.student, video).watched_seconds <= 62
    assert progress_of(db, setup.student, video).completed is False


@pytest.mark.parametrize("data", [{}, {"seconds": "-5"}, {"seconds": "lots"}, {"seconds": "99999999999999999999"},
                                  {"scroll_depth": "100"}])
def test_bad_video_reports_are_refused_and_change_nothing(student, db, setup, first, data):
    response = student.post(setup.url(first["video"], "progress"), data=data, headers=HX)
    assert response.status_code == 422 and "Send the seconds watched as a whole number" in text(response)
    assert progress_of(db, setup.student, first["video"]) is None


def test_bad_material_reports_are_refused(student, db, setup, first):
    response = student.post(setup.url(first["material"], "progress"), data={"scroll_depth": "101"})
    page = text(response)
    assert response.status_code == 422 and "<html" in page  # a plain post: the lesson page again, with the message
    assert '<p class="form-error" role="alert">Send how far you read as a whole number from 0 to 100.</p>' in page
    assert progress_of(db, setup.student, first["material"]) is None


def test_a_lesson_is_complete_when_all_its_exercises_are(student, db, setup, first):
    student.post(setup.url(first["material"], "complete"))
    lesson_row = db.session.scalar(select(LessonProgress))
    assert (lesson_row.completed, lesson_row.exercises_completed, lesson_row.total_exercises) == (False, 1, 2)
    _db.session.add(ExerciseProgress(user_id=setup.student.id, exercise_id=first["video"].id, watched_seconds=190))
    db.session.commit()
    _rewind(db, setup.student, first["video"], 60)
    student.post(setup.url(first["video"], "progress"), data={"seconds": "10"})
    db.session.expire_all()
    lesson_row = db.session.scalar(select(LessonProgress))
    assert (lesson_row.completed, lesson_row.exercises_completed) == (True, 2) and lesson_row.completed_at
    enrollment = reload(db, setup.enrollment)
    assert (enrollment.lessons_completed, enrollment.exercises_completed) == (1, 2)
    assert "2 of 2 exercises done" in text(student.get(setup.lesson_url(setup.lessons[0])))


def test_a_doubled_completion_counts_once(student, db, setup, first):
    for _ in range(2):
        student.post(setup.url(first["material"], "complete"), headers=HX)
    assert db.session.scalar(select(func.count()).select_from(ExerciseProgress)) == 1
    assert reload(db, setup.enrollment).exercises_completed == 1


ACTIONS = [("material", "complete", {}), ("material", "progress", {"scroll_depth": "100"}),
           ("quiz", "quiz", {"q-q1": "a"}), ("assignment", "submissions", {"kind": "text", "text": "Halo"})]


@pytest.mark.parametrize("kind, action, data", ACTIONS)
def test_every_action_refuses_a_locked_lesson(client, db, setup, kind, action, data):
    content = {"material": MATERIAL, "quiz": QUIZ, "assignment": ASSIGNMENT}[kind]
    locked = exercise(setup.lessons[2], kind, content)
    sign_in(client, setup.student)
    for headers in ({}, HX):
        response = client.post(setup.url(locked, action), data=data, headers=headers)
        assert response.status_code == 403 and "This lesson is still locked." in text(response)
    assert db.session.scalar(select(func.count()).select_from(ExerciseProgress)) == 0


@pytest.mark.parametrize("kind, action, data", ACTIONS)
def test_every_action_refuses_a_student_who_is_not_enrolled(client, db, setup, kind, action, data):
    content = {"material": MATERIAL, "quiz": QUIZ, "assignment": ASSIGNMENT}[kind]
    row = exercise(setup.lessons[0], kind, content)
    sign_in(client, make_user("student"))
    assert client.post(setup.url(row, action), data=data, headers=HX).status_code == 403
    withdrawn = make_enrollment(setup.school_class, make_user("student"), status="withdrawn")
    sign_in(client, withdrawn.student)
    assert client.post(setup.url(row, action), data=data).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(ExerciseProgress)) == 0


def test_an_exercise_of_another_course_is_not_found(client, db, setup):
    other = make_setup(unlocked=1)
    row = exercise(other.lessons[0], "material", MATERIAL)
    sign_in(client, setup.student)
    assert client.post(setup.url(row, "complete")).status_code == 404
    assert client.post(f"/learn/classes/{setup.school_class.id}/exercises/not-a-uuid/complete").status_code == 404


def test_the_player_speaks_indonesian(student, db, setup, first):
    quiz = exercise(setup.lessons[0], "quiz", QUIZ, "Kuis")
    exercise(setup.lessons[0], "assignment", ASSIGNMENT, "Tugas")
    student.set_cookie("babyowl_lang", "id")
    page = text(student.get(setup.lesson_url(setup.lessons[0])))
    assert "0 dari 4 latihan selesai" in page and "Belum selesai" in page and "Kirim jawaban" in page
    assert "Video dihitung selesai setelah kamu menonton 90% darinya." in page and "Kirim tugasmu" in page
    result = text(student.post(setup.url(quiz, "quiz"), data={"q-q1": "b"}, headers=HX))
    assert "Belum lulus: kamu perlu 60% dari poin." in result and "Percobaan 1: 0 dari 5 poin" in result


def test_exercises_completed_at_the_same_moment_are_all_counted(app, db, setup):
    """Two end markers in view at once (or two tabs): parallel completions, every count kept."""
    import threading

    from tests.helpers import signed_in_client

    rows = [exercise(setup.lessons[0], "material", MATERIAL, f"Bacaan {n}") for n in range(4)]
    urls = [setup.url(row, "progress") for row in rows]
    clients = [signed_in_client(app, setup.student) for _ in urls]
    barrier, statuses = threading.Barrier(len(urls)), []

    def read_to_end(client, url):
        barrier.wait()
        statuses.append(client.post(url, data={"scroll_depth": "100"}, headers=HX).status_code)

    threads = [threading.Thread(target=read_to_end, args=pair) for pair in zip(clients, urls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * 4
    db.session.expire_all()
    lesson_row = db.session.scalar(select(LessonProgress))
    assert (lesson_row.exercises_completed, lesson_row.total_exercises, lesson_row.completed) == (4, 4, True)
    enrollment = reload(db, setup.enrollment)
    assert (enrollment.exercises_completed, enrollment.lessons_completed) == (4, 1)


def test_handing_in_with_htmx_swaps_the_panel_without_repeating_the_instructions(student, db, setup):
    assignment = exercise(setup.lessons[0], "assignment", ASSIGNMENT, "Tugas sapaan")
    response = student.post(setup.url(assignment, "submissions"), data={"kind": "text", "text": "print('Halo')"},
                            headers=HX)
    fragment = response.get_data(as_text=True)
    # htmx swaps the panel's outerHTML with this: anything outside the panel would be added to the page again.
    assert response.status_code == 200
    assert fragment.lstrip().startswith(f'<div class="assignment-panel" id="assignment-{assignment.id}"')
    assert fragment.count("Write a program that greets.") == 1


def test_every_exercise_type_is_played_through_the_one_panel_block(student, db, setup, first):
    # The page asks each type for its player; a quiz and an assignment show their own panels in that block.
    exercise(setup.lessons[0], "quiz", QUIZ, "Kuis")
    exercise(setup.lessons[0], "assignment", ASSIGNMENT, "Tugas")
    page = text(student.get(setup.lesson_url(setup.lessons[0])))
    assert 'class="quiz-panel"' in page and 'class="assignment-panel"' in page
    assert "data-video-progress" in page and 'class="material-end"' in page


def test_a_text_hand_in_has_no_file_to_download(student, db, setup):
    from babyowl.models import AssignmentSubmission

    assignment = exercise(setup.lessons[0], "assignment", ASSIGNMENT, "Tugas sapaan")
    student.post(setup.url(assignment, "submissions"), data={"kind": "text", "text": "print('Halo')"})
    submission = db.session.scalars(select(AssignmentSubmission)).one()
    response = student.get(f"/learn/submissions/{submission.id}/file")
    assert response.status_code == 404 and "This submission has no file." in text(response)
