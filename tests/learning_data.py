"""Builders for the learning tests: a class with unlocked lessons and exercises of every type."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from babyowl.exercise_types import get_type
from babyowl.extensions import db
from babyowl.models import ClassEnrollment, Course, Exercise, Lesson, LessonUnlock, SchoolClass, Section, User
from tests.factories import cookie_id_for, make_class, make_enrollment, make_user

HX = {"HX-Request": "true"}

QUIZ = {
    "passingScore": 60, "attemptsAllowed": 2, "shuffle": False,
    "questions": [
        {"id": "q1", "type": "single_choice", "text": "What is 2 + 3?", "points": 2,
         "options": [{"id": "a", "text": "Five"}, {"id": "b", "text": "Twenty-three"}], "correct": ["a"],
         "explanation": "Numbers are added, not glued."},
        {"id": "q2", "type": "multiple_choice", "text": "Which are Python keywords?", "points": 1,
         "options": [{"id": "a", "text": "lambda"}, {"id": "b", "text": "function"}, {"id": "c", "text": "yield"}],
         "correct": ["a", "c"], "explanation": ""},
        {"id": "q3", "type": "true_false", "text": "Lists are immutable.", "points": 1, "correct": [False],
         "explanation": "Tuples are."},
        {"id": "q4", "type": "short_answer", "text": "Which function prints text?", "points": 1,
         "correct": ["print", "print()"], "explanation": ""},
    ],
}
# The secret words of QUIZ: its correct answers. None of them may ever reach a student's page before answering.
QUIZ_RIGHT_ANSWERS = {"q1": ["a"], "q2": ["a", "c"], "q3": ["false"], "q4": ["print"]}

MATERIAL = {"format": "markdown", "source": "# Variables\n\nA variable names a value."}
VIDEO = {"source": "url", "url": "https://youtu.be/dQw4w9WgXcQ", "duration": 200, "allowManualComplete": False}
ASSIGNMENT = {"instructionsSource": "Write a program that greets.", "submissionTypes": ["file", "text", "link"],
              "allowedFileTypes": [".py", ".pdf"], "maxFileSizeMb": 1, "maxGrade": 50, "dueOffsetDays": None}


def exercise(lesson: Lesson, kind: str, content: dict, title: str | None = None, order: int | None = None):
    row = Exercise(lesson_id=lesson.id, title=title or kind.title(), type=kind,
                   content=get_type(kind).validate(content),
                   order_index=order if order is not None else len(lesson.exercises))
    db.session.add(row)
    db.session.commit()
    db.session.refresh(lesson)
    return row


def make_learning_course(lessons: int = 3, author: User | None = None) -> Course:
    course = Course(title="Python Dasar", slug=f"python-{uuid.uuid4().hex[:8]}", description="A course.",
                    status="published", created_by=author.id if author else None)
    section = Section(course=course, title="Bagian 1", order_index=0)
    for index in range(lessons):
        Lesson(section=section, title=f"Pelajaran {index + 1}", order_index=index)
    db.session.add(course)
    db.session.commit()
    return course


@dataclass
class Setup:
    school_class: SchoolClass
    teacher: User
    student: User
    enrollment: ClassEnrollment
    lessons: list[Lesson]

    def url(self, exercise_row: Exercise, action: str) -> str:
        return f"/learn/classes/{self.school_class.id}/exercises/{exercise_row.id}/{action}"

    def lesson_url(self, lesson: Lesson) -> str:
        return f"/learn/classes/{self.school_class.id}/lessons/{lesson.id}"


def make_setup(unlocked: int = 2, lessons: int = 3) -> Setup:
    teacher = make_user("instructor", full_name="Budi Guru")
    course = make_learning_course(lessons, author=teacher)
    school_class = make_class(course=course, instructor=teacher, status="active")
    student = make_user("student", full_name="Andi Siswa")
    enrollment = make_enrollment(school_class, student)
    ordered = list(course.sections[0].lessons)
    for lesson in ordered[:unlocked]:
        db.session.add(LessonUnlock(class_id=school_class.id, lesson_id=lesson.id, unlocked_by=teacher.id))
    school_class.lessons_unlocked = school_class.meetings_completed = unlocked
    db.session.commit()
    return Setup(school_class, teacher, student, enrollment, ordered)


def sign_in(client, user: User) -> None:
    with client.session_transaction() as session:
        session["_user_id"] = cookie_id_for(user)
        session["_fresh"] = True
