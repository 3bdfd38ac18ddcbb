"""Staff's dashboard: what needs doing today, in a fixed number of queries whatever the size of the school.

Each figure is one aggregate query (or one list with a LIMIT): today's meetings and whether attendance was
taken, the attendance rate this week against last week, students at or below one credit, payments waiting
for verification and overdue invoices, money verified per month (this month and the six before), classes
filling up and enrollment deadlines this week, and emails that failed for good (from the job queue).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload

from babyowl.extensions import db
from babyowl.models import ClassAttendance, ClassEnrollment, Invoice, InvoiceEvent, SchoolClass
from babyowl.models.base import utcnow
from babyowl.services import dashboard
from babyowl.services.school_time import school_moment, school_today

LOW_CREDIT = 1
LISTED = 10
MONTHS = 7  # this month and the six before


@dataclass(frozen=True)
class MonthRevenue:
    month: date
    amount: Decimal


@dataclass(frozen=True)
class Bar:
    """One bar of the revenue chart, in SVG units (computed here so the template only draws)."""

    x: int
    y: int
    height: int
    label: str
    amount: Decimal
    current: bool


def _rate(present, total) -> Decimal | None:
    return (Decimal(present) * 100 / Decimal(total)).quantize(Decimal("0.1")) if total else None


def _attendance_rates(today: date) -> tuple[Decimal | None, Decimal | None]:
    monday = today - timedelta(days=today.weekday())
    last_monday = monday - timedelta(days=7)
    attended = ClassAttendance.status.in_(("present", "late"))
    this_week = (ClassAttendance.meeting_date >= monday) & (ClassAttendance.meeting_date <= today)
    last_week = (ClassAttendance.meeting_date >= last_monday) & (ClassAttendance.meeting_date < monday)
    row = db.session.execute(select(
        func.count().filter(this_week & attended), func.count().filter(this_week),
        func.count().filter(last_week & attended), func.count().filter(last_week),
    ).where(ClassAttendance.meeting_date >= last_monday, ClassAttendance.meeting_date <= today)).one()
    return _rate(row[0], row[1]), _rate(row[2], row[3])


def _month_start(day: date, back: int) -> date:
    year, month = day.year, day.month - back
    while month < 1:
        month += 12
        year -= 1
    return date(year, month, 1)


def _revenue(today: date) -> list[MonthRevenue]:
    """Money received (verified and partial payments) per school-calendar month, minus refunds."""
    first = _month_start(today, MONTHS - 1)
    tz = current_app.config["SCHOOL_TIMEZONE"]
    if db.engine.dialect.name == "postgresql":
        month = func.to_char(func.timezone(tz, InvoiceEvent.created_at), "YYYY-MM")
    else:
        month = func.strftime("%Y-%m", InvoiceEvent.created_at)
    signed = func.sum(case((InvoiceEvent.new_status.in_(("refunded", "partially_refunded")), -InvoiceEvent.amount),
                           else_=InvoiceEvent.amount))
    rows = dict(db.session.execute(
        select(month, signed).where(
            InvoiceEvent.new_status.in_(("verified", "partially_paid", "refunded", "partially_refunded")),
            InvoiceEvent.old_status.is_not(None), InvoiceEvent.created_at >= school_moment(first, time(0)))
        .group_by(month)).all())
    months = [_month_start(today, back) for back in range(MONTHS - 1, -1, -1)]
    return [MonthRevenue(m, Decimal(rows.get(f"{m:%Y-%m}") or 0)) for m in months]


def revenue_bars(revenue: list[MonthRevenue], *, width: int = 36, gap: int = 12, height: int = 120) -> list[Bar]:
    from babyowl.i18n import date_local

    top = max((r.amount for r in revenue), default=Decimal(0)) or Decimal(1)
    bars = []
    for index, item in enumerate(revenue):
        bar_height = int(Decimal(height) * item.amount / top) if item.amount > 0 else 0
        bars.append(Bar(x=index * (width + gap), y=height - bar_height, height=bar_height,
                        label=date_local(item.month, "MMM"), amount=item.amount, current=index == len(revenue) - 1))
    return bars


def staff_dashboard() -> dict:
    today = school_today()
    now = utcnow()
    running = list(db.session.scalars(
        select(SchoolClass).where(SchoolClass.status.in_(dashboard.OPEN_CLASS_STATUSES))
        .options(joinedload(SchoolClass.course), joinedload(SchoolClass.instructor))
        .order_by(SchoolClass.start_date, SchoolClass.name)))
    counts = dict(db.session.execute(
        select(ClassEnrollment.class_id, func.count()).join(SchoolClass)
        .where(SchoolClass.status.in_(dashboard.OPEN_CLASS_STATUSES), ClassEnrollment.status == "active")
        .group_by(ClassEnrollment.class_id)).all())
    todays = dashboard.todays_classes(running, counts)

    remaining = ClassEnrollment.meeting_credits - ClassEnrollment.credits_used
    low_filter = (ClassEnrollment.status == "active", remaining <= LOW_CREDIT)
    low_count = db.session.scalar(select(func.count()).select_from(ClassEnrollment).where(*low_filter))
    low_credit = list(db.session.scalars(
        select(ClassEnrollment).where(*low_filter)
        .options(joinedload(ClassEnrollment.student), joinedload(ClassEnrollment.school_class))
        .order_by(remaining, ClassEnrollment.id).limit(LISTED)))

    waiting = db.session.execute(select(func.count(), func.coalesce(func.sum(Invoice.expected_total), 0))
                                 .where(Invoice.status == "submitted")).one()
    overdue = db.session.execute(select(func.count(), func.coalesce(func.sum(Invoice.expected_total
                                                                              - Invoice.amount_received), 0))
                                 .where(Invoice.status.in_(("pending", "rejected", "partially_paid")),
                                        Invoice.due_at < now)).one()

    week_end = today + timedelta(days=6 - today.weekday())
    held = (select(Invoice.class_id, func.count().label("n"))
            .where(Invoice.kind == "enrollment", Invoice.enrollment_id.is_(None),
                   Invoice.status.in_(("pending", "submitted", "partially_paid", "rejected")))
            .group_by(Invoice.class_id).subquery())
    taken = SchoolClass.current_capacity + func.coalesce(held.c.n, 0)
    filling = list(db.session.execute(
        select(SchoolClass, taken).outerjoin(held, held.c.class_id == SchoolClass.id)
        .where(SchoolClass.status == "enrollment_open",
               (taken * 100 >= SchoolClass.max_capacity * 80) | (SchoolClass.enrollment_deadline.between(
                   today, week_end)))
        .order_by(SchoolClass.enrollment_deadline, SchoolClass.name).limit(LISTED)).all())

    revenue = _revenue(today)
    this_week, last_week = _attendance_rates(today)
    return {"classes": running, "student_counts": counts, "today": todays,
            "rate_this_week": this_week, "rate_last_week": last_week,
            "low_credit": low_credit, "low_credit_count": low_count,
            "waiting_count": waiting[0], "waiting_amount": waiting[1],
            "overdue_count": overdue[0], "overdue_amount": overdue[1],
            "filling": filling, "week_end": week_end, "revenue": revenue, "bars": revenue_bars(revenue),
            "failed_emails": failed_email_count()}


def failed_email_count() -> int | None:
    """Emails that failed for good (the job queue's failed registry); None when no queue can be asked."""
    from babyowl import jobs
    from babyowl.services.failed_mail import EMAIL_FUNCTIONS

    try:
        return len(jobs.failed(EMAIL_FUNCTIONS, limit=200))
    except jobs.QueueUnavailable:
        return None
