"""Progress pages: the student's own (per class) and the instructor's students × lessons grid."""
from __future__ import annotations

import pytest
from sqlalchemy import insert

from babyowl.models import ClassEnrollment, Exercise, ExerciseProgress, LessonUnlock, User
from babyowl.services.classes import course_lessons
from tests.factories import make_class, make_user
from tests.helpers import text
from tests.learning_data import ASSIGNMENT, MATERIAL, QUIZ, exercise, make_learning_course, make_setup, sign_in


@pytest.fixture
def setup(db):
    return make_setup(unlocked=2, lessons=3)


def test_the_student_sees_lessons_exercises_quiz_scores_and_grades(client, db, setup):
    material = exercise(setup.lessons[0], "material", MATERIAL, "Bacaan")
    quiz = exercise(setup.lessons[0], "quiz", QUIZ, "Kuis satu")
    exercise(setup.lessons[1], "assignment", ASSIGNMENT, "Tugas dua")
    exercise(setup.lessons[2], "quiz", QUIZ, "Kuis terkunci")
    sign_in(client, setup.student)
    client.post(setup.url(material, "complete"))
    client.post(setup.url(quiz, "quiz"), data={"q-q1": "b"})
    client.post(setup.url(quiz, "quiz"), data={"q-q1": "a", "q-q2": ["a", "c"], "q-q3": "false", "q-q4": "print"})
    page = text(client.get("/learn/progress"))
    assert setup.school_class.name in page and "Python Dasar" in page
    assert "1 / 3" in page  # lessons completed
    assert "2 / 4" in page  # exercises completed, of every lesson's
    assert "Kuis satu" in page and "5 / 5" in page and "passed" in page
    assert "Tugas dua" in page and "not handed in" in page
    assert "Kuis terkunci" not in page  # a quiz of a locked lesson is not listed
    mine = text(client.get("/learn"))
    assert "1 of 3 lessons completed" in mine and "Continue: Pelajaran 2" in mine


def test_the_instructor_sees_the_class_grid(client, db, setup):
    material = exercise(setup.lessons[0], "material", MATERIAL)
    exercise(setup.lessons[0], "material", MATERIAL, "Dua")
    sign_in(client, setup.student)
    client.post(setup.url(material, "complete"))
    sign_in(client, setup.teacher)
    page = text(client.get(f"/classes/{setup.school_class.id}/progress"))
    assert "Andi Siswa" in page and "1/2" in page and "3 🔒" in page
    assert text(client.get(f"/classes/{setup.school_class.id}")).count(f"/classes/{setup.school_class.id}/progress")
    sign_in(client, make_user("instructor"))
    assert client.get(f"/classes/{setup.school_class.id}/progress").status_code == 404
    sign_in(client, setup.student)
    assert client.get(f"/classes/{setup.school_class.id}/progress").status_code == 403


def _school(db, students: int, lessons: int):
    """A class of `students` × `lessons` (two exercises each), everything unlocked, some of it done."""
    teacher = make_user("instructor")
    course = make_learning_course(lessons, author=teacher)
    school_class = make_class(course=course, instructor=teacher, max_capacity=students)
    lesson_rows = course_lessons(course.id)
    exercise_ids = []
    for lesson in lesson_rows:
        for index in range(2):
            row = Exercise(lesson_id=lesson.id, title=f"E{index}", type="material", content=MATERIAL,
                           order_index=index)
            db.session.add(row)
            db.session.flush()
            exercise_ids.append(row.id)
        db.session.add(LessonUnlock(class_id=school_class.id, lesson_id=lesson.id))
    user_ids = []
    for n in range(students):
        user = User(email=f"s{n}-{school_class.id.hex[:6]}@example.com", full_name=f"Siswa {n:02d}", role="student",
                    password_hash="x")
        db.session.add(user)
        db.session.flush()
        user_ids.append(user.id)
        db.session.add(ClassEnrollment(class_id=school_class.id, student_id=user.id, meeting_credits=10))
    db.session.execute(insert(ExerciseProgress), [
        {"user_id": user_id, "exercise_id": exercise_id, "completed": True}
        for user_id in user_ids for exercise_id in exercise_ids[: (len(exercise_ids) // 2)]])
    db.session.commit()
    return teacher, school_class


def test_the_class_grid_needs_a_fixed_number_of_queries(client, db, count_queries):
    counts = {}
    for students, lessons in ((3, 2), (30, 20)):
        teacher, school_class = _school(db, students, lessons)
        sign_in(client, teacher)
        with count_queries() as statements:
            response = client.get(f"/classes/{school_class.id}/progress")
        assert response.status_code == 200
        assert text(response).count("Siswa ") >= students
        counts[(students, lessons)] = len(statements)
    assert counts[(3, 2)] == counts[(30, 20)], counts
    assert counts[(30, 20)] <= 10, counts
