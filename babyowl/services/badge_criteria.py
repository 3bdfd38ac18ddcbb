"""Badge criteria: the JSON rule of a badge, evaluated by the criterion class its `type` names.

A badge's `criteria` is `{"type": "<name>", ...parameters}`. Each criterion
class owns its kind entirely: it validates its parameters, and says how far a
student is (`progress` → (have, need)). Nothing else switches on a criterion's
name. The facts a criterion reads are gathered once per student and check
(`Facts`), each with one query, so checking every badge costs a handful of
statements whatever the number of badges.
"""
from __future__ import annotations

import uuid
from functools import cached_property
from typing import Any, ClassVar

from sqlalchemy import func, select

from babyowl.extensions import db
from babyowl.models import (
    ClassAttendance, ClassEnrollment, Lesson, QuizAttempt, SchoolClass, Section, UserLevel, XPTransaction,
)


class InvalidCriteria(ValueError):
    pass


class Facts:
    """What the criteria may ask about one student, each read at most once."""

    def __init__(self, user_id: uuid.UUID):
        self.user_id = user_id

    @cached_property
    def ledger_counts(self) -> dict[str, int]:
        return dict(db.session.execute(select(XPTransaction.reason, func.count()).where(
            XPTransaction.user_id == self.user_id).group_by(XPTransaction.reason)).all())

    @cached_property
    def assignments_with_xp(self) -> int:
        if not self.ledger_counts.get("assignment_graded"):
            return 0
        return db.session.scalar(select(func.count(func.distinct(XPTransaction.source_id))).where(
            XPTransaction.user_id == self.user_id, XPTransaction.reason == "assignment_graded")) or 0

    @cached_property
    def total_xp(self) -> int:
        return db.session.scalar(select(UserLevel.total_xp).where(UserLevel.user_id == self.user_id)) or 0

    @cached_property
    def perfect_quizzes(self) -> int:
        return db.session.scalar(select(func.count(func.distinct(QuizAttempt.exercise_id))).where(
            QuizAttempt.user_id == self.user_id, QuizAttempt.max_score > 0,
            QuizAttempt.score == QuizAttempt.max_score)) or 0

    @cached_property
    def longest_attendance_run(self) -> int:
        """The most consecutive meetings of one class attended (present or late) without an absence."""
        rows = db.session.execute(
            select(ClassAttendance.enrollment_id, ClassAttendance.status)
            .join(ClassEnrollment, ClassEnrollment.id == ClassAttendance.enrollment_id)
            .where(ClassEnrollment.student_id == self.user_id)
            .order_by(ClassAttendance.enrollment_id, ClassAttendance.meeting_number)).all()
        best, run, current = 0, 0, None
        for enrollment_id, status in rows:
            if enrollment_id != current:
                current, run = enrollment_id, 0
            run = run + 1 if status in ("present", "late") else 0
            best = max(best, run)
        return best

    @cached_property
    def courses_finished(self) -> int:
        lessons = (select(Section.course_id, func.count(Lesson.id).label("n"))
                   .join(Lesson, Lesson.section_id == Section.id).group_by(Section.course_id).subquery())
        return db.session.scalar(
            select(func.count(func.distinct(SchoolClass.course_id))).select_from(ClassEnrollment)
            .join(SchoolClass, SchoolClass.id == ClassEnrollment.class_id)
            .join(lessons, lessons.c.course_id == SchoolClass.course_id)
            .where(ClassEnrollment.student_id == self.user_id, ClassEnrollment.status != "withdrawn",
                   lessons.c.n > 0, ClassEnrollment.lessons_completed >= lessons.c.n)) or 0

    @cached_property
    def streak(self):
        from babyowl.services.streaks import streak_for

        return streak_for(self.user_id)


class Criterion:
    """One kind of rule. Subclasses set `name` and `parameters` ({name: minimum}) and read one fact."""

    name: ClassVar[str]
    parameters: ClassVar[dict[str, int]] = {}

    def __init__(self, spec: dict[str, Any]):
        self.spec = self.validate(spec)

    @classmethod
    def validate(cls, spec: dict[str, Any]) -> dict[str, Any]:
        clean = {"type": cls.name}
        for key, minimum in cls.parameters.items():
            value = spec.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise InvalidCriteria(f"{cls.name}: {key} must be an integer >= {minimum}")
            clean[key] = value
        return clean

    @property
    def need(self) -> int:
        return self.spec.get("count", 1)

    def have(self, facts: Facts) -> int:
        raise NotImplementedError

    def progress(self, facts: Facts) -> tuple[int, int]:
        return min(self.have(facts), self.need), self.need

    def met(self, facts: Facts) -> bool:
        have, need = self.progress(facts)
        return have >= need


class LedgerCount(Criterion):
    parameters = {"count": 1}
    reasons: ClassVar[tuple[str, ...]]

    def have(self, facts: Facts) -> int:
        return sum(facts.ledger_counts.get(reason, 0) for reason in self.reasons)


class ExercisesCompleted(LedgerCount):
    """Exercises completed of any kind (materials, videos, quizzes passed, coding passed)."""
    name = "exercises_completed"
    reasons = ("exercise_completed", "quiz_passed", "coding_passed")


class LessonsCompleted(LedgerCount):
    name = "lessons_completed"
    reasons = ("lesson_completed",)


class CodingPassed(LedgerCount):
    name = "coding_passed"
    reasons = ("coding_passed",)


class AssignmentsGraded(LedgerCount):
    """Assignments that earned XP (the first one is the "first assignment" badge)."""
    name = "assignments_graded"

    def have(self, facts: Facts) -> int:
        return facts.assignments_with_xp


class PerfectQuiz(Criterion):
    name = "perfect_quiz"
    parameters = {"count": 1}

    def have(self, facts: Facts) -> int:
        return facts.perfect_quizzes


class AttendanceRun(Criterion):
    """N consecutive meetings of a class attended without an absence."""
    name = "attendance_run"
    parameters = {"meetings": 1}

    @property
    def need(self) -> int:
        return self.spec["meetings"]

    def have(self, facts: Facts) -> int:
        return facts.longest_attendance_run


class DailyStreak(Criterion):
    name = "daily_streak"
    parameters = {"days": 2}

    @property
    def need(self) -> int:
        return self.spec["days"]

    def have(self, facts: Facts) -> int:
        return facts.streak.days


class WeeklyStreak(Criterion):
    name = "weekly_streak"
    parameters = {"weeks": 2}

    @property
    def need(self) -> int:
        return self.spec["weeks"]

    def have(self, facts: Facts) -> int:
        return facts.streak.weeks


class CourseFinished(Criterion):
    """Every lesson of a course completed."""
    name = "course_finished"
    parameters = {"count": 1}

    def have(self, facts: Facts) -> int:
        return facts.courses_finished


class LevelReached(Criterion):
    name = "level_reached"
    parameters = {"level": 2}

    @property
    def need(self) -> int:
        return self.spec["level"]

    def have(self, facts: Facts) -> int:
        from babyowl.services.xp import level_info

        return level_info(facts.total_xp).level


class Never(Criterion):
    """A retired badge: nobody earns it any more (those who hold it keep it)."""
    name = "never"

    def progress(self, facts: Facts) -> tuple[int, int]:
        return 0, 1


REGISTRY: dict[str, type[Criterion]] = {cls.name: cls for cls in (
    ExercisesCompleted, LessonsCompleted, CodingPassed, AssignmentsGraded, PerfectQuiz, AttendanceRun, DailyStreak,
    WeeklyStreak, CourseFinished, LevelReached, Never)}


def criterion_for(spec: dict[str, Any] | None) -> Criterion:
    """The criterion a badge's JSON names; InvalidCriteria for an unknown type or bad parameters."""
    if not isinstance(spec, dict) or spec.get("type") not in REGISTRY:
        raise InvalidCriteria(f"unknown criterion: {spec!r}")
    return REGISTRY[spec["type"]](spec)
