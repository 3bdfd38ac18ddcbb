"""Small factories: the fewest fields a valid row needs, the rest overridable."""
from __future__ import annotations

import uuid

from sqlalchemy import insert

from babyowl.extensions import db
from babyowl.models import (
    ClassEnrollment, Course, Exercise, Lesson, LessonUnlock, SchoolClass, Section, User, UserSession,
)
from babyowl.services.passwords import hash_password
from babyowl.services.school_time import school_today

PASSWORD = "Secret#123"


def _suffix() -> str:
    return uuid.uuid4().hex[:8]


def make_user(role: str = "student", password: str = PASSWORD, **fields) -> User:
    suffix = _suffix()
    user = User(email=fields.pop("email", f"{role}-{suffix}@example.com"),
                full_name=fields.pop("full_name", f"{role.title()} {suffix}"), role=role,
                password_hash=hash_password(password),
                # An established account unless a test is about new ones.
                onboarding_completed=fields.pop("onboarding_completed", True),
                email_verified=fields.pop("email_verified", True), **fields)
    db.session.add(user)
    db.session.commit()
    return user


def cookie_id_for(user: User) -> str:
    """What a browser signed in as `user` carries in its session: a live session row's id (services/sessions.py).

    Put it in a test client's session as `_user_id`; `user.get_id()` alone is not signed in.
    """
    session_id = uuid.uuid4()
    # On its own connection: committing the test's session would expire the objects the test holds.
    with db.engine.begin() as connection:
        connection.execute(insert(UserSession).values(id=session_id, user_id=user.id, user_agent="test client"))
    user.current_session_id = session_id
    return user.get_id()


def make_course(lessons: int = 2, author: User | None = None, **fields) -> Course:
    suffix = _suffix()
    course = Course(title=fields.pop("title", f"Course {suffix}"), slug=fields.pop("slug", f"course-{suffix}"),
                    description=fields.pop("description", "A course."), status=fields.pop("status", "published"),
                    created_by=author.id if author else None, **fields)
    section = Section(course=course, title="Section 1", order_index=0)
    for index in range(lessons):
        lesson = Lesson(section=section, title=f"Lesson {index + 1}", order_index=index)
        Exercise(lesson=lesson, title=f"Material {index + 1}", type="material",
                 content={"format": "markdown", "body": "Hello"}, order_index=0)
    db.session.add(course)
    db.session.commit()
    return course


def make_class(course: Course | None = None, instructor: User | None = None, **fields) -> SchoolClass:
    course = course or make_course()
    # "Today" is the school's (Asia/Jakarta): from 17:00 UTC the UTC date is already yesterday there.
    today = school_today()
    if fields.get("type", "group") == "group":  # a group class always has an enrollment deadline (CHECK)
        fields.setdefault("enrollment_deadline", fields.get("start_date") or today)
    school_class = SchoolClass(name=fields.pop("name", f"Class {_suffix()}"), course_id=course.id,
                               instructor_id=instructor.id if instructor else None,
                               type=fields.pop("type", "group"), max_capacity=fields.pop("max_capacity", 10),
                               total_meetings=fields.pop("total_meetings", 10),
                               status=fields.pop("status", "active"),
                               start_date=fields.pop("start_date", today), **fields)
    db.session.add(school_class)
    db.session.commit()
    return school_class


def make_enrollment(school_class: SchoolClass, student: User | None = None, **fields) -> ClassEnrollment:
    student = student or make_user("student")
    enrollment = ClassEnrollment(class_id=school_class.id, student_id=student.id,
                                 meeting_credits=fields.pop("meeting_credits", school_class.total_meetings), **fields)
    db.session.add(enrollment)
    db.session.commit()
    return enrollment


def make_open_lesson(student: User, instructor: User | None = None) -> Lesson:
    """A one-lesson course whose lesson the student's class (taught by `instructor`) has unlocked."""
    course = make_course(lessons=1)
    lesson = course.sections[0].lessons[0]
    school_class = make_class(course=course, instructor=instructor)
    make_enrollment(school_class, student)
    db.session.add(LessonUnlock(class_id=school_class.id, lesson_id=lesson.id))
    db.session.commit()
    return lesson
