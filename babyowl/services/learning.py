"""The lesson player: what a student sees of an unlocked lesson, and the work they record in it.

Every action takes a `Place` (class, enrollment, lesson, exercise), which only
exists for a student actively enrolled in a class that has unlocked the
lesson. Completion rules live on the exercise types; this module applies them,
keeps the progress rows true; each action is one use case (`@use_case`).
"""
from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from flask_babel import gettext as _
from sqlalchemy import Uuid, and_, bindparam, exists, false, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from babyowl.exercise_types import ExerciseType, InvalidContent, get_type
from babyowl.exercise_types.base import StudentWork
from babyowl.exercise_types.video import is_video_key
from babyowl.authz import is_staff
from babyowl.extensions import db
from babyowl.models import (
    ClassEnrollment, Exercise, ExerciseProgress, Lesson, LessonProgress, LessonUnlock, QuizAttempt, SchoolClass,
    Section, User,
)
from babyowl.models.base import utcnow
from babyowl.services import classes, xp
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from babyowl.services.progress import Attempt, locked_progress, refresh_counters, set_completed, student_work
from babyowl.transactions import kept_rows, use_case

class CannotComplete(DomainError):
    pass


class NoAttemptsLeft(DomainError):
    pass


class AttemptConflict(DomainError):
    pass


class VideoNotFound(DomainError):
    status_code = 404


@dataclass(frozen=True)
class Place:
    school_class: SchoolClass
    enrollment: ClassEnrollment
    lesson: Lesson
    exercise: Exercise
    number: int | None = None  # the exercise's number in the lesson, when already known

    @property
    def kind(self) -> ExerciseType:
        return get_type(self.exercise.type)


def active_enrollment(student: User, school_class: SchoolClass) -> ClassEnrollment | None:
    return db.session.scalars(select(ClassEnrollment).where(
        ClassEnrollment.class_id == school_class.id, ClassEnrollment.student_id == student.id,
        ClassEnrollment.status == "active")).first()


@functools.cache
def _place_query(as_student: bool):
    """`place_for`'s statement, built once with its parameters bound per request (building it cost more CPU
    than running it, issue 22); only a student can have an enrollment to find."""
    class_id, exercise_id = bindparam("class_id", type_=Uuid), bindparam("exercise_id", type_=Uuid)
    enrolled = and_(ClassEnrollment.class_id == SchoolClass.id,
                    ClassEnrollment.student_id == bindparam("student_id", type_=Uuid),
                    ClassEnrollment.status == "active")
    unlocked = exists().where(LessonUnlock.class_id == class_id, LessonUnlock.lesson_id == Lesson.id)
    earlier = aliased(Exercise)
    number = (select(func.count()).select_from(earlier)
              .where(earlier.lesson_id == Exercise.lesson_id, earlier.order_index < Exercise.order_index)
              .scalar_subquery())
    return (select(Exercise, Lesson, Section, SchoolClass, ClassEnrollment, unlocked, number)
            .join(Lesson, Lesson.id == Exercise.lesson_id).join(Section, Section.id == Lesson.section_id)
            .outerjoin(SchoolClass, SchoolClass.id == class_id)
            .outerjoin(ClassEnrollment, enrolled if as_student else false())
            .where(Exercise.id == exercise_id))


def place_for(student: User, class_id: uuid.UUID, exercise_id: uuid.UUID) -> Place:
    """Where a student records work: 404 for an unknown class or exercise, 403 when not enrolled or locked.

    One statement: the exercise with its lesson and section, the class, the student's active enrollment in it,
    whether the class unlocked the lesson, and the exercise's number in the lesson (issue 22: it was six).
    """
    row = db.session.execute(_place_query(student.role == "student"), {
        "class_id": class_id, "student_id": student.id, "exercise_id": exercise_id}).first()
    if row is None or row.SchoolClass is None:
        raise classes.ClassNotFound(_("This exercise is not part of the class."))
    exercise, lesson, section, school_class, enrollment, is_unlocked, before = row
    if enrollment is None:
        raise NotAllowed(_("Only the students of this class can do its exercises."))
    set_committed_value(lesson, "section", section)
    if section.course_id != school_class.course_id or not is_unlocked:
        # Not of this course (404), locked (403), or covered by the class this one continues: the full rule.
        lesson = classes.lesson_for_class(student, school_class, exercise.lesson_id)
    return Place(school_class, enrollment, lesson, exercise, number=before + 1)


# ---------------------------------------------------------------------------
# What the player shows

@dataclass
class Item:
    """One exercise in the player: the student's progress and the type's own panel (quiz attempts, versions);
    on the lesson page plain rows (`PlayerExercise`, `PlayerProgress`), after an action the rows it wrote."""
    exercise: Exercise | PlayerExercise
    number: int
    progress: ExerciseProgress | PlayerProgress | None
    panel: Any = None

    @property
    def kind(self) -> ExerciseType:
        return get_type(self.exercise.type)

    @property
    def completed(self) -> bool:
        return bool(self.progress and self.progress.completed)

    @property
    def can_mark_done(self) -> bool:
        return not self.completed and self.kind.manual_completion_allowed(self.exercise.content)


class PlayerLesson(NamedTuple):
    """A lesson of the class's plan as the player shows it (title and link), read as plain columns."""
    id: uuid.UUID
    title: str
    description: str | None


class PlayerExercise(NamedTuple):
    """An exercise as the player shows it (what its types' templates and panels read of it)."""
    id: uuid.UUID
    title: str
    type: str
    content: Any


class PlayerProgress(NamedTuple):
    """The student's progress on an exercise as the player shows it."""
    completed: bool
    watched_seconds: int


class PlayerClass(NamedTuple):
    id: uuid.UUID
    name: str


class PlayerEnrollment(NamedTuple):
    id: uuid.UUID
    status: str


@dataclass
class LessonPage:
    school_class: PlayerClass
    enrollment: PlayerEnrollment
    lesson: PlayerLesson
    number: int
    items: list[Item]
    previous: PlayerLesson | None = None
    next: PlayerLesson | None = None
    next_unlocked: bool = False
    can_work: bool = field(default=True)

    @property
    def done(self) -> int:
        return sum(1 for item in self.items if item.completed)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def percent(self) -> int:
        return self.done * 100 // self.total if self.total else 0


def _items(student: User, exercises: list[Exercise], numbers: dict | None = None,
           review_attempt: uuid.UUID | None = None, progress: ExerciseProgress | None = None,
           progress_rows: dict | None = None, work: StudentWork | None = None) -> list[Item]:
    ids = [e.id for e in exercises]
    if not ids:
        return []
    if progress is not None:  # one exercise's row, already held
        progress = {progress.exercise_id: progress}
    elif progress_rows is not None:  # read with the exercises
        progress = progress_rows
    else:
        progress = {p.exercise_id: p for p in db.session.scalars(select(ExerciseProgress).where(
            ExerciseProgress.user_id == student.id, ExerciseProgress.exercise_id.in_(ids)))}
    if work is None:
        work = student_work(student.id, ids,
                            needed={part for e in exercises for part in get_type(e.type).work_needed})
    return [Item(exercise, (numbers or {}).get(exercise.id, index), progress.get(exercise.id),
                 get_type(exercise.type).player_panel(exercise, work, review_attempt))
            for index, exercise in enumerate(exercises, start=1)]


@functools.cache
def _lesson_page_queries() -> tuple:
    """`lesson_page`'s statements, built once with their parameters bound per request (issue 22)."""
    class_id, student_id = bindparam("class_id", type_=Uuid), bindparam("student_id", type_=Uuid)

    def unlocked_by(column):
        return exists().where(LessonUnlock.class_id == column, LessonUnlock.lesson_id == Lesson.id)

    # The class's plan (as `classes.lesson_plan`) on the rows of the class and the student's enrollment in it
    # (as `classes.class_of_student`): no row when the student may not see the class. Plain columns: the
    # player shows a few of each (issue 22: ORM rows of five models on every row cost more than the query).
    plan = (select(Lesson.id, Lesson.title, Lesson.description, unlocked_by(class_id),
                   unlocked_by(SchoolClass.continued_from_class_id), SchoolClass.name, ClassEnrollment.id,
                   ClassEnrollment.status)
            .join(Section, Section.id == Lesson.section_id)
            .join(SchoolClass, and_(SchoolClass.id == class_id, SchoolClass.course_id == Section.course_id))
            .join(ClassEnrollment, and_(ClassEnrollment.class_id == SchoolClass.id,
                                        ClassEnrollment.student_id == student_id,
                                        ClassEnrollment.status != "withdrawn"))
            .order_by(Section.order_index, Lesson.order_index))
    exercises = (select(Exercise.id, Exercise.title, Exercise.type, Exercise.content, ExerciseProgress.id,
                        ExerciseProgress.completed, ExerciseProgress.watched_seconds)
                 .outerjoin(ExerciseProgress, and_(ExerciseProgress.exercise_id == Exercise.id,
                                                   ExerciseProgress.user_id == student_id))
                 .where(Exercise.lesson_id == bindparam("lesson_id", type_=Uuid)).order_by(Exercise.order_index))
    return plan, exercises


def lesson_page(student: User, class_id: uuid.UUID, lesson_id: uuid.UUID,
                review_attempt: uuid.UUID | None = None) -> LessonPage:
    """The lesson as the student works through it; `review_attempt` shows the feedback on that quiz attempt."""
    plan_query, exercises_query = _lesson_page_queries()
    rows = db.session.execute(plan_query, {"class_id": class_id, "student_id": student.id}).all()
    if not rows:  # not the student's class (404), or a course without lessons (404): the rules' own answers
        classes.planned_lesson(student, classes.lesson_plan(classes.class_of_student(student, class_id)[0]),
                               lesson_id)
        raise classes.ClassNotFound(_("This lesson is not part of the class."))
    school_class, enrollment = PlayerClass(class_id, rows[0][5]), PlayerEnrollment(rows[0][6], rows[0][7])
    plan = classes.plan_of((PlayerLesson(*row[:3]), *row[3:5]) for row in rows)
    position, entry = classes.planned_lesson(student, plan, lesson_id)
    lesson = entry.lesson
    previous = next((planned for _n, planned, unlocked in reversed(plan[:position]) if unlocked), None)
    following = plan[position + 1] if position + 1 < len(plan) else None
    # The exercises with the student's progress rows, in one statement (the player shows both).
    rows = db.session.execute(exercises_query, {"student_id": student.id, "lesson_id": lesson.id}).all()
    exercises = [PlayerExercise(*row[:4]) for row in rows]
    items = _items(student, exercises, review_attempt=review_attempt,
                   progress_rows={row[0]: PlayerProgress(*row[5:]) for row in rows if row[4] is not None})
    return LessonPage(school_class, enrollment, lesson, position + 1, items, previous=previous,
                      next=following[1] if following else None, next_unlocked=bool(following and following[2]),
                      can_work=enrollment.status == "active")


def item_for(student: User, place: Place, review_attempt: uuid.UUID | None = None,
             attempts: list | None = None) -> Item:
    """One exercise's part of the player, after an action (numbered as on the page); `attempts`: the quiz's
    attempts as the action that just ran read them (`QuizSubmitted.attempts`), not read again."""
    number = place.number or 1 + db.session.scalar(select(func.count()).select_from(Exercise).where(
        Exercise.lesson_id == place.lesson.id, Exercise.order_index < place.exercise.order_index))
    held = _held(ExerciseProgress, user_id=student.id, exercise_id=place.exercise.id)
    work = StudentWork(student.id, {place.exercise.id: attempts}) if attempts is not None else None
    return _items(student, [place.exercise], {place.exercise.id: number}, review_attempt, progress=held,
                  work=work)[0]


def _held(model, **key):
    """The row of `model` with these values that this request's action locked, wrote and kept (see
    `use_case(keep_loaded=True)`), or None: what an action just saved is shown without reading it again."""
    for row in kept_rows(model):
        if not db.session.is_modified(row) and all(row.__dict__.get(name) == value for name, value in key.items()):
            return row
    return None


def lesson_counts(student: User, lesson: Lesson) -> tuple[int, int]:
    """(completed, total) exercises of the lesson for the student: the progress bar."""
    held = _held(LessonProgress, user_id=student.id, lesson_id=lesson.id)
    if held is not None and "exercises_completed" in held.__dict__ and "total_exercises" in held.__dict__:
        return held.exercises_completed, held.total_exercises  # counted by the action that just ran
    total = db.session.scalar(select(func.count()).select_from(Exercise).where(Exercise.lesson_id == lesson.id))
    done = db.session.scalar(select(func.count()).select_from(ExerciseProgress).join(Exercise).where(
        Exercise.lesson_id == lesson.id, ExerciseProgress.user_id == student.id,
        ExerciseProgress.completed.is_(True)))
    return done, total


# ---------------------------------------------------------------------------
# Recording work

@use_case(keep_loaded=True)  # the block drawn after it shows the rows it wrote
def mark_done(student: User, place: Place) -> ExerciseProgress:
    """The "Mark as done" button: materials always, videos when the instructor allows it."""
    if not place.kind.manual_completion_allowed(place.exercise.content):
        raise CannotComplete(place.kind.why_not_marked_done(place.exercise.content))
    progress = locked_progress(student.id, place.exercise.id)
    if not progress.completed:
        xp.for_exercise(student.id, place.exercise.id, place.school_class.id)
    set_completed(progress, True)
    refresh_counters(student.id, place.lesson, class_id=place.school_class.id)
    return progress


@use_case(keep_loaded=True)  # the block drawn after it shows the rows it wrote
def record_progress(student: User, place: Place, *, seconds: int | None = None,
                    scroll_depth: int | None = None) -> ExerciseProgress:
    """Seconds of a video watched since the last report, or how far down a material the student read."""
    exercise, kind = place.exercise, place.kind
    progress = locked_progress(student.id, exercise.id)
    kind.apply_report(exercise.content, progress, seconds=seconds, scroll_depth=scroll_depth, now=utcnow())
    if kind.completed_by_progress(exercise.content, watched_seconds=progress.watched_seconds,
                                  scroll_depth=progress.scroll_depth):
        if not progress.completed:
            xp.for_exercise(student.id, exercise.id, place.school_class.id)
        set_completed(progress, True)
    # A report that changes nothing still moves updated_at: the next report is measured from now.
    progress.updated_at = utcnow()
    refresh_counters(student.id, place.lesson, class_id=place.school_class.id)
    return progress


class QuizSubmitted(NamedTuple):
    attempt: Attempt
    review: list[dict]
    attempts: list[Attempt]  # every attempt at the quiz, oldest first, this one last: the panel drawn after it


_ATTEMPTS = QuizAttempt.__table__
# Built once (issue 22): the attempts made so far, read under the progress row's lock, count the new one's number
# and are what the panel shows after the submit; earlier answers are not shown there, so they are not read.
_TRIED = (select(_ATTEMPTS.c.id, _ATTEMPTS.c.score, _ATTEMPTS.c.max_score, _ATTEMPTS.c.attempt_number)
          .where(_ATTEMPTS.c.user_id == bindparam("user_id", type_=Uuid),
                 _ATTEMPTS.c.exercise_id == bindparam("exercise_id", type_=Uuid))
          .order_by(_ATTEMPTS.c.attempt_number))
_ADD_ATTEMPT = insert(_ATTEMPTS)


@use_case(keep_loaded=True)  # the block drawn after it shows the rows it wrote
def submit_quiz(student: User, place: Place, answers: dict[str, list[str]]) -> QuizSubmitted:
    """Score the answers on the server, record the attempt; the quiz completes once an attempt passes."""
    quiz = get_type("quiz")
    if place.kind is not quiz:
        raise InvalidInput(_("This exercise is not a quiz."))
    try:
        content = quiz.validate(place.exercise.content)
    except InvalidContent as exc:
        raise DomainError(_("This quiz cannot be taken right now; tell your instructor.")) from exc
    result = quiz.score(content, answers)
    if not result.answered:
        raise InvalidInput(_("Answer at least one question."))
    progress = locked_progress(student.id, place.exercise.id)
    key = {"user_id": student.id, "exercise_id": place.exercise.id}
    tried = [Attempt(*row) for row in db.session.execute(_TRIED, key)]
    allowed = content.get("attemptsAllowed")
    if allowed is not None and len(tried) >= allowed:
        raise NoAttemptsLeft(_("You have used all %(n)d attempts of this quiz.", n=allowed))
    attempt = Attempt(uuid.uuid4(), result.score, result.max_score, len(tried) + 1, result.answers)
    try:
        db.session.execute(_ADD_ATTEMPT, {**key, **attempt._asdict(), "created_at": utcnow()})
    except IntegrityError as exc:  # the numbering is the database's last guard; the use case rolls back
        raise AttemptConflict(_("This attempt was already sent from another tab. Reload the page.")) from exc
    if result.passed:
        # Once per quiz (the ledger's key): a later, better attempt earns nothing more.
        xp.for_quiz(student.id, place.exercise.id, result.score, result.max_score, place.school_class.id)
        set_completed(progress, True)
    refresh_counters(student.id, place.lesson, class_id=place.school_class.id)
    return QuizSubmitted(attempt, quiz.review(content, result.answers), [*tried, attempt])


def video_for(actor: User, key: str) -> str:
    """The stored video `key`, for someone who may see a lesson playing it; to anyone else it does not exist."""
    if not is_video_key(key) or not may_watch_video(actor, key):
        raise VideoNotFound(_("This video does not exist."))
    return key


def may_watch_video(actor: User, key: str) -> bool:
    """Whether `actor` may see a lesson that plays the uploaded video `key`.

    Staff and super_admin, the course's author, the instructors of its
    classes, and students of a class that has unlocked the lesson.
    """
    from babyowl.models import Course

    rows = db.session.execute(
        select(Lesson, Course).join(Exercise, Exercise.lesson_id == Lesson.id).join(Section)
        .join(Course, Course.id == Section.course_id)
        .where(Exercise.type == "video", Exercise.content["fileKey"].as_string() == key)).all()
    for lesson, course in rows:
        if is_staff(actor) or course.created_by == actor.id:
            return True
        if actor.role == "instructor" and db.session.scalar(select(func.count()).select_from(SchoolClass).where(
                SchoolClass.course_id == course.id, SchoolClass.instructor_id == actor.id)):
            return True
        if actor.role == "student" and classes.student_can_open(actor, lesson):
            return True
    return False
