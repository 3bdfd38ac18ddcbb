"""Attendance reports: the long format staff reconcile from, and the matrix people read.

Long format: one row per student per meeting, with the credits the student
had left after that meeting, computed from the records themselves:

    meeting credits - marks that deducted a credit in meetings 1..n
                    + adjustments made up to the moment meeting n was marked

Rows are streamed from the database (`yield_per`), so an export of any size
holds only one batch in memory.

This module produces plain rows (`ExportRow`, `Matrix`: dataclasses of plain
values, no models); the reports blueprint's writers turn them into CSV, xlsx
and PDF.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Integer, case, func, select
from sqlalchemy.orm import aliased, joinedload

from babyowl.extensions import db
from babyowl.models import ClassAttendance, ClassEnrollment, Course, CreditAdjustment, SchoolClass, User
from babyowl.services.credits import used_by
from babyowl.services.listing import text_matches

COLUMNS = (
    "attendance_id", "class_id", "class_name", "course", "instructor", "meeting_number", "meeting_date",
    "student_id", "student_name", "student_email", "status", "credit_deducted", "credits_remaining_after",
    "marked_by", "marked_at", "changed_by", "changed_at", "note",
)
BATCH = 2000


@dataclass(frozen=True)
class ExportFilter:
    date_from: date | None = None
    date_to: date | None = None
    class_id: uuid.UUID | None = None
    instructor_id: uuid.UUID | None = None
    student: str = ""  # part of a student's name or email


@dataclass
class ExportRow:
    attendance_id: uuid.UUID
    class_id: uuid.UUID
    class_name: str
    course: str
    instructor: str | None
    meeting_number: int
    meeting_date: date
    student_id: uuid.UUID
    student_name: str
    student_email: str
    status: str
    credit_deducted: bool
    credits_remaining_after: int
    marked_by: str | None
    marked_at: datetime
    changed_by: str | None
    changed_at: datetime | None
    note: str | None


def _export_query(filters: ExportFilter):
    student, instructor = aliased(User), aliased(User)
    marker, changer = aliased(User), aliased(User)
    # The running count covers every meeting of the enrollment, whatever the
    # date range, so "credits remaining after" is the same in every export.
    running = (select(ClassAttendance.id.label("attendance_id"),
                      func.sum(case((ClassAttendance.credit_deducted.is_(True), 1), else_=0)).over(
                          partition_by=ClassAttendance.enrollment_id, order_by=ClassAttendance.meeting_number)
                      .label("used_through"))
               .join(SchoolClass, SchoolClass.id == ClassAttendance.class_id)
               .join(ClassEnrollment, ClassEnrollment.id == ClassAttendance.enrollment_id)
               .join(student, student.id == ClassEnrollment.student_id))
    if filters.class_id:
        running = running.where(ClassAttendance.class_id == filters.class_id)
    if filters.instructor_id:
        running = running.where(SchoolClass.instructor_id == filters.instructor_id)
    if filters.student.strip():
        running = running.where(text_matches(filters.student, student.full_name, student.email))
    running = running.subquery()
    adjusted = (select(func.coalesce(func.sum(CreditAdjustment.adjustment), 0))
                .where(CreditAdjustment.enrollment_id == ClassAttendance.enrollment_id,
                       CreditAdjustment.adjusted_at <= ClassAttendance.marked_at)
                .correlate(ClassAttendance).scalar_subquery())
    remaining = (ClassEnrollment.meeting_credits - running.c.used_through + adjusted).cast(Integer)
    query = (select(ClassAttendance.id, SchoolClass.id, SchoolClass.name, Course.title, instructor.full_name,
                    ClassAttendance.meeting_number, ClassAttendance.meeting_date, student.id, student.full_name,
                    student.email, ClassAttendance.status, ClassAttendance.credit_deducted, remaining,
                    marker.full_name, ClassAttendance.marked_at, changer.full_name, ClassAttendance.updated_at,
                    ClassAttendance.notes)
             .join(running, running.c.attendance_id == ClassAttendance.id)
             .join(SchoolClass, SchoolClass.id == ClassAttendance.class_id)
             .join(Course, Course.id == SchoolClass.course_id)
             .join(ClassEnrollment, ClassEnrollment.id == ClassAttendance.enrollment_id)
             .join(student, student.id == ClassEnrollment.student_id)
             .outerjoin(instructor, instructor.id == SchoolClass.instructor_id)
             .outerjoin(marker, marker.id == ClassAttendance.marked_by)
             .outerjoin(changer, changer.id == ClassAttendance.updated_by))
    if filters.date_from:
        query = query.where(ClassAttendance.meeting_date >= filters.date_from)
    if filters.date_to:
        query = query.where(ClassAttendance.meeting_date <= filters.date_to)
    return query.order_by(SchoolClass.name, SchoolClass.id, ClassAttendance.meeting_number,
                          func.lower(student.full_name), student.id)


def export_rows(filters: ExportFilter, limit: int | None = None) -> Iterator[ExportRow]:
    """The long-format rows in a stable order (class, meeting, student), fetched in batches."""
    query = _export_query(filters)
    if limit is not None:
        query = query.limit(limit)
    result = db.session.execute(query.execution_options(yield_per=BATCH))
    for values in result:
        yield ExportRow(*values)


def export_count(filters: ExportFilter) -> int:
    return db.session.scalar(select(func.count()).select_from(_export_query(filters).order_by(None).subquery()))


@dataclass
class MatrixRow:
    enrollment_id: uuid.UUID
    student_name: str
    student_email: str
    enrollment_status: str
    credits_remaining: int
    marks: dict[int, str]  # meeting number → status
    attended: int = 0
    late: int = 0
    absent: int = 0

    @property
    def rate(self) -> Decimal | None:
        return _rate(self.attended, self.attended + self.absent)


@dataclass
class MeetingTotal:
    present: int = 0
    late: int = 0
    absent: int = 0

    @property
    def rate(self) -> Decimal | None:
        return _rate(self.present + self.late, self.present + self.late + self.absent)


@dataclass
class Matrix:
    class_id: uuid.UUID
    class_name: str
    course_title: str
    instructor_name: str | None
    meetings: list[int]
    meeting_dates: dict[int, date]
    rows: list[MatrixRow]
    totals: dict[int, MeetingTotal] = field(default_factory=dict)

    @property
    def rate(self) -> Decimal | None:
        attended = sum(t.present + t.late for t in self.totals.values())
        return _rate(attended, attended + sum(t.absent for t in self.totals.values()))


def _rate(part: int, whole: int) -> Decimal | None:
    return (Decimal(part * 100) / whole).quantize(Decimal("0.1")) if whole else None


def matrix(school_class: SchoolClass) -> Matrix:
    """Students × meetings held, with each student's and each meeting's totals and rates (two queries)."""
    enrollments = db.session.scalars(
        select(ClassEnrollment).options(joinedload(ClassEnrollment.student))
        .where(ClassEnrollment.class_id == school_class.id)).all()
    records = db.session.execute(select(ClassAttendance.enrollment_id, ClassAttendance.meeting_number,
                                        ClassAttendance.meeting_date, ClassAttendance.status)
                                 .where(ClassAttendance.class_id == school_class.id)).all()
    by_enrollment: dict[uuid.UUID, dict[int, str]] = {}
    dates: dict[int, date] = {}
    totals: dict[int, MeetingTotal] = {}
    for enrollment_id, number, meeting_date, status in records:
        by_enrollment.setdefault(enrollment_id, {})[number] = status
        dates.setdefault(number, meeting_date)
        total = totals.setdefault(number, MeetingTotal())
        setattr(total, status, getattr(total, status) + 1)
    rows = []
    for enrollment in enrollments:
        marks = by_enrollment.get(enrollment.id, {})
        if enrollment.status == "withdrawn" and not marks:
            continue
        row = MatrixRow(enrollment.id, enrollment.student.full_name, enrollment.student.email, enrollment.status,
                        enrollment.credits_remaining, marks)
        for status in marks.values():
            row.attended += bool(used_by(status))
            row.late += status == "late"
            row.absent += status == "absent"
        rows.append(row)
    rows.sort(key=lambda row: row.student_name.lower())
    meetings = sorted(dates)
    return Matrix(school_class.id, school_class.name, school_class.course.title,
                  school_class.instructor.full_name if school_class.instructor else None,
                  meetings, dates, rows, {n: totals[n] for n in meetings})


def filter_choices() -> tuple[list[SchoolClass], list[User]]:
    """Classes that have marks, and the instructors of any class, for the staff report's filters."""
    with_marks = select(ClassAttendance.class_id).distinct()
    school_classes = db.session.scalars(select(SchoolClass).where(SchoolClass.id.in_(with_marks))
                                        .order_by(SchoolClass.name, SchoolClass.id)).all()
    instructors = db.session.scalars(select(User).where(User.id.in_(select(SchoolClass.instructor_id)))
                                     .order_by(User.full_name)).all()
    return list(school_classes), list(instructors)
