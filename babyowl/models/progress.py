from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, CreatedAt, JSONType, Timestamps, UUIDPrimaryKey, utcnow
from .checks import in_check

if TYPE_CHECKING:
    from .courses import Exercise, Lesson
    from .users import User

SUBMISSION_TYPES = ("file", "text", "link")
SUBMISSION_STATUSES = ("pending", "graded", "returned")


class LessonProgress(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "lesson_progress"
    __table_args__ = (
        UniqueConstraint("user_id", "lesson_id"),
        Index("idx_lesson_progress_user", "user_id"),
        Index("idx_lesson_progress_lesson", "lesson_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    lesson_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lessons.id"))
    completed: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    exercises_completed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total_exercises: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    completed_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
    lesson: Mapped[Lesson] = relationship()


class ExerciseProgress(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "exercise_progress"
    __table_args__ = (
        UniqueConstraint("user_id", "exercise_id"),
        Index("idx_exercise_progress_user", "user_id"),
        Index("idx_exercise_progress_exercise", "exercise_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    exercise_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exercises.id"))
    completed: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    watched_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # videos
    scroll_depth: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # materials
    completed_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
    exercise: Mapped[Exercise] = relationship()


class QuizAttempt(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "quiz_attempts"
    __table_args__ = (
        UniqueConstraint("user_id", "exercise_id", "attempt_number", name="uq_quiz_attempts_number"),
        CheckConstraint("score >= 0 AND score <= max_score", name="score_within_max"),
        Index("idx_quiz_attempts_user", "user_id"),
        Index("idx_quiz_attempts_exercise", "exercise_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    exercise_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exercises.id"))
    score: Mapped[int] = mapped_column(Integer)
    max_score: Mapped[int] = mapped_column(Integer)
    answers: Mapped[Any] = mapped_column(JSONType)
    attempt_number: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    user: Mapped[User] = relationship()
    exercise: Mapped[Exercise] = relationship()


class CodingSubmission(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "coding_submissions"
    __table_args__ = (
        UniqueConstraint("user_id", "exercise_id", "attempt_number", name="uq_coding_submissions_number"),
        CheckConstraint("score IS NULL OR max_score IS NULL OR (score >= 0 AND score <= max_score)",
                        name="score_within_max"),
        Index("idx_coding_submissions_user", "user_id"),
        Index("idx_coding_submissions_exercise", "exercise_id"),
        Index("idx_coding_submissions_passed", "passed"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    exercise_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exercises.id"))
    code: Mapped[str] = mapped_column(Text)
    # Scores are NULL for playground mode, which has no tests.
    score: Mapped[int | None] = mapped_column(Integer)
    max_score: Mapped[int | None] = mapped_column(Integer)
    test_results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    execution_time: Mapped[int | None] = mapped_column(Integer)  # milliseconds
    execution_output: Mapped[str | None] = mapped_column(Text)
    execution_error: Mapped[str | None] = mapped_column(Text)
    attempt_number: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    passed: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    # Set by the job that claimed the grading; another job leaves it alone until the claim runs out.
    grading_claimed_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
    exercise: Mapped[Exercise] = relationship()


class AssignmentSubmission(UUIDPrimaryKey, Base):
    __tablename__ = "assignment_submissions"
    __table_args__ = (
        CheckConstraint(in_check("type", SUBMISSION_TYPES), name="type"),
        CheckConstraint(in_check("status", SUBMISSION_STATUSES), name="status"),
        UniqueConstraint("student_id", "exercise_id", "version", name="uq_assignment_submissions_version"),
        CheckConstraint("grade IS NULL OR (grade >= 0 AND grade <= max_grade)", name="grade_within_max"),
        Index("idx_assignment_submissions_exercise", "exercise_id"),
        Index("idx_assignment_submissions_student", "student_id"),
        Index("idx_assignment_submissions_status", "status"),
    )

    exercise_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exercises.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    type: Mapped[str] = mapped_column(String(50))
    file_url: Mapped[str | None] = mapped_column(String(500))
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_size: Mapped[int | None] = mapped_column(Integer)
    text_content: Mapped[str | None] = mapped_column(Text)
    link_url: Mapped[str | None] = mapped_column(String(500))
    comment: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    status: Mapped[str] = mapped_column(String(50), default="pending", server_default="pending")
    grade: Mapped[int | None] = mapped_column(Integer)
    max_grade: Mapped[int | None] = mapped_column(Integer)
    feedback: Mapped[str | None] = mapped_column(Text)
    graded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    graded_at: Mapped[datetime | None]

    exercise: Mapped[Exercise] = relationship()
    student: Mapped[User] = relationship(foreign_keys=[student_id])
    grader: Mapped[User | None] = relationship(foreign_keys=[graded_by])
