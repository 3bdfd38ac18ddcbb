"""Invoices: the unique code, each state change and its refusal, delivery exactly once, refunds, expiry."""
from __future__ import annotations

import io
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from babyowl.extensions import db as _db
from babyowl.models import (
    ClassEnrollment, Conversation, ConversationMember, CreditAdjustment, Invoice, InvoiceDelivery, InvoiceEvent,
    Notification, OutboundEmail,
)
from babyowl.models.base import utcnow
from babyowl.services import classes, credits, payments
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from babyowl.services.payments import ProofUpload
from tests.factories import make_class, make_enrollment, make_user
from tests.helpers import reload

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PDF = b"%PDF-1.7\n%%EOF\n"
PRICE = Decimal("1750000.00")


@pytest.fixture
def staff(db):
    return make_user("staff")


@pytest.fixture
def open_class(db):
    return make_class(status="enrollment_open", max_capacity=2, package_price=PRICE, total_meetings=10,
                      enrollment_deadline=utcnow().date() + timedelta(days=7),
                      start_date=utcnow().date() + timedelta(days=8))


@pytest.fixture
def student(db):
    return make_user("student")


def proof(data=PNG, name="bukti.png"):
    return ProofUpload(name, io.BytesIO(data))


def events(db, invoice):
    return [(e.old_status, e.new_status) for e in db.session.scalars(
        select(InvoiceEvent).where(InvoiceEvent.invoice_id == invoice.id).order_by(InvoiceEvent.created_at))]


def test_choosing_a_class_opens_an_invoice_with_a_code_and_holds_a_seat(db, open_class, student):
    invoice = payments.choose_class(student, open_class)

    assert invoice.status == "pending" and invoice.amount_due == PRICE
    assert 1 <= invoice.unique_code <= 999 and invoice.expected_total == PRICE + invoice.unique_code
    assert invoice.number.startswith("INV-") and invoice.enrollment_id is None
    assert invoice.due_at > utcnow() + timedelta(days=2)
    assert classes.seats_left(reload(db, open_class)) == 1
    assert db.session.scalar(select(func.count()).select_from(ClassEnrollment)) == 0
    assert events(db, invoice) == [(None, "pending")]
    [note] = db.session.scalars(select(Notification).where(Notification.user_id == student.id)).all()
    assert note.type == "payment" and invoice.number in note.title
    [mail] = db.session.scalars(select(OutboundEmail).where(OutboundEmail.user_id == student.id)).all()
    assert mail.to_address == student.email and invoice.number in mail.subject
    assert mail.status == "sent"  # inline here: no job queue in this test


def test_no_two_open_invoices_expect_the_same_total(db, open_class):
    other = make_class(status="enrollment_open", max_capacity=5, package_price=PRICE - 1,
                       enrollment_deadline=utcnow().date() + timedelta(days=7))
    totals = [payments.choose_class(make_user("student"), c).expected_total for c in (open_class, other, other)]
    assert len(set(totals)) == 3
    numbers = db.session.scalars(select(Invoice.number)).all()
    assert len(set(numbers)) == 3


def test_a_cancelled_invoices_total_is_free_again_and_the_index_guards_open_totals(db, open_class, staff):
    first = payments.choose_class(make_user("student"), open_class)
    payments.cancel(staff, first, "Salah kelas")
    second = payments.choose_class(make_user("student"), open_class)
    assert second.expected_total == first.expected_total  # the code is reused once the first is closed
    from sqlalchemy.exc import IntegrityError

    clash = Invoice(number="INV-X", kind="enrollment", student_id=second.student_id, class_id=open_class.id,
                    meetings=1, amount_due=PRICE, unique_code=second.unique_code,
                    expected_total=second.expected_total, due_at=utcnow())
    db.session.add(clash)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_a_full_class_refuses_when_seats_are_held(db, open_class):
    payments.choose_class(make_user("student"), open_class)
    payments.choose_class(make_user("student"), open_class)
    with pytest.raises(classes.ClassFull):
        payments.choose_class(make_user("student"), open_class)
    # Staff cannot enroll into a held seat either.
    with pytest.raises(classes.ClassFull):
        classes.enroll(make_user("staff"), open_class, make_user("student"))


def test_one_open_invoice_per_class_and_only_priced_open_classes(db, open_class, student):
    payments.choose_class(student, open_class)
    with pytest.raises(payments.WrongState):
        payments.choose_class(student, open_class)
    with pytest.raises(payments.NoPrice):
        payments.choose_class(student, make_class(status="enrollment_open"))
    with pytest.raises(classes.EnrollmentClosed):
        payments.choose_class(student, make_class(status="active", package_price=PRICE))
    with pytest.raises(NotAllowed):
        payments.choose_class(make_user("staff"), open_class)


def test_staff_enrolling_invoices_the_enrollment_and_desk_payment_verifies_it(db, open_class, staff):
    enrollment = classes.enroll(staff, open_class, make_user("student"))
    invoice = db.session.scalar(select(Invoice))
    assert invoice.enrollment_id == enrollment.id and reload(db, enrollment).payment_status == "pending"

    paid = classes.enroll(staff, open_class, make_user("student"), paid_at_desk="Rp 1.750.000")
    desk = db.session.scalar(select(Invoice).where(Invoice.enrollment_id == paid.id))
    assert desk.status == "verified" and desk.amount_received == PRICE
    assert reload(db, paid).payment_status == "verified"
    assert events(db, desk) == [(None, "pending"), ("pending", "verified")]
    assert db.session.scalar(select(InvoiceEvent.actor_id).where(InvoiceEvent.new_status == "verified")) == staff.id


def test_a_class_without_price_is_not_invoiced_nor_paid_at_the_desk(db, staff):
    unpriced = make_class(status="enrollment_open")
    enrollment = classes.enroll(staff, unpriced, make_user("student"))
    assert enrollment.payment_status == "pending" and db.session.scalar(select(func.count(Invoice.id))) == 0
    with pytest.raises(payments.NoPrice):
        classes.enroll(staff, unpriced, make_user("student"), paid_at_desk="1.500.000")
    assert db.session.scalar(select(func.count(ClassEnrollment.id))) == 1


def test_proof_then_verify_enrolls_the_student_with_the_packages_credits(app, db, open_class, student, staff):
    invoice = payments.choose_class(student, open_class)
    payments.submit_proof(student, invoice, proof(), sender_name="Siti", sender_bank="BCA")
    assert reload(db, invoice).status == "submitted"
    [stored] = invoice.proofs
    assert stored.content_type == "image/png" and len(stored.sha256) == 64

    payments.verify(staff, invoice, str(invoice.expected_total))

    invoice = reload(db, invoice)
    enrollment = db.session.get(ClassEnrollment, invoice.enrollment_id)
    assert invoice.status == "verified" and enrollment.student_id == student.id
    assert (enrollment.status, enrollment.payment_status, enrollment.credits_remaining) == ("active", "verified", 10)
    assert db.session.scalar(select(func.count(InvoiceDelivery.id))) == 1
    assert reload(db, open_class).current_capacity == 1
    assert events(db, invoice) == [(None, "pending"), ("pending", "submitted"), ("submitted", "verified")]
    # The class conversation follows enrollment however it came about (services/messages.py).
    conversation = db.session.scalar(select(Conversation).where(Conversation.class_id == open_class.id))
    assert student.id in set(db.session.scalars(select(ConversationMember.user_id).where(
        ConversationMember.conversation_id == conversation.id, ConversationMember.left_at.is_(None))))


@pytest.mark.parametrize("data,name", [(b"MZ\x90\x00 not a picture", "bukti.png"), (b"", "kosong.jpg"),
                                       (b"GIF89a....", "bukti.gif")])
def test_a_proof_that_is_not_a_jpeg_png_or_pdf_is_refused(db, open_class, student, data, name):
    invoice = payments.choose_class(student, open_class)
    with pytest.raises(InvalidInput):
        payments.submit_proof(student, invoice, proof(data, name))
    assert reload(db, invoice).status == "pending" and invoice.proofs == []


def test_a_proof_over_the_size_cap_is_refused(db, open_class, student):
    invoice = payments.choose_class(student, open_class)
    with pytest.raises(InvalidInput, match="larger than 5 MB"):
        payments.submit_proof(student, invoice, proof(JPEG + b"\x00" * payments.MAX_PROOF_BYTES))


def test_the_same_file_sent_for_two_invoices_is_flagged(db, open_class):
    first, second = (payments.choose_class(make_user("student"), open_class) for _ in range(2))
    a = payments.submit_proof(first.student, first, proof(PDF, "a.pdf"))
    assert not payments.is_reused(a)
    b = payments.submit_proof(second.student, second, proof(PDF, "b.pdf"))
    assert payments.is_reused(a) and payments.is_reused(b)
    assert payments.reused_hashes([reload(db, first)]) == {a.sha256}


def test_another_students_invoice_does_not_exist_for_them(db, open_class, student):
    invoice = payments.choose_class(student, open_class)
    with pytest.raises(payments.InvoiceNotFound):
        payments.invoice_for(make_user("student"), invoice.id)
    with pytest.raises(payments.InvoiceNotFound):
        payments.submit_proof(make_user("student"), invoice, proof())
    assert payments.invoice_for(make_user("staff"), invoice.id) == invoice


def test_less_than_due_is_partly_paid_with_the_rest_due_then_paid_in_full(db, open_class, staff):
    enrollment = classes.enroll(staff, open_class, make_user("student"))
    invoice = db.session.scalar(select(Invoice))
    payments.verify(staff, invoice, "1.000.000")
    invoice = reload(db, invoice)
    assert invoice.status == "partially_paid" and invoice.amount_outstanding == PRICE + invoice.unique_code - 1000000
    assert reload(db, enrollment).payment_status == "partially_paid"
    assert db.session.scalar(select(func.count(InvoiceDelivery.id))) == 0
    payments.submit_proof(staff, invoice, proof())
    payments.verify(staff, invoice, "750.000")
    assert reload(db, invoice).status == "verified" and reload(db, enrollment).payment_status == "verified"
    assert db.session.scalar(select(func.count(InvoiceDelivery.id))) == 1


def test_reject_needs_a_reason_and_the_student_may_upload_again(db, open_class, student, staff):
    invoice = payments.choose_class(student, open_class)
    with pytest.raises(payments.WrongState):
        payments.reject(staff, invoice, "Buram")  # nothing submitted yet
    payments.submit_proof(student, invoice, proof())
    with pytest.raises(InvalidInput):
        payments.reject(staff, invoice, "  ")
    payments.reject(staff, invoice, "Foto buram")
    assert reload(db, invoice).status == "rejected"
    subjects = db.session.scalars(select(OutboundEmail.subject).where(OutboundEmail.user_id == student.id)).all()
    assert any(s.startswith("Proof not accepted") for s in subjects)
    assert events(db, invoice)[-1] == ("submitted", "rejected")
    assert db.session.scalar(select(InvoiceEvent.reason).where(InvoiceEvent.new_status == "rejected")) == "Foto buram"
    payments.submit_proof(student, invoice, proof(JPEG, "lagi.jpg"))
    assert reload(db, invoice).status == "submitted"


def test_only_staff_verify_reject_cancel_and_refund(db, open_class, student):
    invoice = payments.choose_class(student, open_class)
    for role in ("student", "instructor"):
        user = make_user(role)
        with pytest.raises(NotAllowed):
            payments.verify(user, invoice, "1750000")
        with pytest.raises(NotAllowed):
            payments.reject(user, invoice, "x")
        with pytest.raises(NotAllowed):
            payments.cancel(user, invoice, "x")
        with pytest.raises(NotAllowed):
            payments.refund(user, invoice, credits=1, amount="1", reason="x")
    assert reload(db, invoice).status == "pending"


def test_a_verified_invoice_cannot_be_verified_cancelled_or_rejected_again(db, open_class, student, staff):
    invoice = payments.choose_class(student, open_class)
    payments.verify(staff, invoice, "1750000")
    for attempt in (lambda: payments.verify(staff, invoice, "1750000"), lambda: payments.cancel(staff, invoice, "x"),
                    lambda: payments.reject(staff, invoice, "x"),
                    lambda: payments.submit_proof(student, invoice, proof())):
        with pytest.raises(payments.WrongState):
            attempt()
    assert db.session.scalar(select(func.count(InvoiceDelivery.id))) == 1


def test_expiry_frees_the_seat_only_after_the_due_date_and_twice_is_a_no_op(db, open_class, student):
    from babyowl.jobs.payments import expire_invoice

    invoice = payments.choose_class(student, open_class)
    assert expire_invoice(str(invoice.id)) is False and reload(db, invoice).status == "pending"
    invoice.due_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert expire_invoice(str(invoice.id)) is True
    assert expire_invoice(str(invoice.id)) is False
    assert reload(db, invoice).status == "expired" and classes.seats_left(reload(db, open_class)) == 2
    assert events(db, invoice)[-1] == ("pending", "expired")
    assert db.session.scalar(select(InvoiceEvent.actor_id).where(InvoiceEvent.new_status == "expired")) is None


def test_the_sweep_expires_every_unpaid_invoice_past_due_but_not_submitted_ones(db, open_class):
    first, second = (payments.choose_class(make_user("student"), open_class) for _ in range(2))
    payments.submit_proof(second.student, second, proof())
    for invoice in (first, second):
        invoice.due_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    assert payments.expire_due() == 1
    assert (reload(db, first).status, reload(db, second).status) == ("expired", "submitted")


def test_a_top_up_adds_meetings_and_credits_once(db, staff):
    private = make_class(type="private", status="active", max_capacity=1, total_meetings=4,
                         meeting_price=Decimal("200000"))
    enrollment = make_enrollment(private)
    invoice = payments.request_top_up(staff, enrollment, 5)
    assert invoice.amount_due == Decimal("1000000.00") and invoice.kind == "top_up"
    payments.verify(staff, invoice, "1.000.000")
    assert reload(db, private).total_meetings == 9 and reload(db, enrollment).credits_remaining == 9
    assert reload(db, enrollment).payment_status == "verified"
    with pytest.raises(DomainError):
        payments.request_top_up(staff, make_enrollment(make_class(package_price=PRICE)), 2)


def test_a_refund_removes_only_unused_credits_and_reconciliation_stays_balanced(db, open_class, staff):
    enrollment = classes.enroll(staff, open_class, make_user("student"), paid_at_desk="1750000")
    invoice = db.session.scalar(select(Invoice))
    with pytest.raises(DomainError, match="Only 10 credits are unused"):
        payments.refund(staff, invoice, credits=11, amount="1.000.000", reason="Pindah kota")
    with pytest.raises(InvalidInput):
        payments.refund(staff, invoice, credits=2, amount="99.000.000", reason="Pindah kota")
    payments.refund(staff, invoice, credits=4, amount="700.000", reason="Pindah kota")
    invoice, enrollment = reload(db, invoice), reload(db, enrollment)
    assert invoice.status == "partially_refunded" and invoice.amount_refunded == Decimal("700000")
    assert enrollment.credits_remaining == 6 and enrollment.payment_status == "partially_refunded"
    [adjustment] = db.session.scalars(select(CreditAdjustment)).all()
    assert (adjustment.adjustment, adjustment.reason) == (-4, "refund")
    assert credits.reconciliation() == []
    payments.refund(staff, invoice, credits=6, amount="1.050.000", reason="Sisa")
    assert reload(db, invoice).status == "refunded" and reload(db, enrollment).credits_remaining == 0
    assert credits.reconciliation() == []


def test_bank_accounts_are_set_by_a_super_admin_only(db, staff):
    admin = make_user("super_admin")
    with pytest.raises(NotAllowed):
        payments.add_bank_account(staff, bank_name="BCA", account_number="123", account_holder="Baby Owl")
    account = payments.add_bank_account(admin, bank_name="BCA", account_number="1234567890",
                                        account_holder="PT Baby Owl")
    with pytest.raises(DomainError):
        payments.add_bank_account(admin, bank_name="BCA", account_number="1234567890", account_holder="x")
    assert payments.bank_accounts() == [account]
    payments.set_bank_account_active(admin, account.id, False)
    assert payments.bank_accounts() == []


def test_two_staff_verifying_at_once_deliver_exactly_once(app, db, open_class, student):
    invoice = payments.choose_class(student, open_class)
    payments.submit_proof(student, invoice, proof())
    staff_ids = [make_user("staff").id for _ in range(4)]
    barrier, outcomes = threading.Barrier(4), []

    def verify(staff_id):
        with app.app_context():
            from babyowl.models import User

            actor = _db.session.get(User, staff_id)
            target = _db.session.get(Invoice, invoice.id)
            barrier.wait()
            try:
                payments.verify(actor, target, "1750000")
                outcomes.append("verified")
            except payments.WrongState:
                outcomes.append("refused")
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=verify, args=(staff_id,)) for staff_id in staff_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["refused", "refused", "refused", "verified"]
    db.session.expire_all()
    assert db.session.scalar(select(func.count(InvoiceDelivery.id))) == 1
    assert db.session.scalar(select(func.count(ClassEnrollment.id))) == 1
    assert db.session.scalar(select(func.count(InvoiceEvent.id)).where(InvoiceEvent.new_status == "verified")) == 1


def test_parallel_choices_never_give_more_seats_than_the_class_has(app, db, open_class):
    students = [make_user("student").id for _ in range(5)]
    barrier, outcomes = threading.Barrier(5), []

    def choose(student_id):
        with app.app_context():
            from babyowl.models import SchoolClass, User

            barrier.wait()
            try:
                payments.choose_class(_db.session.get(User, student_id), _db.session.get(SchoolClass, open_class.id))
                outcomes.append("held")
            except classes.ClassFull:
                outcomes.append("full")
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=choose, args=(s,)) for s in students]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["full"] * 3 + ["held"] * 2
    db.session.expire_all()
    totals = db.session.scalars(select(Invoice.expected_total)).all()
    assert len(totals) == 2 and len(set(totals)) == 2


def test_the_workers_sweep_expires_overdue_invoices(app, db, open_class, student):
    from babyowl.jobs.announcements import sweep

    invoice = payments.choose_class(student, open_class)
    invoice.due_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    assert sweep()["expired_invoices"] == 1
    assert reload(db, invoice).status == "expired"


def test_cancel_frees_the_seat_and_refund_or_cancel_in_the_wrong_state_is_refused(db, open_class, student, staff):
    invoice = payments.choose_class(student, open_class)
    with pytest.raises(payments.WrongState):
        payments.refund(staff, invoice, credits=1, amount="100.000", reason="Belum bayar")
    with pytest.raises(InvalidInput):
        payments.cancel(staff, invoice, "")
    payments.cancel(staff, invoice, "Salah pilih kelas")
    assert reload(db, invoice).status == "cancelled" and classes.seats_left(reload(db, open_class)) == 2
    assert events(db, invoice)[-1] == ("pending", "cancelled")
    for attempt in (lambda: payments.cancel(staff, invoice, "lagi"), lambda: payments.verify(staff, invoice, "1"),
                    lambda: payments.submit_proof(student, invoice, proof())):
        with pytest.raises(payments.WrongState):
            attempt()
    partly = payments.choose_class(make_user("student"), open_class)
    payments.verify(staff, partly, "500.000")
    with pytest.raises(payments.WrongState, match="partly paid"):
        payments.cancel(staff, partly, "Batal")


def test_the_cron_command_expires_overdue_invoices_where_no_worker_runs(app, db, open_class, student):
    invoice = payments.choose_class(student, open_class)
    invoice.due_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    output = app.test_cli_runner().invoke(args=["send-due-announcements"]).output
    assert "1 unpaid invoices expired." in output and reload(db, invoice).status == "expired"
