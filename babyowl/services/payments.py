"""Payments: invoices paid by bank transfer, checked by hand, delivered exactly once.

The rules:
- A class has a package price (and a private class a price per added
  meeting). Enrolling creates an invoice: staff enrolling a student
  (`services/classes.enroll_student_or_invite`) invoices the existing
  enrollment; a student choosing an open class (`choose_class`) holds a seat
  and is enrolled only when the invoice is verified. A class without a price
  is not invoiced.
- An invoice asks `amount_due` plus a unique code from 1 to 999 chosen so that
  no two open invoices expect the same total (a bank line matches one
  invoice). Creating invoices takes one transaction-level lock (PostgreSQL
  advisory lock) so codes and numbers are chosen one at a time; a partial
  UNIQUE index on the expected total of open invoices is the last guard.
- States: pending → submitted (proof uploaded) → verified | rejected (reason;
  the student may upload again) | partially_paid (less than due: the rest is
  still due, another proof may follow); pending or rejected → expired (the
  job after the due date, and the worker's sweep); open → cancelled (staff;
  nothing received yet); verified → refunded | partially_refunded. Open
  invoices (pending, submitted, partially_paid, rejected) hold their seat and
  their code. Every change appends an `InvoiceEvent` (who, when, why, amount);
  a verified invoice is never deleted.
- Verifying locks the invoice row; paid in full (at least `amount_due`)
  runs `_deliver`, which inserts the invoice's one `InvoiceDelivery` (UNIQUE):
  the enrollment's payment_status becomes verified (the student is enrolled
  first when they chose the class themselves), and a top-up adds its meetings
  to the private class's package, the credits following through
  `services/credits`. Two staff verifying at once, or a double click: one
  delivery, the second is told it was already verified.
- A refund gives back money only for unused credits: those credits are
  removed by a credit adjustment with reason `refund` (services/credits), so
  the reconciliation report stays balanced.
- Proofs are JPEG, PNG or PDF (checked by their first bytes), at most 5 MB,
  stored as they came through the storage edge (local or S3) and hashed:
  the same file sent for two invoices is flagged to staff.
- Students see only their own invoices (another's is "not found"); staff see
  all; bank accounts are set by super_admin.
"""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import BinaryIO

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from babyowl.authz import is_staff
from babyowl.extensions import db
from babyowl.models import (
    INVOICE_KINDS, OPEN_INVOICE_STATUSES, BankAccount, ClassEnrollment, Invoice, InvoiceDelivery, InvoiceEvent,
    PaymentProof, SchoolClass, User,
)
from babyowl.models.base import utcnow
from babyowl.money import InvalidAmount, format_rupiah, parse_rupiah
from babyowl.services import classes
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from babyowl.services.listing import Key, Slice, keyset_page
from babyowl.services.school_time import school_today
from babyowl.services.uploads import use_case_owning_files
from babyowl.storage import get_storage, new_key
from babyowl.transactions import after_commit, use_case

DUE_DAYS = 3
MAX_PROOF_BYTES = 5 * 1024 * 1024
MAX_REASON = 500
PROOF_TYPES = {  # first bytes → (content type, extension)
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
    b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
    b"%PDF-": ("application/pdf", ".pdf"),
}
# Who may take each step, from which states.
PROOF_FROM = ("pending", "submitted", "rejected", "partially_paid")
VERIFY_FROM = ("pending", "submitted", "rejected", "partially_paid")
REJECT_FROM = ("submitted",)
CANCEL_FROM = ("pending", "submitted", "rejected")
EXPIRE_FROM = ("pending", "rejected")
REFUND_FROM = ("verified", "partially_refunded")
STATUS_NAMES = {
    "pending": _l("waiting for transfer"), "submitted": _l("proof sent, being checked"),
    "partially_paid": _l("partly paid"), "verified": _l("paid"), "rejected": _l("proof rejected"),
    "expired": _l("expired"), "cancelled": _l("cancelled"), "refunded": _l("refunded"),
    "partially_refunded": _l("partly refunded"),
}


class InvoiceNotFound(DomainError):
    status_code = 404


class WrongState(DomainError):
    status_code = 409


class NoPrice(DomainError):
    status_code = 409


# --- reading -----------------------------------------------------------------

def status_name(status: str) -> str:
    return str(STATUS_NAMES.get(status, status))


def invoice_for(actor: User, invoice_id: uuid.UUID | None) -> Invoice:
    """The invoice if `actor` may see it: staff, or its own student; anyone else: not found."""
    invoice = db.session.scalars(
        select(Invoice).where(Invoice.id == invoice_id)
        .options(joinedload(Invoice.student), joinedload(Invoice.school_class).joinedload(SchoolClass.course),
                 selectinload(Invoice.events).joinedload(InvoiceEvent.actor), selectinload(Invoice.proofs))
    ).first() if invoice_id else None
    if invoice is None or not (is_staff(actor) or invoice.student_id == actor.id):
        raise InvoiceNotFound(_("This invoice does not exist."))
    return invoice


_NEWEST_FIRST = (Key(Invoice.created_at, datetime, descending=True), Key(Invoice.id, uuid.UUID, descending=True))


def _invoices_of(student: User):
    return (select(Invoice).where(Invoice.student_id == student.id)
            .options(joinedload(Invoice.school_class).joinedload(SchoolClass.course), selectinload(Invoice.proofs)))


def my_invoices(student: User) -> list[Invoice]:
    """The student's invoices, newest first."""
    return list(db.session.scalars(_invoices_of(student).order_by(*(key.column.desc() for key in _NEWEST_FIRST))))


def my_invoices_after(student: User, *, after: list | None = None, limit: int = 20) -> Slice:
    """One keyset page of the student's invoices, newest first."""
    return keyset_page(_invoices_of(student), _NEWEST_FIRST, after=after, limit=limit)


def bank_accounts(*, active_only: bool = True) -> list[BankAccount]:
    query = select(BankAccount).order_by(BankAccount.bank_name, BankAccount.account_number)
    if active_only:
        query = query.where(BankAccount.active.is_(True))
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class QueueFilter:
    status: str = ""
    class_id: uuid.UUID | None = None
    date_from: date | None = None
    date_to: date | None = None
    amount: Decimal | None = None


def _filtered(filters: QueueFilter):
    from datetime import time

    from babyowl.services.school_time import school_moment

    query = select(Invoice)
    if filters.status:
        query = query.where(Invoice.status == filters.status)
    if filters.class_id:
        query = query.where(Invoice.class_id == filters.class_id)
    if filters.date_from:  # days of the school's calendar
        query = query.where(Invoice.created_at >= school_moment(filters.date_from, time(0)))
    if filters.date_to:
        query = query.where(Invoice.created_at < school_moment(filters.date_to + timedelta(days=1), time(0)))
    if filters.amount is not None:
        # The amount on the bank statement: the expected total, or the price without the code.
        query = query.where((Invoice.expected_total == filters.amount) | (Invoice.amount_due == filters.amount))
    return query


def queue(actor: User, filters: QueueFilter, page: int = 1, per_page: int | None = None):
    """Staff's list: submitted proofs first, oldest first; student, class and proofs loaded with them."""
    from babyowl.services.listing import paginate

    if not is_staff(actor):
        raise NotAllowed(_("Only staff check payments."))
    query = (_filtered(filters)
             .options(joinedload(Invoice.student), joinedload(Invoice.school_class), selectinload(Invoice.proofs))
             .order_by((Invoice.status != "submitted"), Invoice.created_at, Invoice.id))
    return paginate(query, page, per_page) if per_page else paginate(query, page)


def reused_hashes(invoices) -> set[str]:
    """The proof hashes among `invoices` that were also sent for another invoice (one query)."""
    hashes = {proof.sha256 for invoice in invoices for proof in invoice.proofs}
    if not hashes:
        return set()
    return set(db.session.scalars(
        select(PaymentProof.sha256).where(PaymentProof.sha256.in_(hashes)).group_by(PaymentProof.sha256)
        .having(func.count(func.distinct(PaymentProof.invoice_id)) > 1)))


def proof_for(actor: User, proof_id: uuid.UUID) -> PaymentProof:
    proof = db.session.get(PaymentProof, proof_id)
    if proof is None:
        raise InvoiceNotFound(_("This file does not exist."))
    invoice_for(actor, proof.invoice_id)
    return proof


def open_classes() -> list[SchoolClass]:
    """Classes a visitor may choose now: published course, open for enrollment, a price set; soonest first."""
    from babyowl.models import Course

    candidates = db.session.scalars(
        select(SchoolClass).join(SchoolClass.course)
        .where(Course.status == "published", SchoolClass.package_price.is_not(None),
               SchoolClass.status.in_(("enrollment_open",)))
        .options(joinedload(SchoolClass.course))
        .order_by(SchoolClass.start_date.nulls_last(), SchoolClass.name)).all()
    from babyowl.services.class_rules import rules_for

    return [c for c in candidates if rules_for(c).enrollment_refusal(c) is None]


def open_class(class_id: uuid.UUID) -> SchoolClass:
    """A class open for self-service enrollment, else not found (a draft or a closed class is not public)."""
    school_class = next((c for c in open_classes() if c.id == class_id), None)
    if school_class is None:
        raise InvoiceNotFound(_("This class is not open for enrollment."))
    return school_class


def class_choices() -> list[SchoolClass]:
    """Classes for the queue's filter: not cancelled or completed, by name."""
    return list(db.session.scalars(select(SchoolClass).where(
        SchoolClass.status.in_(("draft", "enrollment_open", "active"))).order_by(SchoolClass.name)))


def priced_classes() -> list[SchoolClass]:
    """Running and upcoming classes with their prices, for staff's price list."""
    return list(db.session.scalars(select(SchoolClass).options(joinedload(SchoolClass.course)).where(
        SchoolClass.status.in_(("draft", "enrollment_open", "active"))).order_by(SchoolClass.name)))


def seats_left_of(class_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Free seats of many classes in two queries (active students, held seats)."""
    if not class_ids:
        return {}
    active = dict(db.session.execute(
        select(ClassEnrollment.class_id, func.count()).where(
            ClassEnrollment.class_id.in_(class_ids), ClassEnrollment.status == "active")
        .group_by(ClassEnrollment.class_id)).all())
    held = dict(db.session.execute(
        select(Invoice.class_id, func.count()).where(
            Invoice.class_id.in_(class_ids), Invoice.kind == "enrollment", Invoice.enrollment_id.is_(None),
            Invoice.status.in_(OPEN_INVOICE_STATUSES)).group_by(Invoice.class_id)).all())
    capacity = dict(db.session.execute(select(SchoolClass.id, SchoolClass.max_capacity)
                                       .where(SchoolClass.id.in_(class_ids))).all())
    return {cid: max(0, (capacity.get(cid) or 0) - active.get(cid, 0) - held.get(cid, 0)) for cid in class_ids}


# --- creating invoices ---------------------------------------------------------

def _serialise_invoice_creation() -> None:
    # One invoice created at a time: the code and the number are chosen on what
    # is committed. The partial unique index stays the last guard.
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('babyowl.invoices'))"))


def _free_code(amount: Decimal) -> int:
    taken = set(db.session.scalars(select(Invoice.expected_total).where(
        Invoice.status.in_(OPEN_INVOICE_STATUSES), Invoice.expected_total > amount,
        Invoice.expected_total < amount + 1000)))
    for code in range(1, 1000):
        if amount + code not in taken:
            return code
    raise DomainError(_("Too many invoices of this amount are open; try again after some are paid."))


def _next_number(now: datetime) -> str:
    prefix = f"INV-{now:%Y%m}-"
    last = db.session.scalar(select(func.max(Invoice.number)).where(Invoice.number.like(prefix + "%")))
    return f"{prefix}{(int(last.rsplit('-', 1)[1]) + 1 if last else 1):05d}"


def _due_at(now: datetime) -> datetime:
    return now + timedelta(days=current_app.config.get("INVOICE_DUE_DAYS", DUE_DAYS))


def _event(invoice: Invoice, actor: User | None, old: str | None, new: str, *, amount: Decimal | None = None,
           reason: str | None = None) -> None:
    db.session.add(InvoiceEvent(invoice_id=invoice.id, actor_id=actor.id if actor else None, old_status=old,
                                new_status=new, amount=amount, reason=reason, created_at=utcnow()))


def _move(invoice: Invoice, actor: User | None, new: str, **details) -> None:
    old, invoice.status = invoice.status, new
    _event(invoice, actor, old, new, **details)


def _create_invoice(actor: User, student: User, school_class: SchoolClass, *, kind: str, meetings: int,
                    amount: Decimal, enrollment: ClassEnrollment | None = None) -> Invoice:
    _serialise_invoice_creation()
    now = utcnow()
    amount = Decimal(amount).quantize(Decimal("0.01"))
    code = _free_code(amount)
    invoice = Invoice(id=uuid.uuid4(), number=_next_number(now), kind=kind, student_id=student.id,
                      class_id=school_class.id, enrollment_id=enrollment.id if enrollment else None, meetings=meetings,
                      amount_due=amount, unique_code=code, expected_total=amount + code, status="pending",
                      due_at=_due_at(now), created_by=actor.id, amount_received=Decimal("0"),
                      amount_refunded=Decimal("0"))
    db.session.add(invoice)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:  # only when the lock is unavailable (SQLite) and two requests raced
        raise DomainError(_("Another invoice was being created at the same moment. Please try again.")) from exc
    _event(invoice, actor, None, "pending", amount=invoice.expected_total)
    _tell(student, invoice, _l("Invoice %(number)s: please transfer %(amount)s", number=invoice.number,
                               amount=format_rupiah(invoice.expected_total)),
          _l("Transfer exactly %(amount)s (the last three digits identify your payment) for %(class)s by "
             "%(due)s, then upload the proof of transfer.", amount=format_rupiah(invoice.expected_total),
             due=due_text(invoice.due_at), **{"class": school_class.name}), "created")
    after_commit(_schedule_expiry, invoice.id, invoice.due_at)
    return invoice


def due_text(when: datetime) -> str:
    from babyowl.i18n import datetime_local

    try:
        return datetime_local(when, "short")
    except Exception:  # no request or app locale (a job): ISO is still readable
        return when.isoformat(timespec="minutes")


def _tell(student: User, invoice: Invoice, title, message, event: str) -> None:
    """A notification in the app and an email, each in the student's language (part of the use case)."""
    from flask_babel import force_locale

    from babyowl import emails
    from babyowl.services.notifications import language_of, notify, path_for

    # Not a kind one can turn emails off for (notifications.KINDS): the email below always goes.
    notify([student], kind="payment", title=title, message=message, reference_id=invoice.id, email=False,
           link=path_for("payments.my_invoice", invoice_id=invoice.id),
           # Created and verified happen once; a proof can be rejected (or partly paid) more than once.
           event_key=f"invoice:{invoice.id}:{event}" + ("" if event in ("created", "verified") else
                                                        f":{uuid.uuid4().hex}"))
    language = language_of(student)
    with force_locale(language):
        emails.send(emails.payment_notice(to=student.email, name=student.full_name, title=str(title),
                                          message=str(message), invoice_id=invoice.id, language=language),
                    user_id=student.id)


def _schedule_expiry(invoice_id: uuid.UUID, due_at: datetime) -> None:
    from babyowl import jobs
    from babyowl.jobs.payments import expire_invoice

    jobs.enqueue_at(due_at, expire_invoice, str(invoice_id), job_id=f"expire-invoice-{invoice_id}")


def _amount(value, *, required: bool = True) -> Decimal | None:
    try:
        amount = parse_rupiah(value)
    except InvalidAmount as exc:
        raise InvalidInput(str(exc.message)) from exc
    if amount is None and required:
        raise InvalidInput(str(InvalidAmount().message))
    return amount


def invoice_staff_enrollment(actor: User, enrollment: ClassEnrollment, *, paid_at_desk=None) -> Invoice | None:
    """Staff enrolled a student (part of that use case): invoice the class's package, if it has a price.

    `paid_at_desk`: the money was handed over at the desk; the invoice is
    verified at once with that amount (and audited like any verification).
    """
    school_class = enrollment.school_class or db.session.get(SchoolClass, enrollment.class_id)
    desk = _amount(paid_at_desk, required=False)
    if school_class.package_price is None:
        if desk is not None:
            raise NoPrice(_("Set the price of this class before taking a payment for it."))
        return None
    enrollment.payment_status = "pending"
    invoice = _create_invoice(actor, enrollment.student, school_class, kind="enrollment",
                              meetings=school_class.total_meetings, amount=school_class.package_price,
                              enrollment=enrollment)
    if desk is not None:
        _verify(actor, invoice, desk, _("Paid at the desk."))
    return invoice


@use_case
def choose_class(student: User, school_class: SchoolClass) -> Invoice:
    """A student picks an open class: a seat is held and an invoice opened; enrolled once it is verified."""
    if student.role != "student":
        raise NotAllowed(_("Only students choose a class for themselves."))
    if school_class.package_price is None:
        raise NoPrice(_("This class cannot be paid for online yet. Please contact the school."))
    school_class = classes._hold_seat(student, school_class)  # the class row locked: one choice at a time
    existing = db.session.scalar(select(Invoice).where(
        Invoice.student_id == student.id, Invoice.class_id == school_class.id, Invoice.kind == "enrollment",
        Invoice.status.in_(OPEN_INVOICE_STATUSES)))
    if existing is not None:
        raise WrongState(_("You already have an open invoice for this class (%(number)s).", number=existing.number))
    return _create_invoice(student, student, school_class, kind="enrollment", meetings=school_class.total_meetings,
                           amount=school_class.package_price)


@use_case
def request_top_up(actor: User, enrollment: ClassEnrollment, meetings: int) -> Invoice:
    """More meetings for a private class: an invoice for meetings × the price per meeting."""
    from babyowl.services.class_rules import rules_for

    if not is_staff(actor):
        raise NotAllowed(_("Only staff add meetings to a class."))
    school_class = classes.locked_class(enrollment.class_id)
    rules = rules_for(school_class)
    if not rules.sells_meetings or rules.package_refusal(school_class) is not None:
        raise DomainError(_("Only a private class can be topped up with more meetings."))
    if school_class.meeting_price is None:
        raise NoPrice(_("Set the price per meeting of this class first."))
    if enrollment.status != "active":
        raise DomainError(_("Only an active student's class can be topped up."))
    if not isinstance(meetings, int) or not 1 <= meetings <= 50:
        raise InvalidInput(_("Add from 1 to 50 meetings."))
    return _create_invoice(actor, enrollment.student, school_class, kind="top_up", meetings=meetings,
                           amount=school_class.meeting_price * meetings, enrollment=enrollment)


@use_case
def set_prices(actor: User, school_class: SchoolClass, *, package_price, meeting_price) -> None:
    if not is_staff(actor):
        raise NotAllowed(_("Only staff set prices."))
    school_class = classes.locked_class(school_class.id)
    school_class.package_price = _amount(package_price, required=False)
    school_class.meeting_price = _amount(meeting_price, required=False)


# --- proofs ----------------------------------------------------------------------

@dataclass(frozen=True)
class ProofUpload:
    filename: str
    stream: BinaryIO


def _locked_invoice(invoice_id: uuid.UUID) -> Invoice:
    invoice = db.session.scalars(select(Invoice).where(Invoice.id == invoice_id).with_for_update()
                                 .execution_options(populate_existing=True)).first()
    if invoice is None:
        raise InvoiceNotFound(_("This invoice does not exist."))
    return invoice


def _refuse_unless(invoice: Invoice, allowed: tuple[str, ...]) -> None:
    if invoice.status not in allowed:
        raise WrongState(_("This invoice is %(state)s: that cannot be done now.", state=status_name(invoice.status)))


def _checked_proof(upload: ProofUpload | None) -> tuple[bytes, str, str, str]:
    """(content, content type, extension, clean name) of an acceptable proof, else InvalidInput."""
    from babyowl.services.assignments import clean_file_name

    if upload is None or not upload.filename:
        raise InvalidInput(_("Choose the photo or PDF of your transfer receipt."))
    content = upload.stream.read(MAX_PROOF_BYTES + 1)
    if not content:
        raise InvalidInput(_("The file is empty."))
    if len(content) > MAX_PROOF_BYTES:
        raise InvalidInput(_("The file is larger than %(max)d MB.", max=MAX_PROOF_BYTES // (1024 * 1024)))
    for signature, (content_type, extension) in PROOF_TYPES.items():
        if content.startswith(signature):
            return content, content_type, extension, clean_file_name(upload.filename)
    raise InvalidInput(_("Send a JPEG or PNG photo, or a PDF, of the transfer receipt."))


def submit_proof(actor: User, invoice: Invoice, upload: ProofUpload | None, *, transfer_date: date | None = None,
                 sender_name: str | None = None, sender_bank: str | None = None) -> PaymentProof:
    """The student (or staff for them) sends the proof of transfer; a refused upload leaves no file behind."""
    with use_case_owning_files("submit_proof") as new_files:
        invoice = invoice_for(actor, invoice.id)
        content, content_type, extension, name = _checked_proof(upload)
        sender_name, sender_bank = (sender_name or "").strip()[:255] or None, (sender_bank or "").strip()[:100] or None
        if transfer_date and transfer_date > school_today():
            raise InvalidInput(_("The transfer date cannot be in the future."))
        invoice = _locked_invoice(invoice.id)
        _refuse_unless(invoice, PROOF_FROM)
        key = new_key(f"payment-proofs/{invoice.id.hex}", extension)
        get_storage().save(key, content, content_type)
        new_files.append(key)
        proof = PaymentProof(invoice_id=invoice.id, uploaded_by=actor.id, file_key=key, file_name=name,
                             content_type=content_type, file_size=len(content),
                             sha256=hashlib.sha256(content).hexdigest(), transfer_date=transfer_date,
                             sender_name=sender_name, sender_bank=sender_bank)
        db.session.add(proof)
        if invoice.status != "submitted":
            _move(invoice, actor, "submitted", reason=_("Proof of transfer uploaded."))
        else:
            _event(invoice, actor, "submitted", "submitted", reason=_("Another proof uploaded."))
        db.session.flush()
    return proof


def is_reused(proof: PaymentProof) -> bool:
    return bool(db.session.scalar(select(func.count()).select_from(PaymentProof).where(
        PaymentProof.sha256 == proof.sha256, PaymentProof.invoice_id != proof.invoice_id)))


# --- staff decisions -----------------------------------------------------------------

def _require_staff(actor: User) -> None:
    if not is_staff(actor):
        raise NotAllowed(_("Only staff check payments."))


def _reason(reason: str | None, *, required: bool) -> str | None:
    reason = (reason or "").strip() or None
    if required and reason is None:
        raise InvalidInput(_("Say why, for the student and the school's records."))
    if reason and len(reason) > MAX_REASON:
        raise InvalidInput(_("Keep the reason under %(max)d characters.", max=MAX_REASON))
    return reason


@use_case
def verify(actor: User, invoice: Invoice, amount_received, note: str | None = None) -> Invoice:
    """The money is on the school's account: paid in full delivers once; less leaves the rest due."""
    _require_staff(actor)
    amount = _amount(amount_received)
    note = _reason(note, required=False)
    return _verify(actor, _locked_invoice(invoice.id), amount, note)


def _verify(actor: User, invoice: Invoice, amount: Decimal, note: str | None) -> Invoice:
    if amount <= 0:
        raise InvalidInput(_("Enter the amount received."))
    _refuse_unless(invoice, VERIFY_FROM)
    invoice.amount_received += amount
    enrollment = db.session.get(ClassEnrollment, invoice.enrollment_id) if invoice.enrollment_id else None
    if invoice.amount_received >= invoice.amount_due:
        _move(invoice, actor, "verified", amount=amount, reason=note)
        _deliver(actor, invoice)
        _tell(invoice.student, invoice, _l("Payment received: %(number)s", number=invoice.number),
              _l("Thank you! %(amount)s for %(class)s has been verified.",
                 amount=format_rupiah(invoice.amount_received), **{"class": invoice.school_class.name}), "verified")
    else:
        _move(invoice, actor, "partially_paid", amount=amount, reason=note)
        if enrollment is not None and kind_of(invoice).pays_for_the_enrollment:
            enrollment.payment_status = "partially_paid"
        _tell(invoice.student, invoice, _l("Partly paid: %(number)s", number=invoice.number),
              _l("We received %(received)s. %(rest)s is still due.", received=format_rupiah(invoice.amount_received),
                 rest=format_rupiah(invoice.amount_outstanding)), "partial")
    db.session.flush()
    return invoice


class InvoiceKind:
    """What differs between invoice kinds: what paying delivers, and how the invoice names what it is for."""

    name: str
    pays_for_the_enrollment: bool  # its state is the enrollment's payment_status (a top-up's is not)

    def deliver(self, invoice: Invoice, school_class: SchoolClass) -> tuple[ClassEnrollment, int]:
        """The enrollment paid for and the credits added (part of the verifying use case)."""
        raise NotImplementedError

    def describe(self, invoice: Invoice) -> str:
        raise NotImplementedError


class EnrollmentInvoice(InvoiceKind):
    """A class's package: enrolls the student who held a seat (or marks staff's enrollment paid)."""

    name = "enrollment"
    pays_for_the_enrollment = True

    def deliver(self, invoice, school_class):
        if invoice.enrollment_id is None:
            enrollment = classes._enroll_held(school_class, invoice.student, invoice.id)
            invoice.enrollment_id = enrollment.id
            return enrollment, 0
        return db.session.get(ClassEnrollment, invoice.enrollment_id), 0

    def describe(self, invoice):
        return _("Package of %(n)d meetings", n=invoice.meetings)


class TopUpInvoice(InvoiceKind):
    """More meetings for a private class: the package grows, the credits follow (services/credits)."""

    name = "top_up"
    pays_for_the_enrollment = False

    def deliver(self, invoice, school_class):
        classes._add_meetings(school_class, invoice.meetings)
        return db.session.get(ClassEnrollment, invoice.enrollment_id), invoice.meetings

    def describe(self, invoice):
        return _("%(n)d added meetings", n=invoice.meetings)


KINDS = {kind.name: kind for kind in (EnrollmentInvoice(), TopUpInvoice())}
assert set(KINDS) == set(INVOICE_KINDS)


def kind_of(invoice: Invoice) -> InvoiceKind:
    return KINDS[invoice.kind]


def _deliver(actor: User, invoice: Invoice) -> InvoiceDelivery | None:
    """What the paid invoice gives, exactly once (the invoice row is locked; the UNIQUE row is the last guard)."""
    if db.session.scalar(select(func.count()).select_from(InvoiceDelivery)
                         .where(InvoiceDelivery.invoice_id == invoice.id)):
        return None
    enrollment, credits_added = kind_of(invoice).deliver(invoice, db.session.get(SchoolClass, invoice.class_id))
    enrollment.payment_status = "verified"
    enrollment.payment_amount = (enrollment.payment_amount or Decimal("0")) + invoice.amount_received
    delivery = InvoiceDelivery(invoice_id=invoice.id, enrollment_id=enrollment.id, credits_added=credits_added,
                               delivered_by=actor.id if actor else None)
    db.session.add(delivery)
    db.session.flush()
    return delivery


@use_case
def reject(actor: User, invoice: Invoice, reason: str | None) -> Invoice:
    """The proof does not show the money arriving: the student is told why and may upload again."""
    _require_staff(actor)
    reason = _reason(reason, required=True)
    invoice = _locked_invoice(invoice.id)
    _refuse_unless(invoice, REJECT_FROM)
    _move(invoice, actor, "rejected", reason=reason)
    db.session.flush()
    _tell(invoice.student, invoice, _l("Proof not accepted: %(number)s", number=invoice.number),
          _l("Your proof of transfer was not accepted: %(reason)s. Please upload it again.", reason=reason),
          "rejected")
    return invoice


@use_case
def cancel(actor: User, invoice: Invoice, reason: str | None) -> Invoice:
    """Staff cancel an open invoice nothing was paid on; its seat and its code are free again."""
    _require_staff(actor)
    reason = _reason(reason, required=True)
    invoice = _locked_invoice(invoice.id)
    _refuse_unless(invoice, CANCEL_FROM)
    if invoice.amount_received > 0:
        raise WrongState(_("Money was already received on this invoice: refund it instead."))
    _move(invoice, actor, "cancelled", reason=reason)
    return invoice


def _expire(invoice_id: uuid.UUID, now: datetime) -> bool:
    invoice = db.session.scalars(select(Invoice).where(Invoice.id == invoice_id).with_for_update(skip_locked=True)
                                 .execution_options(populate_existing=True)).first()
    if invoice is None or invoice.status not in EXPIRE_FROM or invoice.due_at > now:
        return False
    _move(invoice, None, "expired", reason=_("Not paid by the due date."))
    return True


@use_case
def expire(invoice_id: uuid.UUID) -> bool:
    """The expiry job: an unpaid invoice past its due date expires and frees its seat; a no-op otherwise."""
    return _expire(invoice_id, utcnow())


@use_case
def expire_due() -> int:
    """The worker's sweep: every unpaid invoice past its due date."""
    now = utcnow()
    due = db.session.scalars(select(Invoice.id).where(Invoice.status.in_(EXPIRE_FROM), Invoice.due_at <= now)).all()
    return sum(_expire(invoice_id, now) for invoice_id in due)


@use_case
def refund(actor: User, invoice: Invoice, *, credits: int, amount, reason: str | None) -> Invoice:
    """Give money back for unused credits only: those credits are removed (adjustment `refund`)."""
    from babyowl.services import credits as credit_rules

    _require_staff(actor)
    reason = _reason(reason, required=True)
    amount = _amount(amount)
    invoice = _locked_invoice(invoice.id)
    _refuse_unless(invoice, REFUND_FROM)
    if amount <= 0 or invoice.amount_refunded + amount > invoice.amount_received:
        raise InvalidInput(_("Refund at most %(amount)s (what was received and not yet refunded).",
                             amount=format_rupiah(invoice.amount_received - invoice.amount_refunded)))
    enrollment = db.session.get(ClassEnrollment, invoice.enrollment_id)
    credit_rules.remove_for_refund(actor, enrollment, credits, _("Refund of %(number)s: %(reason)s",
                                                                 number=invoice.number, reason=reason))
    invoice.amount_refunded += amount
    new = "refunded" if invoice.amount_refunded == invoice.amount_received else "partially_refunded"
    _move(invoice, actor, new, amount=amount, reason=reason)
    if kind_of(invoice).pays_for_the_enrollment:
        enrollment.payment_status = new
    return invoice


# --- bank accounts (super_admin) ----------------------------------------------------------

def _require_admin(actor: User) -> None:
    if actor.role != "super_admin":
        raise NotAllowed(_("Only a super admin sets the school's bank accounts."))


@use_case
def add_bank_account(actor: User, *, bank_name: str, account_number: str, account_holder: str) -> BankAccount:
    _require_admin(actor)
    bank_name, account_number, account_holder = ((value or "").strip() for value in
                                                 (bank_name, account_number, account_holder))
    if not (bank_name and account_number and account_holder):
        raise InvalidInput(_("Give the bank, the account number and the account holder's name."))
    if len(bank_name) > 100 or len(account_number) > 50 or len(account_holder) > 255:
        raise InvalidInput(_("One of the fields is too long."))
    if db.session.scalar(select(func.count()).select_from(BankAccount).where(
            BankAccount.bank_name == bank_name, BankAccount.account_number == account_number)):
        raise DomainError(_("This account is already listed."))
    account = BankAccount(bank_name=bank_name, account_number=account_number, account_holder=account_holder)
    db.session.add(account)
    db.session.flush()
    return account


@use_case
def set_bank_account_active(actor: User, account_id: uuid.UUID | None, active: bool) -> BankAccount:
    _require_admin(actor)
    account = db.session.get(BankAccount, account_id) if account_id else None
    if account is None:
        raise InvoiceNotFound(_("This bank account does not exist."))
    account.active = active
    return account


# --- exports -------------------------------------------------------------------------------

EXPORT_COLUMNS = ("invoice_id", "number", "kind", "status", "student_id", "student_name", "student_email",
                  "class_id", "class_name", "meetings", "amount_due", "unique_code", "expected_total",
                  "amount_received", "amount_refunded", "created_at", "due_at", "verified_at")


def export_rows(filters: QueueFilter) -> Iterator[list]:
    """One row per invoice for the bookkeeper, stable ids, amounts as plain decimals, times in UTC ISO."""
    verified_at = (select(InvoiceEvent.invoice_id, func.max(InvoiceEvent.created_at).label("at"))
                   .where(InvoiceEvent.new_status == "verified").group_by(InvoiceEvent.invoice_id).subquery())
    query = (_filtered(filters).add_columns(verified_at.c.at)
             .outerjoin(verified_at, verified_at.c.invoice_id == Invoice.id)
             .options(joinedload(Invoice.student), joinedload(Invoice.school_class))
             .order_by(Invoice.created_at, Invoice.id))
    for invoice, verified in db.session.execute(query):
        yield [str(invoice.id), invoice.number, invoice.kind, invoice.status, str(invoice.student_id),
               invoice.student.full_name, invoice.student.email, str(invoice.class_id), invoice.school_class.name,
               invoice.meetings, invoice.amount_due, invoice.unique_code, invoice.expected_total,
               invoice.amount_received, invoice.amount_refunded, invoice.created_at, invoice.due_at, verified]


@dataclass(frozen=True)
class Receipt:
    number: str
    school: str
    student_name: str
    student_email: str
    class_name: str
    course: str
    kind: str
    meetings: int
    amount_due: Decimal
    unique_code: int
    amount_received: Decimal
    amount_refunded: Decimal
    verified_at: datetime | None
    verified_by: str | None


def receipt_of(invoice: Invoice) -> Receipt:
    """The plain values a receipt prints (the writer in reports/files.py knows no database)."""
    verified = next((e for e in reversed(invoice.events) if e.new_status == "verified"), None)
    return Receipt(number=invoice.number, school=current_app.config["SCHOOL_NAME"],
                   student_name=invoice.student.full_name, student_email=invoice.student.email,
                   class_name=invoice.school_class.name, course=invoice.school_class.course.title, kind=invoice.kind,
                   meetings=invoice.meetings, amount_due=invoice.amount_due, unique_code=invoice.unique_code,
                   amount_received=invoice.amount_received, amount_refunded=invoice.amount_refunded,
                   verified_at=verified.created_at if verified else None,
                   verified_by=verified.actor.full_name if verified and verified.actor else None)
