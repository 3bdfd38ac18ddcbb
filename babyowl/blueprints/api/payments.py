"""The JSON API's payments: a student's invoices and proofs, staff's queue and decisions, receipts, bank accounts.

The same services as the pages (babyowl/services/payments.py): who sees which invoice, which state allows what,
the locks that make a verification deliver once. Views parse, call one service, answer a DTO.
"""
from __future__ import annotations

import uuid

from flask import Response, request, stream_with_context
from flask_babel import gettext as _

from babyowl.authz import STAFF_ROLES
from babyowl.blueprints.api import schemas_payments as p
from babyowl.blueprints.api.core import (
    PageQuery, answers_file, api_user, authenticated, decode_cursor, error, form_body, json_body, keyset_meta, ok,
    public, responses, spec,
)
from babyowl.blueprints.api.views import _page_cursor, _page_meta, bp
from babyowl.services import classes, payments
from babyowl.services.errors import InvalidInput

RECEIPT_STATES = ("verified", "refunded", "partially_refunded")


# --- DTOs ----------------------------------------------------------------------------------------------------------

def _invoice_fields(invoice) -> dict:
    return {"id": invoice.id, "number": invoice.number, "kind": invoice.kind, "status": invoice.status,
            "status_name": payments.status_name(invoice.status), "student_id": invoice.student_id,
            "student_name": invoice.student.full_name, "class_id": invoice.class_id,
            "class_name": invoice.school_class.name, "enrollment_id": invoice.enrollment_id,
            "meetings": invoice.meetings, "amount_due": invoice.amount_due, "unique_code": invoice.unique_code,
            "expected_total": invoice.expected_total, "amount_received": invoice.amount_received,
            "amount_refunded": invoice.amount_refunded, "amount_outstanding": invoice.amount_outstanding,
            "due_at": invoice.due_at, "created_at": invoice.created_at, "proof_count": len(invoice.proofs)}


def _invoice_out(invoice) -> p.InvoiceOut:
    return p.InvoiceOut(**_invoice_fields(invoice))


def _proof_out(proof, reused: set[str] | None) -> p.ProofOut:
    return p.ProofOut.model_validate(proof).model_copy(
        update={"reused": None if reused is None else proof.sha256 in reused})


def _detail_out(invoice) -> p.InvoiceDetailOut:
    """Staff see every event and which proofs were also sent elsewhere; the student their proofs and the last
    rejection's reason, as their invoice page shows."""
    staff = api_user().role in STAFF_ROLES
    reused = payments.reused_hashes([invoice]) if staff else None
    rejected = next((e.reason for e in reversed(invoice.events) if e.new_status == "rejected"), None)
    events = [p.InvoiceEventOut(old_status=e.old_status, new_status=e.new_status, amount=e.amount, reason=e.reason,
                                actor_name=e.actor.full_name if e.actor else None, created_at=e.created_at)
              for e in invoice.events] if staff else None
    return p.InvoiceDetailOut(**_invoice_fields(invoice), proofs=[_proof_out(pr, reused) for pr in invoice.proofs],
                              rejection_reason=rejected if invoice.status == "rejected" else None, events=events)


def _detail(invoice_id: uuid.UUID):
    return ok(_detail_out(payments.invoice_for(api_user(), invoice_id)))


def _invoice(invoice_id: uuid.UUID):
    return payments.invoice_for(api_user(), invoice_id)


# --- A student's invoices ------------------------------------------------------------------------------------------

@bp.get("/open-classes")
@public
@spec.validate(resp=responses(p.OpenClassOut, many=True), tags=["payments"])
def open_classes():
    """Classes one may choose and pay for now (published course, open, priced), soonest first: public, as the
    landing page; choosing one (`POST /invoices`) needs a student's token."""
    found = payments.open_classes()
    seats = payments.seats_left_of([c.id for c in found])
    return ok([p.OpenClassOut(id=c.id, name=c.name, type=c.type, course_id=c.course_id,
                              course_title=c.course.title if c.course else None, package_price=c.package_price,
                              total_meetings=c.total_meetings, seats_left=seats[c.id], start_date=c.start_date,
                              enrollment_deadline=c.enrollment_deadline) for c in found], total=len(found))


@bp.get("/invoices")
@authenticated()
@spec.validate(query=PageQuery, resp=responses(p.InvoiceOut, many=True), tags=["payments"])
def my_invoices():
    """The caller's own invoices, newest first (staff read everyone's in `GET /payments`)."""
    query: PageQuery = request.context.query
    page = payments.my_invoices_after(api_user(), after=decode_cursor(query.cursor), limit=query.limit)
    return ok([_invoice_out(invoice) for invoice in page.items], **keyset_meta(page))


@bp.post("/invoices")
@authenticated("student")
@spec.validate(json=p.ChooseClassIn, resp=responses(p.InvoiceDetailOut, 201), tags=["payments"])
def choose_class():
    """Choose an open class (the landing page's "Enroll"): a seat is held and an invoice opened; the student is
    enrolled when staff verify the payment."""
    invoice = payments.choose_class(api_user(), payments.open_class(json_body().class_id))
    return ok(_detail_out(_invoice(invoice.id)), 201)


@bp.get("/invoices/<uuid:invoice_id>")
@authenticated()
@spec.validate(resp=responses(p.InvoiceDetailOut), tags=["payments"])
def get_invoice(invoice_id: uuid.UUID):
    """One invoice: its student's own, or any for staff (with its events); to anyone else it does not exist."""
    return _detail(invoice_id)


@bp.post("/invoices/<uuid:invoice_id>/proofs")
@authenticated()
@spec.validate(form=p.ProofForm, resp=responses(p.ProofOut, 201), tags=["payments"])
def upload_proof(invoice_id: uuid.UUID):
    """The proof of transfer, multipart/form-data: `file` (JPEG, PNG or PDF by its first bytes, at most 5 MB) and
    optionally `transfer_date`, `sender_name`, `sender_bank`."""
    invoice = _invoice(invoice_id)  # another's invoice is not found, whatever was sent
    form: p.ProofForm = form_body()
    upload = request.files.get("file")
    proof = payments.submit_proof(
        api_user(), invoice,
        payments.ProofUpload(upload.filename or "", upload.stream) if upload and upload.filename else None,
        transfer_date=form.transfer_date, sender_name=form.sender_name, sender_bank=form.sender_bank)
    return ok(_proof_out(proof, None), 201)


@bp.get("/invoices/<uuid:invoice_id>/receipt")
@answers_file("application/pdf")
@authenticated()
@spec.validate(resp=responses(None), tags=["payments"])
def invoice_receipt(invoice_id: uuid.UUID):
    """The receipt (PDF) of a paid invoice; before it is verified there is none (409)."""
    from babyowl.blueprints.reports.files import receipt_pdf

    invoice = _invoice(invoice_id)
    if invoice.status not in RECEIPT_STATES:
        return error(409, _("A receipt is issued once the payment is verified."), {"reason": "NOT_VERIFIED"})
    return Response(receipt_pdf(payments.receipt_of(invoice)), mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{invoice.number}.pdf"'})


@bp.get("/payment-proofs/<uuid:proof_id>")
@answers_file("image/jpeg", "image/png", "application/pdf")
@authenticated()
@spec.validate(resp=responses(None, extra={"HTTP_302": None}), tags=["payments"])
def proof_file(proof_id: uuid.UUID):
    """The proof's file, for its student and staff (with S3 storage: a redirect to a short-lived link)."""
    from babyowl.storage import serve_file

    proof = payments.proof_for(api_user(), proof_id)
    response = serve_file(proof.file_key, cache_control="private, no-store")
    response.headers["Content-Security-Policy"] = "sandbox"  # an uploaded PDF never runs with the school's origin
    response.direct_passthrough = False  # the response check reads the body: a proof is at most 5 MB
    return response


# --- Staff: the queue and the decisions ----------------------------------------------------------------------------

def _filters(query) -> payments.QueueFilter:
    from babyowl.money import InvalidAmount, parse_rupiah

    try:
        amount = parse_rupiah(query.amount or None)
    except InvalidAmount as exc:
        raise InvalidInput(str(exc.message)) from exc
    return payments.QueueFilter(status=query.status, class_id=query.class_id, date_from=query.date_from,
                                date_to=query.date_to, amount=amount)


@bp.get("/payments")
@authenticated(*STAFF_ROLES)
@spec.validate(query=p.QueueQuery, resp=responses(p.QueuedInvoiceOut, many=True), tags=["payments"])
def payments_queue():
    """Staff's queue, as the payments page: submitted proofs first, then oldest first; filters by state, class,
    creation day and amount; `meta.total` counts the matches. Each invoice comes with its proofs (`reused` marks
    a file also sent for another invoice)."""
    query: p.QueueQuery = request.context.query
    page_number, size = _page_cursor(query.cursor, query.limit)
    page = payments.queue(api_user(), _filters(query), page_number, size)
    reused = payments.reused_hashes(page.items)
    return ok([p.QueuedInvoiceOut(**_invoice_fields(invoice), proofs=[_proof_out(pr, reused) for pr in invoice.proofs])
               for invoice in page.items], **_page_meta(page))


@bp.get("/payments/export")
@answers_file("text/csv")
@authenticated(*STAFF_ROLES)
@spec.validate(query=p.ExportQuery, resp=responses(None), tags=["payments"])
def payments_export():
    """Every invoice matching the filters as CSV for the bookkeeper (the payments page's export)."""
    from babyowl.blueprints.reports.files import SEPARATORS, table_csv_chunks

    query: p.ExportQuery = request.context.query
    chunks = table_csv_chunks(payments.EXPORT_COLUMNS, payments.export_rows(_filters(query)),
                              SEPARATORS[query.separator])
    return Response(stream_with_context(chunks), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="payments.csv"'})


@bp.post("/invoices/<uuid:invoice_id>/verify")
@authenticated(*STAFF_ROLES)
@spec.validate(json=p.VerifyIn, resp=responses(p.InvoiceDetailOut), tags=["payments"])
def verify_invoice(invoice_id: uuid.UUID):
    """The money is on the school's account: paid in full enrolls the student / adds the meetings exactly once
    (a second verification, even at the same moment, is refused with 409); less leaves the rest due."""
    body: p.VerifyIn = json_body()
    payments.verify(api_user(), _invoice(invoice_id), body.amount, body.note)
    return _detail(invoice_id)


@bp.post("/invoices/<uuid:invoice_id>/reject")
@authenticated(*STAFF_ROLES)
@spec.validate(json=p.ReasonIn, resp=responses(p.InvoiceDetailOut), tags=["payments"])
def reject_invoice(invoice_id: uuid.UUID):
    """The proof does not show the money: the student is told the reason and may upload again."""
    payments.reject(api_user(), _invoice(invoice_id), json_body().reason)
    return _detail(invoice_id)


@bp.post("/invoices/<uuid:invoice_id>/cancel")
@authenticated(*STAFF_ROLES)
@spec.validate(json=p.ReasonIn, resp=responses(p.InvoiceDetailOut), tags=["payments"])
def cancel_invoice(invoice_id: uuid.UUID):
    """Staff cancel an open invoice nothing was paid on (as on the pages, students cannot): the seat is freed."""
    payments.cancel(api_user(), _invoice(invoice_id), json_body().reason)
    return _detail(invoice_id)


@bp.post("/invoices/<uuid:invoice_id>/refund")
@authenticated(*STAFF_ROLES)
@spec.validate(json=p.RefundIn, resp=responses(p.InvoiceDetailOut), tags=["payments"])
def refund_invoice(invoice_id: uuid.UUID):
    """Money back for unused credits only: those credits are removed, the reconciliation stays balanced."""
    body: p.RefundIn = json_body()
    payments.refund(api_user(), _invoice(invoice_id), credits=body.credits, amount=body.amount, reason=body.reason)
    return _detail(invoice_id)


@bp.post("/enrollments/<uuid:enrollment_id>/top-up")
@authenticated(*STAFF_ROLES)
@spec.validate(json=p.TopUpIn, resp=responses(p.InvoiceDetailOut, 201), tags=["payments"])
def top_up(enrollment_id: uuid.UUID):
    """More meetings for a private class: an invoice of meetings × the class's price per meeting."""
    invoice = payments.request_top_up(api_user(), classes.enrollment_by_id(enrollment_id), json_body().meetings)
    return ok(_detail_out(_invoice(invoice.id)), 201)


@bp.put("/classes/<uuid:class_id>/prices")
@authenticated(*STAFF_ROLES)
@spec.validate(json=p.PricesIn, resp=responses(p.PricesOut), tags=["payments"])
def set_prices(class_id: uuid.UUID):
    body: p.PricesIn = json_body()
    school_class = classes.class_for(api_user(), class_id)
    payments.set_prices(api_user(), school_class, package_price=body.package_price, meeting_price=body.meeting_price)
    school_class = classes.class_for(api_user(), class_id)
    return ok(p.PricesOut(class_id=school_class.id, package_price=school_class.package_price,
                          meeting_price=school_class.meeting_price))


# --- Bank accounts -------------------------------------------------------------------------------------------------

@bp.get("/bank-accounts")
@authenticated()
@spec.validate(resp=responses(p.BankAccountOut, many=True), tags=["payments"])
def bank_accounts():
    """The accounts to transfer to (as every open invoice shows them); a super admin also sees inactive ones."""
    found = payments.bank_accounts(active_only=api_user().role != "super_admin")
    return ok([p.BankAccountOut.model_validate(account) for account in found], total=len(found))


@bp.post("/bank-accounts")
@authenticated("super_admin")
@spec.validate(json=p.BankAccountIn, resp=responses(p.BankAccountOut, 201), tags=["payments"])
def add_bank_account():
    body: p.BankAccountIn = json_body()
    account = payments.add_bank_account(api_user(), bank_name=body.bank_name, account_number=body.account_number,
                                        account_holder=body.account_holder)
    return ok(p.BankAccountOut.model_validate(account), 201)


@bp.put("/bank-accounts/<uuid:account_id>/active")
@authenticated("super_admin")
@spec.validate(json=p.ActiveIn, resp=responses(p.BankAccountOut), tags=["payments"])
def set_bank_account_active(account_id: uuid.UUID):
    account = payments.set_bank_account_active(api_user(), account_id, json_body().active)
    return ok(p.BankAccountOut.model_validate(account))
