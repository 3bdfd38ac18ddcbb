"""Classes: the rules of the spec about packages, status, enrollment, continuation and unlocking.

One meeting is one lesson. What differs between a group and a private class
(enrollability, status transitions, continuation, package changes) is asked of
`class_rules.rules_for(school_class)`; credits move only in `services/credits`.
Every use case that counts (seats, unlocked lessons) locks the class row
first, so parallel requests take turns and the counts stay true.

A private class that continues a group class picks up where the group
stopped: the lessons the group unlocked are "covered" (shown as done in the
plan, open to its student), and its own first unlock is the first lesson the
group did not reach.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import NamedTuple
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import Uuid, and_, bindparam, exists, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, joinedload

from babyowl.authz import is_staff
from babyowl.extensions import db
from babyowl.money import InvalidAmount, parse_rupiah
from babyowl.models import (
    ClassEnrollment, Course, Lesson, LessonUnlock, SchoolClass, Section, User,
)
from babyowl.models.base import utcnow
from babyowl.services.class_rules import PRIVATE, rules_for
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from babyowl.services.listing import Key, Slice, keyset_page
from babyowl.transactions import use_case
from babyowl.services.school_time import school_today

PACKAGE_PRESETS = (10, 20, 30, 50)
MAX_MEETINGS = 200
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class ClassNotFound(DomainError):
    status_code = 404


class ClassFull(DomainError):
    pass


class EnrollmentClosed(DomainError):
    pass


class AlreadyEnrolled(DomainError):
    pass


class UnlockRefused(DomainError):
    pass


class EmailHasAccount(DomainError):
    """A new student was typed with an email that already has an account: never enroll that account silently."""

    status_code = 409

    def __init__(self, existing: User):
        enrollable = existing.role == "student" and existing.status == "active"
        super().__init__(
            _("%(email)s already belongs to %(name)s. Enroll %(name)s, or use another email for the new student.",
              email=existing.email, name=existing.full_name) if enrollable else
            _("%(email)s already belongs to %(name)s, who is not an active student. Use another email.",
              email=existing.email, name=existing.full_name))
        # Offered to enroll explicitly only when that account could be enrolled.
        self.existing = existing if enrollable else None


@dataclass(frozen=True)
class ClassDetails:
    name: str
    course_id: uuid.UUID
    instructor_id: uuid.UUID | None
    type: str
    total_meetings: int
    max_capacity: int | None
    days: tuple[str, ...] = ()
    start_time: time | None = None
    end_time: time | None = None
    enrollment_deadline: date | None = None
    start_date: date | None = None
    end_date: date | None = None


def _require_staff(actor: User) -> None:
    if not is_staff(actor):
        raise NotAllowed(_("Only staff manage classes."))


# Built once: every tap and credit change starts with it (building it cost more CPU than running it, issue 22).
# FOR NO KEY UPDATE (key_share): it still serialises everyone who locks the class, but not the foreign-key checks
# of rows that name the class (an XP ledger row of a quiz pass): under FOR UPDATE, a tap holding the class and
# awarding XP, and a quiz pass holding the student's level row and inserting its ledger row, deadlocked.
_LOCKED_CLASS = (select(SchoolClass).where(SchoolClass.id == bindparam("class_id", type_=Uuid))
                 .with_for_update(key_share=True).execution_options(populate_existing=True))


def locked_class(class_id: uuid.UUID) -> SchoolClass:
    school_class = db.session.scalars(_LOCKED_CLASS, {"class_id": class_id}).first()
    if school_class is None:
        raise ClassNotFound(_("This class does not exist."))
    return school_class


def _checked(details: ClassDetails) -> dict:
    """The column values for these details, or InvalidInput naming the first problem."""
    if not details.name.strip():
        raise InvalidInput(_("Enter a name for the class."))
    rules = rules_for(details.type)
    course = db.session.get(Course, details.course_id)
    if course is None or course.status != "published":
        raise InvalidInput(_("Choose a published course."))
    if details.instructor_id is not None:
        instructor = db.session.get(User, details.instructor_id)
        if instructor is None or instructor.role != "instructor" or instructor.status != "active":
            raise InvalidInput(_("Choose an active instructor."))
    if not 1 <= details.total_meetings <= MAX_MEETINGS:
        raise InvalidInput(_("The package must have from 1 to %(max)d meetings.", max=MAX_MEETINGS))
    capacity = rules.seats(details.max_capacity)
    deadline = rules.enrollment_deadline(details.enrollment_deadline)
    if details.start_date and details.end_date and details.end_date < details.start_date:
        raise InvalidInput(_("The class cannot end before it starts."))
    if details.start_date and deadline and deadline > details.start_date:
        raise InvalidInput(_("The enrollment deadline must be on or before the first day."))
    if any(day not in WEEKDAYS for day in details.days):
        raise InvalidInput(_("Unknown day of the week."))
    if details.start_time and details.end_time and details.end_time <= details.start_time:
        raise InvalidInput(_("A meeting must end after it starts."))
    schedule = None
    if details.days or details.start_time:
        schedule = {"days": [d for d in WEEKDAYS if d in details.days],
                    "time": (f"{details.start_time:%H:%M}-{details.end_time:%H:%M}"
                             if details.start_time and details.end_time else None)}
    return dict(name=details.name.strip(), course_id=details.course_id, instructor_id=details.instructor_id,
                type=details.type, total_meetings=details.total_meetings, max_capacity=capacity, schedule=schedule,
                enrollment_deadline=deadline,
                start_date=details.start_date, end_date=details.end_date)


@use_case
def create_class(actor: User, details: ClassDetails) -> SchoolClass:
    return _create_class(actor, details)


def _create_class(actor: User, details: ClassDetails, continued_from: SchoolClass | None = None) -> SchoolClass:
    _require_staff(actor)
    school_class = SchoolClass(**_checked(details), status="draft", current_capacity=0,
                               continued_from_class_id=continued_from.id if continued_from else None)
    db.session.add(school_class)
    db.session.flush()
    _follow_in_class_conversation(school_class)
    return school_class


def _follow_in_class_conversation(school_class: SchoolClass) -> None:
    """The class conversation's members follow the class (its active students and instructor)."""
    from babyowl.services import messages  # messages builds on classes

    messages.sync_class_conversation(school_class)


@use_case
def update_class(actor: User, school_class: SchoolClass, details: ClassDetails) -> None:
    _require_staff(actor)
    school_class = locked_class(school_class.id)
    values = _checked(details)
    if values["type"] != school_class.type and school_class.current_capacity:
        raise DomainError(_("A class with students cannot change between group and private."))
    if values["course_id"] != school_class.course_id and school_class.status != "draft":
        raise DomainError(_("The course of a class can only change while it is a draft."))
    added = values["total_meetings"] - school_class.total_meetings
    if added:
        if refusal := rules_for(school_class).package_refusal(school_class):
            raise DomainError(refusal)
        if values["total_meetings"] < school_class.meetings_completed:
            raise DomainError(_("%(n)d meetings have already been held.", n=school_class.meetings_completed))
    if values["max_capacity"] is not None and values["max_capacity"] < school_class.current_capacity:
        raise DomainError(_("%(n)d students are enrolled: the capacity cannot be lower.",
                            n=school_class.current_capacity))
    for name, value in values.items():
        setattr(school_class, name, value)
    db.session.flush()
    _follow_in_class_conversation(school_class)
    if added:
        from babyowl.services import credits  # credits builds on classes and attendance

        credits.package_changed(school_class, _active_enrollments(school_class.id), added)


@use_case
def change_status(actor: User, school_class: SchoolClass, status: str) -> None:
    _require_staff(actor)
    school_class = locked_class(school_class.id)
    if not rules_for(school_class).may_become(school_class, status):
        from babyowl.navigation import CLASS_STATUS_NAMES

        # The names a person reads, never the stored codes ("draft", "active").
        raise DomainError(_("This class cannot go from %(old)s to %(new)s.",
                            old=CLASS_STATUS_NAMES[school_class.status],
                            new=CLASS_STATUS_NAMES.get(status, _("an unknown state"))))
    school_class.status = status
    if status == "completed":
        for enrollment in _active_enrollments(school_class.id):
            enrollment.status = "completed"
            enrollment.completed_at = utcnow()


def _active_enrollments(class_id: uuid.UUID) -> list[ClassEnrollment]:
    return list(db.session.scalars(select(ClassEnrollment).where(
        ClassEnrollment.class_id == class_id, ClassEnrollment.status == "active")))


def _count_active(class_id: uuid.UUID) -> int:
    return db.session.scalar(select(func.count()).where(
        ClassEnrollment.class_id == class_id, ClassEnrollment.status == "active"))


def _desk_amount(amount: Decimal | str | None) -> Decimal | None:
    try:
        return parse_rupiah(amount)
    except InvalidAmount as exc:
        raise InvalidInput(str(exc.message)) from exc


@use_case
def enroll(actor: User, school_class: SchoolClass, student: User, *, paid_at_desk=None) -> ClassEnrollment:
    """Enroll one student; the class row is locked so seats are counted one request at a time.

    A class with a price invoices the student (services/payments.py); `paid_at_desk` is money handed over at
    the desk, which verifies that invoice at once.
    """
    return _enroll(actor, school_class, student, paid_at_desk=paid_at_desk)


def _enroll(actor: User, school_class: SchoolClass, student: User, *, paid_at_desk=None) -> ClassEnrollment:
    _require_staff(actor)
    desk = _desk_amount(paid_at_desk)
    if student.role != "student" or student.status != "active":
        raise InvalidInput(_("Only an active student can be enrolled."))
    school_class = locked_class(school_class.id)
    if refusal := rules_for(school_class).enrollment_refusal(school_class):
        raise EnrollmentClosed(refusal)
    existing = db.session.scalars(select(ClassEnrollment).where(
        ClassEnrollment.class_id == school_class.id, ClassEnrollment.student_id == student.id)).first()
    if existing is not None and existing.status != "withdrawn":
        raise AlreadyEnrolled(_("%(name)s is already enrolled in this class.", name=student.full_name))
    # Seats held by other students' open invoices (self-service, services/payments.py) are taken too.
    enrollment = _take_seat(school_class, student, existing,
                            held=seats_held(school_class.id, except_student_id=student.id))
    try:
        db.session.flush()
    except IntegrityError as exc:  # the unique (class, student) pair: a doubled request (rolled back by the use case)
        raise AlreadyEnrolled(_("%(name)s is already enrolled in this class.", name=student.full_name)) from exc
    school_class.current_capacity = _count_active(school_class.id)
    _follow_in_class_conversation(school_class)
    from babyowl.services import payments  # payments builds on classes

    payments.invoice_staff_enrollment(actor, enrollment, paid_at_desk=desk)
    return enrollment


def _take_seat(school_class: SchoolClass, student: User, existing: ClassEnrollment | None, *,
               held: int) -> ClassEnrollment:
    """The student's seat in the (locked) class: refused when its active enrollments and the `held` seats of open
    invoices fill it; a student coming back after withdrawing gets the same row back (history kept)."""
    if _count_active(school_class.id) + held >= school_class.max_capacity:
        raise ClassFull(_("This class is full (%(n)d of %(n)d seats taken).", n=school_class.max_capacity))
    if existing is not None:
        existing.status = "active"
        return existing
    enrollment = ClassEnrollment(class_id=school_class.id, student_id=student.id,
                                 meeting_credits=school_class.total_meetings)
    db.session.add(enrollment)
    return enrollment


def student_choice(student_id: uuid.UUID | None) -> User | None:
    """The active student picked from the search, if any (to keep them picked when a form comes back)."""
    if student_id is None:
        return None
    student = db.session.get(User, student_id)
    return student if student is not None and student.role == "student" else None


def _find_or_create_student(actor: User, student_id: uuid.UUID | None, full_name: str, email: str) -> User:
    """The picked student, or a new student account (invited by email after the commit) from a name and email."""
    from babyowl.services import accounts, users

    if student_id is not None:
        student = student_choice(student_id)
        if student is None:
            raise InvalidInput(_("Choose a student from the list."))
        return student
    full_name, email = (full_name or "").strip(), (email or "").strip()
    if not (full_name and email):
        raise InvalidInput(_("Choose a student, or give the name and email of a new one."))
    existing = accounts.find_user_by_email(email)
    if existing is not None:
        raise EmailHasAccount(existing)
    return users.new_user_by(actor, email=email, full_name=full_name, role="student")


@use_case
def enroll_student_or_invite(actor: User, school_class: SchoolClass, *, student_id: uuid.UUID | None = None,
                             full_name: str = "", email: str = "",
                             paid_at_desk: Decimal | str | None = None) -> ClassEnrollment:
    """Enroll the picked student, or a new one made on the spot: one transaction, so a refused enrollment
    (a full class, a closed one) leaves no account behind and sends no invitation."""
    _require_staff(actor)
    _desk_amount(paid_at_desk)  # a typing mistake is answered before an account is made
    student = _find_or_create_student(actor, student_id, full_name, email)
    return _enroll(actor, school_class, student, paid_at_desk=paid_at_desk)


def package_choice(total_meetings: int) -> str:
    """The preset a class's package matches on the class form, or "custom"."""
    return str(total_meetings) if total_meetings in PACKAGE_PRESETS else "custom"


@use_case
def withdraw(actor: User, enrollment: ClassEnrollment) -> None:
    _require_staff(actor)
    school_class = locked_class(enrollment.class_id)
    db.session.refresh(enrollment)
    if enrollment.status != "active":
        raise DomainError(_("Only an active enrollment can be withdrawn."))
    enrollment.status = "withdrawn"
    db.session.flush()
    school_class.current_capacity = _count_active(school_class.id)
    _follow_in_class_conversation(school_class)


def course_lessons(course_id: uuid.UUID) -> list[Lesson]:
    """The course's lessons in teaching order: one per meeting."""
    return list(db.session.scalars(
        select(Lesson).join(Section).where(Section.course_id == course_id)
        .order_by(Section.order_index, Lesson.order_index)))


@use_case
def continue_as_private(actor: User, group_class: SchoolClass, student: User | None, *, name: str,
                        instructor_id: uuid.UUID | None, total_meetings: int | None = None,
                        start_date: date | None = None) -> SchoolClass:
    """A private class for one student of a group class, on the same course, from where the group stopped."""
    _require_staff(actor)
    if student is None:
        raise InvalidInput(_("Choose a student of this class."))
    if not rules_for(group_class).can_continue(group_class):
        raise DomainError(_("Only a group class that is running or completed can be continued."))
    was_enrolled = db.session.scalar(select(func.count()).where(
        ClassEnrollment.class_id == group_class.id, ClassEnrollment.student_id == student.id))
    if not was_enrolled:
        raise InvalidInput(_("%(name)s was not in this class.", name=student.full_name))
    meetings = total_meetings or default_continuation_meetings(group_class)
    private = _create_class(actor, ClassDetails(
        name=name, course_id=group_class.course_id, instructor_id=instructor_id, type=PRIVATE.type,
        total_meetings=meetings, max_capacity=1, start_date=start_date), continued_from=group_class)
    _enroll(actor, private, student)
    return private


def default_continuation_meetings(group_class: SchoolClass) -> int:
    return max(1, len(course_lessons(group_class.course_id)) - len(_unlocked_ids(group_class.id)))


def _unlocked_ids(class_id: uuid.UUID | None) -> set[uuid.UUID]:
    if class_id is None:
        return set()
    return set(db.session.scalars(select(LessonUnlock.lesson_id).where(LessonUnlock.class_id == class_id)))


def covered_lesson_ids(school_class: SchoolClass) -> set[uuid.UUID]:
    """Lessons taught before this class began: those unlocked by the group class it continues."""
    return _unlocked_ids(school_class.continued_from_class_id)


def can_teach(actor: User, school_class: SchoolClass) -> bool:
    return actor.role == "super_admin" or (actor.role == "instructor" and school_class.instructor_id == actor.id)


@use_case
def unlock_next_lesson(actor: User, school_class: SchoolClass) -> Lesson:
    """Open the next lesson in course order; 1 meeting = 1 lesson, so never ahead of the meetings held."""
    if not can_teach(actor, school_class):
        raise NotAllowed(_("Only the class's instructor can unlock its lessons."))
    school_class = locked_class(school_class.id)
    if school_class.status != "active":
        raise UnlockRefused(_("Lessons can only be unlocked while the class is active."))
    if school_class.lessons_unlocked >= school_class.meetings_completed:
        raise UnlockRefused(_("Take attendance for meeting %(n)d first: one lesson is unlocked per meeting held "
                              "(%(held)d held, %(open)d unlocked).", n=school_class.lessons_unlocked + 1,
                              held=school_class.meetings_completed, open=school_class.lessons_unlocked))
    unlocked = _unlocked_ids(school_class.id)
    reached = unlocked | covered_lesson_ids(school_class)
    lesson = next((lesson for lesson in course_lessons(school_class.course_id) if lesson.id not in reached), None)
    if lesson is None:
        raise UnlockRefused(_("Every lesson of the course is already unlocked."))
    db.session.add(LessonUnlock(class_id=school_class.id, lesson_id=lesson.id, unlocked_by=actor.id))
    school_class.lessons_unlocked = len(unlocked) + 1
    _tell_students_about(school_class, lesson)
    return lesson


def _tell_students_about(school_class: SchoolClass, lesson: Lesson) -> None:
    from flask_babel import lazy_gettext as _l

    from babyowl.services.notifications import notify, path_for

    students = [e.student for e in db.session.scalars(
        select(ClassEnrollment).options(joinedload(ClassEnrollment.student))
        .where(ClassEnrollment.class_id == school_class.id, ClassEnrollment.status == "active"))]
    # Lazy strings: each student reads them in their own language.
    notify(students, kind="lesson_unlocked",
           title=_l("New lesson: %(lesson)s", lesson=lesson.title),
           message=_l("%(lesson)s is now open in %(class)s.", lesson=lesson.title, **{"class": school_class.name}),
           reference_id=lesson.id, link=path_for("classes.lesson", class_id=school_class.id, lesson_id=lesson.id),
           event_key=f"lesson_unlocked:{school_class.id}:{lesson.id}")


def student_can_open(student: User, lesson: Lesson) -> bool:
    """Whether one of the student's active classes has unlocked this lesson (or covered it before it began)."""
    active_classes = select(ClassEnrollment.class_id).where(
        ClassEnrollment.student_id == student.id, ClassEnrollment.status == "active")
    continued = select(SchoolClass.continued_from_class_id).where(SchoolClass.id.in_(active_classes))
    return bool(db.session.scalar(select(func.count()).select_from(LessonUnlock).where(
        LessonUnlock.lesson_id == lesson.id,
        LessonUnlock.class_id.in_(active_classes) | LessonUnlock.class_id.in_(continued))))


def search_classes(actor: User, *, status: str = "", type_: str = "", instructor_id: uuid.UUID | None = None,
                   course_id: uuid.UUID | None = None, page: int = 1, per_page: int | None = None):
    """Staff see every class, an instructor only theirs; 20 a page, course and instructor loaded with them."""
    query = _searched(actor, status=status, type_=type_, instructor_id=instructor_id, course_id=course_id)
    return _page(query, page, per_page)


def _searched(actor: User, *, status: str, type_: str, instructor_id: uuid.UUID | None,
              course_id: uuid.UUID | None):
    query = _class_list()
    if actor.role == "instructor":
        query = query.where(SchoolClass.instructor_id == actor.id)
    elif not is_staff(actor):
        raise NotAllowed(_("Only staff and instructors see the list of classes."))
    if instructor_id:
        query = query.where(SchoolClass.instructor_id == instructor_id)
    return _filtered(query, status=status, type_=type_, course_id=course_id)


def _class_list():
    """Classes with their course and instructor loaded, newest start first (the order of every class list)."""
    return (select(SchoolClass).options(joinedload(SchoolClass.course), joinedload(SchoolClass.instructor))
            .order_by(SchoolClass.start_date.desc().nulls_last(), SchoolClass.name, SchoolClass.id))


# `_class_list`'s order as keys: a class without a start date sorts as the earliest, last as on the pages.
CLASS_ORDER = (Key(func.coalesce(SchoolClass.start_date, date.min), date, descending=True),
               Key(SchoolClass.name, str), Key(SchoolClass.id, uuid.UUID))


def _filtered(query, *, status: str, type_: str, course_id: uuid.UUID | None):
    """`query` narrowed by the list filters every class list offers (status, type, course)."""
    if status:
        query = query.where(SchoolClass.status == status)
    if type_:
        query = query.where(SchoolClass.type == type_)
    if course_id:
        query = query.where(SchoolClass.course_id == course_id)
    return query


def _page(query, page: int, per_page: int | None):
    from babyowl.services.listing import PER_PAGE, paginate

    return paginate(query, page, per_page or PER_PAGE)


def classes_after(actor: User, *, status: str = "", type_: str = "", instructor_id: uuid.UUID | None = None,
                  course_id: uuid.UUID | None = None, after: list | None = None, limit: int = 20) -> Slice:
    """One keyset page of the classes `actor` sees: a student the ones they are in, an instructor theirs, staff
    every class; the filters of the class lists apply to all."""
    if actor.role == "student":
        query = _filtered(_classes_of(actor), status=status, type_=type_, course_id=course_id)
        if instructor_id:
            query = query.where(SchoolClass.instructor_id == instructor_id)
    else:
        query = _searched(actor, status=status, type_=type_, instructor_id=instructor_id, course_id=course_id)
    return keyset_page(query, CLASS_ORDER, after=after, limit=limit)


def _student_sees(student_id: uuid.UUID):
    """A student sees a class they are enrolled in, unless they withdrew (on the class's enrollment rows)."""
    return and_(ClassEnrollment.student_id == student_id, ClassEnrollment.status != "withdrawn")


def class_for(actor: User, class_id: uuid.UUID) -> SchoolClass:
    """The class if `actor` may see it: staff, its instructor, or one of its students; else not found."""
    school_class = db.session.get(SchoolClass, class_id)
    if school_class is None:
        raise ClassNotFound(_("This class does not exist."))
    if is_staff(actor) or can_teach(actor, school_class):
        return school_class
    if actor.role == "student" and db.session.scalar(select(func.count()).where(
            ClassEnrollment.class_id == class_id, _student_sees(actor.id))):
        return school_class
    raise ClassNotFound(_("This class does not exist."))


def class_of_student(student: User, class_id: uuid.UUID) -> tuple[SchoolClass, ClassEnrollment]:
    """The class as `class_for` lets a student see it, with their enrollment, in one statement."""
    row = db.session.execute(
        select(SchoolClass, ClassEnrollment)
        .join(ClassEnrollment, and_(ClassEnrollment.class_id == SchoolClass.id, _student_sees(student.id)))
        .where(SchoolClass.id == class_id)).first()
    if row is None:
        raise ClassNotFound(_("This class does not exist."))
    return row[0], row[1]


def roster(school_class: SchoolClass) -> list[ClassEnrollment]:
    return list(db.session.scalars(_roster(school_class).order_by(*(key.column for key in ROSTER_ORDER))))


# Active first (then completed, withdrawn), in the order they joined; the id parts a tie.
ROSTER_ORDER = (Key(ClassEnrollment.status, str), Key(ClassEnrollment.enrolled_at, datetime),
                Key(ClassEnrollment.id, uuid.UUID))


def _roster(school_class: SchoolClass):
    return (select(ClassEnrollment).options(joinedload(ClassEnrollment.student))
            .where(ClassEnrollment.class_id == school_class.id))


def roster_after(school_class: SchoolClass, *, after: list | None = None, limit: int = 20) -> Slice:
    return keyset_page(_roster(school_class), ROSTER_ORDER, after=after, limit=limit)


class PlanEntry(NamedTuple):
    number: int | None  # the meeting of this class that opens the lesson; None when covered before it began
    lesson: Lesson
    unlocked: bool  # open to the class's students (unlocked here, or covered by the class it continues)

    @property
    def covered(self) -> bool:
        return self.number is None


def lesson_plan(school_class: SchoolClass) -> list[PlanEntry]:
    """Every lesson of the course in teaching order: covered before this class, then this class's meetings.

    One statement: the lessons (with their sections) and whether this class, or the one it continues,
    unlocked each."""
    def unlocked_by(class_id):
        return exists().where(LessonUnlock.class_id == class_id, LessonUnlock.lesson_id == Lesson.id)

    covered = unlocked_by(school_class.continued_from_class_id) if school_class.continued_from_class_id \
        else literal(False)
    rows = db.session.execute(
        select(Lesson, unlocked_by(school_class.id), covered).join(Lesson.section)
        .options(contains_eager(Lesson.section)).where(Section.course_id == school_class.course_id)
        .order_by(Section.order_index, Lesson.order_index))
    return plan_of(rows)


def plan_of(rows) -> list[PlanEntry]:
    """The plan from (lesson, unlocked by this class, unlocked by the class it continues) in teaching order."""
    plan, meeting = [], 0
    for lesson, is_unlocked, is_covered, *_rest in rows:
        if is_covered and not is_unlocked:
            plan.append(PlanEntry(None, lesson, True))
        else:
            meeting += 1
            plan.append(PlanEntry(meeting, lesson, bool(is_unlocked)))
    return plan


def planned_lesson(actor: User, plan: list[PlanEntry], lesson_id: uuid.UUID) -> tuple[int, PlanEntry]:
    """(index, entry) of a lesson of the class's plan; for a student, only once it is open (else 403)."""
    found = next(((index, entry) for index, entry in enumerate(plan) if entry.lesson.id == lesson_id), None)
    if found is None:
        raise ClassNotFound(_("This lesson is not part of the class."))
    if actor.role == "student" and not found[1].unlocked:
        raise NotAllowed(_("This lesson is still locked. It opens after its meeting."))
    return found


def find_students(query_text: str, limit: int = 10) -> list[User]:
    from babyowl.services.listing import text_matches

    if len(query_text.strip()) < 2:
        return []
    return list(db.session.scalars(
        select(User).where(User.role == "student", User.status == "active",
                           text_matches(query_text, User.full_name, User.email))
        .order_by(User.full_name).limit(limit)))


def lesson_for_class(actor: User, school_class: SchoolClass, lesson_id: uuid.UUID) -> Lesson:
    """A lesson of the class's course; for a student, only once the class has unlocked it (else 403)."""
    return planned_lesson(actor, lesson_plan(school_class), lesson_id)[1].lesson


def next_meeting_day(school_class: SchoolClass) -> date | None:
    """The next day (from today, school time) that the schedule meets, within the class's dates."""
    from datetime import timedelta

    days = (school_class.schedule or {}).get("days") or []
    if school_class.status not in ("enrollment_open", "active", "draft") or not days:
        return None
    day = max(school_today(), school_class.start_date or school_today())
    for _offset in range(7):
        if WEEKDAYS[day.weekday()] in days:
            return day if not school_class.end_date or day <= school_class.end_date else None
        day += timedelta(days=1)
    return None


def form_choices() -> tuple[list[Course], list[User]]:
    """Published courses and active instructors, for the class forms."""
    courses = db.session.scalars(select(Course).where(Course.status == "published").order_by(Course.title)).all()
    instructors = db.session.scalars(select(User).where(User.role == "instructor", User.status == "active")
                                     .order_by(User.full_name)).all()
    return list(courses), list(instructors)


def enrollment_of(student: User, school_class: SchoolClass) -> ClassEnrollment | None:
    return db.session.scalar(select(ClassEnrollment).where(ClassEnrollment.class_id == school_class.id,
                                                           ClassEnrollment.student_id == student.id))


def enrollment_by_id(enrollment_id: uuid.UUID) -> ClassEnrollment:
    enrollment = db.session.get(ClassEnrollment, enrollment_id)
    if enrollment is None:
        raise ClassNotFound(_("This enrollment does not exist."))
    return enrollment


def class_history(student: User) -> list[ClassEnrollment]:
    """Every class the student has been in, newest first, with the class each continues."""
    return list(db.session.scalars(
        select(ClassEnrollment).where(ClassEnrollment.student_id == student.id)
        .options(joinedload(ClassEnrollment.school_class).joinedload(SchoolClass.course),
                 joinedload(ClassEnrollment.school_class).joinedload(SchoolClass.continued_from))
        .order_by(ClassEnrollment.enrolled_at.desc())))


def my_classes(student: User, *, status: str = "", type_: str = "", course_id: uuid.UUID | None = None,
               page: int = 1, per_page: int | None = None):
    """The classes a student is in (as `class_for` lets them see: any enrollment not withdrawn), newest first."""
    return _page(_filtered(_classes_of(student), status=status, type_=type_, course_id=course_id), page, per_page)


def _classes_of(student: User):
    return _class_list().where(SchoolClass.id.in_(select(ClassEnrollment.class_id).where(_student_sees(student.id))))


# Seats held by open invoices (services/payments.py) ------------------------------

def seats_held(class_id: uuid.UUID, *, except_invoice_id: uuid.UUID | None = None,
               except_student_id: uuid.UUID | None = None) -> int:
    """Seats promised to students who chose the class and whose invoice is still open (not yet enrolled)."""
    from babyowl.models import OPEN_INVOICE_STATUSES, Invoice

    query = select(func.count()).select_from(Invoice).where(
        Invoice.class_id == class_id, Invoice.kind == "enrollment", Invoice.enrollment_id.is_(None),
        Invoice.status.in_(OPEN_INVOICE_STATUSES))
    if except_invoice_id is not None:
        query = query.where(Invoice.id != except_invoice_id)
    if except_student_id is not None:
        query = query.where(Invoice.student_id != except_student_id)
    return db.session.scalar(query)


def seats_left(school_class: SchoolClass) -> int:
    """Free seats: capacity minus active students minus seats held by open invoices."""
    return max(0, school_class.max_capacity - _count_active(school_class.id) - seats_held(school_class.id))


def _hold_seat(student: User, school_class: SchoolClass) -> SchoolClass:
    """Check that `student` may choose the class now (the class row locked); the caller opens the invoice."""
    if student.role != "student" or student.status != "active":
        raise InvalidInput(_("Only an active student can be enrolled."))
    school_class = locked_class(school_class.id)
    if refusal := rules_for(school_class).enrollment_refusal(school_class):
        raise EnrollmentClosed(refusal)
    existing = enrollment_of(student, school_class)
    if existing is not None and existing.status != "withdrawn":
        raise AlreadyEnrolled(_("%(name)s is already enrolled in this class.", name=student.full_name))
    if seats_left(school_class) <= 0:
        raise ClassFull(_("This class is full (%(n)d of %(n)d seats taken).", n=school_class.max_capacity))
    return school_class


def _enroll_held(school_class: SchoolClass, student: User, invoice_id: uuid.UUID) -> ClassEnrollment:
    """Enroll a student whose held seat has been paid for (invoice verified): the deadline no longer applies,
    the seat was theirs; a class that ended or was cancelled meanwhile refuses."""
    school_class = locked_class(school_class.id)
    if school_class.status in ("completed", "cancelled"):
        raise EnrollmentClosed(_("This class has ended or was cancelled; refund the payment instead."))
    existing = enrollment_of(student, school_class)
    if existing is not None and existing.status == "active":
        return existing
    enrollment = _take_seat(school_class, student, existing,
                            held=seats_held(school_class.id, except_invoice_id=invoice_id))
    db.session.flush()
    school_class.current_capacity = _count_active(school_class.id)
    _follow_in_class_conversation(school_class)
    return enrollment


def _add_meetings(school_class: SchoolClass, meetings: int) -> None:
    """A paid top-up: the class's package grows by `meetings`, and its students' credits with it."""
    from babyowl.services import credits

    school_class = locked_class(school_class.id)
    if refusal := rules_for(school_class).package_refusal(school_class):
        raise DomainError(refusal)
    if school_class.total_meetings + meetings > MAX_MEETINGS:
        raise InvalidInput(_("The package must have from 1 to %(max)d meetings.", max=MAX_MEETINGS))
    school_class.total_meetings += meetings
    credits.package_changed(school_class, _active_enrollments(school_class.id), meetings)
