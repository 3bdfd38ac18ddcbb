"""What each role sees first after signing in."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from babyowl.extensions import db
from babyowl.models import ClassAttendance, ClassEnrollment, SchoolClass, User
from babyowl.services.school_time import school_today

OPEN_CLASS_STATUSES = ("draft", "enrollment_open", "active")


@dataclass
class TodaysClass:
    school_class: SchoolClass
    marked: int  # students marked for a meeting dated today
    students: int

    @property
    def attendance_taken(self) -> bool:
        return self.marked > 0


def meets_on(school_class: SchoolClass, day) -> bool:
    """Whether the class's schedule meets that day, within its dates."""
    from babyowl.services.classes import WEEKDAYS

    days = (school_class.schedule or {}).get("days") or []
    return (WEEKDAYS[day.weekday()] in days and (school_class.start_date is None or school_class.start_date <= day)
            and (school_class.end_date is None or day <= school_class.end_date))


def todays_classes(classes: list[SchoolClass], student_counts: dict) -> list[TodaysClass]:
    """The active classes meeting today (school time), with how far today's attendance has got."""
    today = school_today()
    meeting = [c for c in classes if c.status == "active" and meets_on(c, today)]
    if not meeting:
        return []
    marked = dict(db.session.execute(
        select(ClassAttendance.class_id, func.count())
        .where(ClassAttendance.class_id.in_([c.id for c in meeting]), ClassAttendance.meeting_date == today)
        .group_by(ClassAttendance.class_id)).all())
    return [TodaysClass(c, marked.get(c.id, 0), student_counts.get(c.id, 0))
            for c in sorted(meeting, key=lambda c: ((c.schedule or {}).get("time") or "", c.name))]


def summary_for(user: User) -> dict:
    if user.role == "student":
        enrollments = db.session.scalars(
            select(ClassEnrollment)
            .where(ClassEnrollment.student_id == user.id, ClassEnrollment.status == "active")
            .options(joinedload(ClassEnrollment.school_class).joinedload(SchoolClass.course))
            .order_by(ClassEnrollment.enrolled_at)
        ).all()
        from babyowl.services.classes import next_meeting_day

        return {"enrollments": enrollments, "classes": [],
                "next_meetings": {e.class_id: next_meeting_day(e.school_class) for e in enrollments}}

    query = (
        select(SchoolClass)
        .where(SchoolClass.status.in_(OPEN_CLASS_STATUSES))
        .options(joinedload(SchoolClass.course), joinedload(SchoolClass.instructor))
        .order_by(SchoolClass.start_date, SchoolClass.name)
    )
    if user.role == "instructor":
        query = query.where(SchoolClass.instructor_id == user.id)
    classes = db.session.scalars(query).all()
    counts = dict(
        db.session.execute(
            select(ClassEnrollment.class_id, func.count())
            .where(ClassEnrollment.class_id.in_([c.id for c in classes]), ClassEnrollment.status == "active")
            .group_by(ClassEnrollment.class_id)
        ).all()
    ) if classes else {}
    today = todays_classes(classes, counts) if user.role == "instructor" else []
    return {"classes": classes, "student_counts": counts, "enrollments": [], "today": today}
