"""What each role sees first after signing in."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from babyowl.extensions import db
from babyowl.models import ClassEnrollment, SchoolClass, User

OPEN_CLASS_STATUSES = ("draft", "enrollment_open", "active")


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
    return {"classes": classes, "student_counts": counts, "enrollments": []}
