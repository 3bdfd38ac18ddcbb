"""`flask create-admin` and `flask seed-demo`."""
from __future__ import annotations

import sqlalchemy as sa

from babyowl.models import (
    ClassAttendance, ClassEnrollment, Course, CreditAdjustment, Exercise, LessonUnlock, SchoolClass, User,
)


def _count(db, model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_create_admin_with_flags(app, db):
    result = app.test_cli_runner().invoke(args=["create-admin", "--email", "Boss@School.id", "--name", "Ibu Kepala",
                                                "--password", "Str0ng#Pass"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.email == "boss@school.id"))
    assert user.role == "super_admin" and user.full_name == "Ibu Kepala"


def test_create_admin_prompts_when_flags_are_missing(app, db):
    result = app.test_cli_runner().invoke(args=["create-admin"],
                                          input="p@school.id\nPak Admin\nStr0ng#Pass\nStr0ng#Pass\n")
    assert result.exit_code == 0, result.output
    assert _count(db, User) == 1


def test_create_admin_refuses_a_weak_password_and_a_taken_email(app, db):
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["create-admin", "--email", "a@b.id", "--name", "A", "--password", "short"])
    assert weak.exit_code != 0
    assert "Use at least 8 characters." in weak.output and "Add a digit." in weak.output
    assert _count(db, User) == 0
    runner.invoke(args=["create-admin", "--email", "a@b.id", "--name", "A", "--password", "Str0ng#Pass"])
    again = runner.invoke(args=["create-admin", "--email", "A@b.id", "--name", "A", "--password", "Str0ng#Pass"])
    assert again.exit_code != 0 and "already exists" in again.output
    assert _count(db, User) == 1


def test_seed_demo_fills_a_realistic_school_and_is_idempotent(app, db):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "admin@babyowl.example" in first.output and "BabyOwl#2026" in first.output
    counts = {m: _count(db, m) for m in (User, Course, Exercise, SchoolClass, ClassEnrollment, ClassAttendance,
                                         LessonUnlock, CreditAdjustment)}
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert {m: _count(db, m) for m in counts} == counts

    types = set(db.session.scalars(sa.select(Exercise.type).distinct()))
    assert types == {"video", "quiz", "material", "assignment", "coding"}
    assert set(db.session.scalars(sa.select(SchoolClass.type).distinct())) == {"group", "private"}
    assert counts[ClassAttendance] > 0
    # Credits used agree with the marks that deducted a credit and the adjustments (the reconciliation invariant:
    # the demo's refunds remove unused credits).
    for enrollment in db.session.scalars(sa.select(ClassEnrollment)):
        deducted = db.session.scalar(sa.select(sa.func.count()).where(
            ClassAttendance.enrollment_id == enrollment.id, ClassAttendance.credit_deducted.is_(True)))
        adjusted = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(CreditAdjustment.adjustment), 0))
                                     .where(CreditAdjustment.enrollment_id == enrollment.id))
        assert enrollment.credits_used == deducted - adjusted
    for school_class in db.session.scalars(sa.select(SchoolClass)):
        assert school_class.lessons_unlocked <= school_class.meetings_completed
        assert school_class.current_capacity == _count_enrolled(db, school_class)


def _count_enrolled(db, school_class) -> int:
    return db.session.scalar(sa.select(sa.func.count()).where(ClassEnrollment.class_id == school_class.id))


def test_the_demo_has_an_invoice_in_every_state_and_its_refunds_reconcile(app, db):
    from babyowl.models import INVOICE_STATUSES, Invoice
    from babyowl.services import credits

    app.test_cli_runner().invoke(args=["seed-demo"])
    assert set(db.session.scalars(sa.select(Invoice.status).distinct())) == set(INVOICE_STATUSES)
    refunded = {i.number: i for i in db.session.scalars(sa.select(Invoice).where(
        Invoice.status.in_(("refunded", "partially_refunded"))))}
    assert refunded["DEMO-0009"].amount_refunded == refunded["DEMO-0009"].amount_received
    assert 0 < refunded["DEMO-0008"].amount_refunded < refunded["DEMO-0008"].amount_received
    assert {a.reason for a in db.session.scalars(sa.select(CreditAdjustment))} == {"refund"}
    assert credits.reconciliation() == []
    staff = app.test_client()
    staff.post("/login", data={"email": "staff@babyowl.example", "password": "BabyOwl#2026"})
    queue = staff.get("/payments?status=refunded").get_data(as_text=True)
    assert "DEMO-0009" in queue and "DEMO-0008" not in queue


def test_demo_logins_can_sign_in(app, db):
    app.test_cli_runner().invoke(args=["seed-demo"])
    client = app.test_client()
    response = client.post("/login", data={"email": "staff@babyowl.example", "password": "BabyOwl#2026"})
    assert response.status_code == 303
    assert "Python Dasar" in client.get("/dashboard").get_data(as_text=True)
