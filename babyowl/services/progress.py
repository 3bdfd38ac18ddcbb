"""Progress: exercise_progress and lesson_progress rows, the enrollment counters, and the progress reports.

The counters are recomputed from the exercise rows inside the transaction that
changed them, never incremented: a doubled request or an exercise added to a
lesson later cannot make them drift. Every change to one student's work on one
exercise first locks that student's progress row, so two tabs (or a
double-click) take turns.
"""
from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Integer, Uuid, and_, bindparam, func, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from babyowl.extensions import db
from babyowl.models import (
    AssignmentSubmission, ClassEnrollment, Exercise, ExerciseProgress, Lesson, LessonProgress, LessonUnlock,
    QuizAttempt, SchoolClass, Section, User,
)
from babyowl.exercise_types import REGISTRY, get_type
from babyowl.exercise_types.base import StudentWork
from babyowl.models.base import utcnow


def _locked_or_new(query, make, params: dict):
    """The row `query` finds (with `params`), created with `make()` if missing, locked until the commit.

    A missing row is inserted with ON CONFLICT DO NOTHING: a parallel request
    inserting the same row waits on the unique index, inserts nothing, and then
    locks the row the other one made (three statements, where a savepoint made five).
    """
    row = db.session.scalars(query, params).first()
    if row is None:
        new = make()
        values = {column.key: getattr(new, column.key) for column in sa_inspect(type(new)).column_attrs
                  if getattr(new, column.key) is not None}
        dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
        db.session.execute(dialect.insert(type(new)).values(**values).on_conflict_do_nothing())
        row = db.session.scalars(query, params).one()
    return row


_ENROLLMENTS = ClassEnrollment.__table__


@functools.cache
def _statements() -> dict:
    """The statements of a progress write, built once with their parameters bound per call: building the
    subqueries cost more CPU than running them (issue 22: a quiz submit)."""
    user_id, lesson_id = bindparam("user_id", type_=Uuid), bindparam("lesson_id", type_=Uuid)
    course_id = bindparam("course_id", type_=Uuid)

    def locked(model, *where):
        return select(model).where(*where).with_for_update().execution_options(populate_existing=True)

    exercise_ids = select(Exercise.id).where(Exercise.lesson_id == lesson_id)
    total_of_lesson = select(func.count()).select_from(Exercise).where(Exercise.lesson_id == lesson_id)
    done_in_lesson = select(func.count()).select_from(ExerciseProgress).where(
        ExerciseProgress.user_id == user_id, ExerciseProgress.completed.is_(True),
        ExerciseProgress.exercise_id.in_(exercise_ids))
    course_lessons = select(Lesson.id).join(Section).where(Section.course_id == course_id)
    return {
        "exercise_row": locked(ExerciseProgress, ExerciseProgress.user_id == user_id,
                               ExerciseProgress.exercise_id == bindparam("exercise_id", type_=Uuid)),
        "lesson_row": locked(LessonProgress, LessonProgress.user_id == user_id, LessonProgress.lesson_id == lesson_id),
        # The lesson's counts ride on the statement that locks the enrollments: it starts after the lesson
        # row is locked, so it sees every exercise of the lesson finished before (issue 22: 7 reads became 3).
        # Plain columns: the counters are compared here and written by `enrollment_counters` only when they move.
        "enrollments": select(_ENROLLMENTS.c.id, _ENROLLMENTS.c.class_id, _ENROLLMENTS.c.status,
                              _ENROLLMENTS.c.lessons_completed, _ENROLLMENTS.c.exercises_completed,
                              total_of_lesson.scalar_subquery(), done_in_lesson.scalar_subquery())
        .join(SchoolClass).where(_ENROLLMENTS.c.student_id == user_id, _ENROLLMENTS.c.status != "withdrawn",
                                 SchoolClass.course_id == course_id)
        .with_for_update(of=_ENROLLMENTS),
        "enrollment_counters": update(_ENROLLMENTS)
        .where(_ENROLLMENTS.c.id.in_(bindparam("enrollment_ids", type_=Uuid, expanding=True)))
        .values(lessons_completed=bindparam("lessons_done", type_=Integer),
                exercises_completed=bindparam("exercises_done", type_=Integer)),
        "lesson_numbers": select(total_of_lesson.scalar_subquery(), done_in_lesson.scalar_subquery()),
        "course_numbers": select(
            select(func.count()).select_from(LessonProgress).where(
                LessonProgress.user_id == user_id, LessonProgress.completed.is_(True),
                LessonProgress.lesson_id.in_(course_lessons)).scalar_subquery(),
            select(func.count()).select_from(ExerciseProgress).join(Exercise).where(
                ExerciseProgress.user_id == user_id, ExerciseProgress.completed.is_(True),
                Exercise.lesson_id.in_(course_lessons)).scalar_subquery()),
    }


def locked_progress(user_id: uuid.UUID, exercise_id: uuid.UUID) -> ExerciseProgress:
    """The student's progress row for the exercise, created if needed, locked until the commit."""
    return _locked_or_new(
        _statements()["exercise_row"],
        lambda: ExerciseProgress(user_id=user_id, exercise_id=exercise_id, completed=False, watched_seconds=0,
                                 scroll_depth=0),
        {"user_id": user_id, "exercise_id": exercise_id})


def set_completed(progress: ExerciseProgress, completed: bool) -> None:
    if completed and not progress.completed:
        progress.completed, progress.completed_at = True, utcnow()
    elif not completed and progress.completed:
        progress.completed, progress.completed_at = False, None


def _change(row, **values) -> None:
    """Set only the values that differ: a row given its own values again is not dirty, so the flush and the
    commit skip the unit of work's comparisons (most quiz attempts change no counter, issue 22)."""
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)


def refresh_counters(user_id: uuid.UUID, lesson: Lesson, class_id: uuid.UUID | None = None) -> LessonProgress:
    """Make the lesson's progress row and the student's enrollment counters true again (no commit).

    Rows are locked before they are counted (lesson row, then enrollments), so two
    exercises completed at the same moment, in two tabs or two visible end markers,
    are counted one after the other and neither count is lost.
    """
    db.session.flush()
    statements = _statements()
    course_id = lesson.section.course_id
    params = {"user_id": user_id, "lesson_id": lesson.id, "course_id": course_id}
    row = _locked_or_new(
        statements["lesson_row"],
        lambda: LessonProgress(user_id=user_id, lesson_id=lesson.id, completed=False, exercises_completed=0,
                               total_exercises=0), params)
    locked = db.session.execute(statements["enrollments"], params).all()
    if locked:
        total, done = locked[0][5], locked[0][6]
    else:  # no enrollment in the course left to count for: the lesson's own numbers still hold
        total, done = db.session.execute(statements["lesson_numbers"], params).one()
    complete = total > 0 and done >= total
    _change(row, exercises_completed=done, total_exercises=total)
    newly_completed = complete and not row.completed
    if complete and not row.completed:
        row.completed, row.completed_at = True, utcnow()
    elif not complete:
        _change(row, completed=False, completed_at=None)
    db.session.flush()

    lessons_done, exercises_done = db.session.execute(statements["course_numbers"], params).one()
    moved = [e.id for e in locked if (e.lessons_completed, e.exercises_completed) != (lessons_done, exercises_done)]
    if moved:
        db.session.execute(statements["enrollment_counters"], {
            "enrollment_ids": moved, "lessons_done": lessons_done, "exercises_done": exercises_done})
        for enrollment_id in moved:  # an enrollment this request already holds (its place) shows the new counts
            held = db.session.identity_map.get(identity_key(ClassEnrollment, enrollment_id))
            if held is not None:
                set_committed_value(held, "lessons_completed", lessons_done)
                set_committed_value(held, "exercises_completed", exercises_done)
    if newly_completed:  # XP once per lesson (the ledger's key), counted in the class the work was done in
        from babyowl.services import xp

        active = [e.class_id for e in locked if e.status == "active"]
        xp.for_lesson(user_id, lesson.id, class_id if class_id in active or not active else active[0])
    return row



# ---------------------------------------------------------------------------
# Reports

@dataclass
class LessonCell:
    lesson: Lesson
    unlocked: bool
    done: int
    total: int

    @property
    def completed(self) -> bool:
        return self.total > 0 and self.done >= self.total

    @property
    def percent(self) -> int:
        return self.done * 100 // self.total if self.total else 0


@dataclass
class StudentRow:
    enrollment: ClassEnrollment
    cells: list[LessonCell]

    @property
    def lessons_completed(self) -> int:
        return sum(1 for cell in self.cells if cell.completed)

    @property
    def exercises_completed(self) -> int:
        return sum(cell.done for cell in self.cells)


@dataclass
class ClassProgress:
    school_class: SchoolClass
    lessons: list[tuple[Lesson, bool, int]]  # lesson, unlocked, number of exercises
    rows: list[StudentRow]


def _lessons_with_counts(course_id: uuid.UUID) -> list[tuple[Lesson, int]]:
    counts = (select(Exercise.lesson_id, func.count().label("n")).group_by(Exercise.lesson_id).subquery())
    return [(lesson, n or 0) for lesson, n in db.session.execute(
        select(Lesson, counts.c.n).select_from(Lesson).join(Section, Section.id == Lesson.section_id)
        .outerjoin(counts, counts.c.lesson_id == Lesson.id)
        .where(Section.course_id == course_id).order_by(Section.order_index, Lesson.order_index))]


def _done_counts(user_ids, course_id: uuid.UUID) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    """(student, lesson) → completed exercises, in one grouped query."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(ExerciseProgress.user_id, Exercise.lesson_id, func.count())
        .join(Exercise, Exercise.id == ExerciseProgress.exercise_id).join(Lesson).join(Section)
        .where(Section.course_id == course_id, ExerciseProgress.completed.is_(True),
               ExerciseProgress.user_id.in_(user_ids))
        .group_by(ExerciseProgress.user_id, Exercise.lesson_id))
    return {(user_id, lesson_id): n for user_id, lesson_id, n in rows}


def class_progress(school_class: SchoolClass) -> ClassProgress:
    """Students × lessons of a class, in a fixed number of queries whatever its size."""
    lessons = _lessons_with_counts(school_class.course_id)
    unlocked = set(db.session.scalars(select(LessonUnlock.lesson_id).where(
        LessonUnlock.class_id == school_class.id)))
    enrollments = list(db.session.scalars(
        select(ClassEnrollment).options(joinedload(ClassEnrollment.student))
        .where(ClassEnrollment.class_id == school_class.id, ClassEnrollment.status != "withdrawn")
        .join(User, User.id == ClassEnrollment.student_id).order_by(User.full_name, User.id)))
    done = _done_counts([e.student_id for e in enrollments], school_class.course_id)
    rows = [StudentRow(e, [LessonCell(lesson, lesson.id in unlocked, done.get((e.student_id, lesson.id), 0), n)
                           for lesson, n in lessons]) for e in enrollments]
    return ClassProgress(school_class, [(lesson, lesson.id in unlocked, n) for lesson, n in lessons], rows)


@dataclass
class MyClassProgress:
    enrollment: ClassEnrollment
    lessons: list[LessonCell]
    # Filled by the exercise types that have a `progress_section` of these names.
    quizzes: list = field(default_factory=list)
    assignments: list = field(default_factory=list)

    @property
    def lessons_completed(self) -> int:
        return sum(1 for cell in self.lessons if cell.completed)

    @property
    def exercises_completed(self) -> int:
        return sum(cell.done for cell in self.lessons)

    @property
    def exercises_total(self) -> int:
        return sum(cell.total for cell in self.lessons)

    @property
    def next_lesson(self) -> Lesson | None:
        """The first unlocked lesson not yet completed: where to continue."""
        return next((c.lesson for c in self.lessons if c.unlocked and not c.completed), None)


class Attempt(NamedTuple):
    """A quiz attempt as the player and the progress page show it; `answers` when read for a review."""
    id: uuid.UUID
    score: int
    max_score: int
    attempt_number: int
    answers: Any = None


_ATTEMPTS = QuizAttempt.__table__


@functools.cache
def _work_queries(of_exercises: bool) -> tuple:
    """`student_work`'s two statements, built once (issue 22: the lesson player reads them on every page); the
    attempts as plain rows, which is all the player and the progress page read of them."""
    attempts = (select(_ATTEMPTS.c.exercise_id, _ATTEMPTS.c.id, _ATTEMPTS.c.score, _ATTEMPTS.c.max_score,
                       _ATTEMPTS.c.attempt_number, _ATTEMPTS.c.answers)
                .where(_ATTEMPTS.c.user_id == bindparam("student_id", type_=Uuid)))
    submissions = select(AssignmentSubmission).where(
        AssignmentSubmission.student_id == bindparam("student_id", type_=Uuid))
    if of_exercises:
        ids = bindparam("exercise_ids", type_=Uuid, expanding=True)
        attempts = attempts.where(_ATTEMPTS.c.exercise_id.in_(ids))
        submissions = submissions.where(AssignmentSubmission.exercise_id.in_(ids))
    return (attempts.order_by(_ATTEMPTS.c.attempt_number),
            submissions.order_by(AssignmentSubmission.version.desc()))


def student_work(student_id: uuid.UUID, exercise_ids: list[uuid.UUID] | None = None,
                 needed: set[str] | None = None) -> StudentWork:
    """The student's quiz attempts (oldest first) and hand-ins (newest first) by exercise, in two queries;
    each exercise type takes its own part. All of them, or only those on `exercise_ids`; `needed`: only
    these parts (the types' `work_needed`), the others left empty."""
    attempts_query, submissions_query = _work_queries(exercise_ids is not None)
    params = {"student_id": student_id, "exercise_ids": list(exercise_ids or ())}
    attempts: dict[uuid.UUID, list[Attempt]] = {}
    if needed is None or "quiz_attempts" in needed:
        for exercise_id, *attempt in db.session.execute(attempts_query, params):
            attempts.setdefault(exercise_id, []).append(Attempt(*attempt))
    submissions: dict[uuid.UUID, list[AssignmentSubmission]] = {}
    if needed is None or "submissions" in needed:
        for submission in db.session.scalars(submissions_query, params):
            submissions.setdefault(submission.exercise_id, []).append(submission)
    return StudentWork(student_id, attempts, submissions)


def student_progress(student: User) -> list[MyClassProgress]:
    """Per class of the student: lessons, exercises, best quiz scores, latest assignment grades."""
    enrollments = list(db.session.scalars(
        select(ClassEnrollment).options(joinedload(ClassEnrollment.school_class).joinedload(SchoolClass.course))
        .where(ClassEnrollment.student_id == student.id, ClassEnrollment.status != "withdrawn")
        .order_by(ClassEnrollment.enrolled_at.desc())))
    if not enrollments:
        return []
    class_ids = [e.class_id for e in enrollments]
    course_ids = {e.school_class.course_id for e in enrollments}
    unlocked = {(class_id, lesson_id) for class_id, lesson_id in db.session.execute(
        select(LessonUnlock.class_id, LessonUnlock.lesson_id).where(LessonUnlock.class_id.in_(class_ids)))}
    counts = (select(Exercise.lesson_id, func.count().label("n")).group_by(Exercise.lesson_id).subquery())
    lessons_by_course: dict[uuid.UUID, list[tuple[Lesson, int]]] = {c: [] for c in course_ids}
    for lesson, course_id, n in db.session.execute(
            select(Lesson, Section.course_id, counts.c.n).select_from(Lesson)
            .join(Section, Section.id == Lesson.section_id).outerjoin(counts, counts.c.lesson_id == Lesson.id)
            .where(Section.course_id.in_(course_ids)).order_by(Section.order_index, Lesson.order_index)):
        lessons_by_course[course_id].append((lesson, n or 0))
    done: dict[uuid.UUID, int] = {lesson_id: n for lesson_id, n in db.session.execute(
        select(Exercise.lesson_id, func.count()).join(ExerciseProgress, and_(
            ExerciseProgress.exercise_id == Exercise.id, ExerciseProgress.user_id == student.id,
            ExerciseProgress.completed.is_(True))).group_by(Exercise.lesson_id))}
    graded_types = [name for name, kind in REGISTRY.items() if kind.progress_section]
    graded_exercises = list(db.session.execute(
        select(Exercise, Section.course_id).select_from(Exercise).join(Lesson, Lesson.id == Exercise.lesson_id)
        .join(Section, Section.id == Lesson.section_id)
        .where(Section.course_id.in_(course_ids), Exercise.type.in_(graded_types))
        .order_by(Section.order_index, Lesson.order_index, Exercise.order_index)))
    work = student_work(student.id)

    result = []
    for enrollment in enrollments:
        course_id = enrollment.school_class.course_id
        cells = [LessonCell(lesson, (enrollment.class_id, lesson.id) in unlocked, done.get(lesson.id, 0), n)
                 for lesson, n in lessons_by_course[course_id]]
        open_lessons = {c.lesson.id for c in cells if c.unlocked}
        mine = MyClassProgress(enrollment, cells)
        for exercise, exercise_course in graded_exercises:
            if exercise_course != course_id or exercise.lesson_id not in open_lessons:
                continue
            kind = get_type(exercise.type)
            getattr(mine, kind.progress_section).append(kind.progress_line(exercise, work))
        result.append(mine)
    return result
