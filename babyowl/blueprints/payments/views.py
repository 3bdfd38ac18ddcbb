"""Payments: the staff queue and decisions, a student's invoices and proofs, receipts, exports, prices, bank accounts,
and choosing a class from the landing page."""
from __future__ import annotations

import uuid
from datetime import date

from flask import Blueprint, Response, current_app, flash, request, send_file, stream_with_context, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from babyowl.authz import STAFF_ROLES, roles_required
from babyowl.blueprints.params import form_status, page_number, parse_uuid, uploaded_file
from babyowl.blueprints.payments.forms import (
    BankAccountForm, PricesForm, ProofForm, ReasonForm, RefundForm, TopUpForm, VerifyForm,
)
from babyowl.errors import on_refusal
from babyowl.models import INVOICE_STATUSES
from babyowl.money import InvalidAmount, parse_rupiah
from babyowl.rendering import is_htmx, redirect_to, render
from babyowl.services import classes, payments
from babyowl.services.payments import ProofUpload, QueueFilter
from babyowl.storage import serve_file

bp = Blueprint("payments", __name__)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _filters() -> QueueFilter:
    args = request.args

    def day(name):
        try:
            return date.fromisoformat(args.get(name, ""))
        except ValueError:
            return None

    try:
        amount = parse_rupiah(args.get("amount") or None)
    except InvalidAmount:
        amount = None
    status = args.get("status", "")
    return QueueFilter(status=status if status in INVOICE_STATUSES else "", class_id=parse_uuid(args.get("class")),
                       date_from=day("from"), date_to=day("to"), amount=amount)


@bp.route("/payments")
@roles_required(*STAFF_ROLES)
def queue():
    filters = _filters()
    page = payments.queue(current_user, filters, page_number())
    return render("payments/queue.html", block="results", page=page, filters=filters, statuses=INVOICE_STATUSES,
                  reused=payments.reused_hashes(page.items), class_choices=payments.class_choices(),
                  amount_text=request.args.get("amount", ""))


def _detail_page(invoice, error=None, status=200, verify_form=None, reason_form=None, refund_form=None,
                 top_up_form=None):
    return render("payments/show.html", status=status, invoice=invoice, error=error,
                  verify_form=verify_form or VerifyForm(formdata=None, amount=str(invoice.amount_outstanding)),
                  reason_form=reason_form or ReasonForm(formdata=None),
                  refund_form=refund_form or RefundForm(formdata=None),
                  proof_form=ProofForm(formdata=None), reused=payments.reused_hashes([invoice]),
                  accounts=payments.bank_accounts())


@bp.route("/payments/<uuid:invoice_id>")
@roles_required(*STAFF_ROLES)
def show(invoice_id: uuid.UUID):
    return _detail_page(payments.invoice_for(current_user, invoice_id))


def _decision(invoice_id: uuid.UUID, form, decide, done_message: str, form_name: str):
    invoice = payments.invoice_for(current_user, invoice_id)
    back = url_for("payments.show", invoice_id=invoice_id)
    if not form.validate_on_submit():
        return _detail_page(invoice, status=422, **{form_name: form})
    with on_refusal(lambda refused: _detail_page(invoice, refused.message, refused.status_code, **{form_name: form})):
        decide(invoice)
    flash(done_message, "success")
    return redirect_to(back)


@bp.route("/payments/<uuid:invoice_id>/verify", methods=["POST"])
@roles_required(*STAFF_ROLES)
def verify(invoice_id: uuid.UUID):
    form = VerifyForm()
    return _decision(invoice_id, form, lambda invoice: payments.verify(
        current_user, invoice, form.amount.data, form.note.data), _("Payment verified."), "verify_form")


@bp.route("/payments/<uuid:invoice_id>/reject", methods=["POST"])
@roles_required(*STAFF_ROLES)
def reject(invoice_id: uuid.UUID):
    form = ReasonForm()
    return _decision(invoice_id, form, lambda invoice: payments.reject(current_user, invoice, form.reason.data),
                     _("Proof rejected; the student has been told why."), "reason_form")


@bp.route("/payments/<uuid:invoice_id>/cancel", methods=["POST"])
@roles_required(*STAFF_ROLES)
def cancel(invoice_id: uuid.UUID):
    form = ReasonForm()
    return _decision(invoice_id, form, lambda invoice: payments.cancel(current_user, invoice, form.reason.data),
                     _("Invoice cancelled."), "reason_form")


@bp.route("/payments/<uuid:invoice_id>/refund", methods=["POST"])
@roles_required(*STAFF_ROLES)
def refund(invoice_id: uuid.UUID):
    form = RefundForm()
    return _decision(invoice_id, form, lambda invoice: payments.refund(
        current_user, invoice, credits=form.credits.data, amount=form.amount.data, reason=form.reason.data),
        _("Refund recorded; the unused credits were removed."), "refund_form")


@bp.route("/payments/proofs/<uuid:proof_id>")
@login_required
def proof_file(proof_id: uuid.UUID):
    proof = payments.proof_for(current_user, proof_id)
    # Images are shown inline in the queue; a PDF opens in the browser's viewer. An uploaded file never runs
    # anything with the school's origin (a PDF's scripts, say): it is served sandboxed.
    response = serve_file(proof.file_key, cache_control="private, no-store")
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


@bp.route("/payments/<uuid:invoice_id>/receipt.pdf")
@login_required
def receipt(invoice_id: uuid.UUID):
    from babyowl.blueprints.reports.files import receipt_pdf

    invoice = payments.invoice_for(current_user, invoice_id)
    if invoice.status not in ("verified", "refunded", "partially_refunded"):
        return render("errors/error.html", status=404, code=404, title=_("Page not found"),
                      text=_("A receipt is issued once the payment is verified."))
    pdf = receipt_pdf(payments.receipt_of(invoice))
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{invoice.number}.pdf"'
    return response


@bp.route("/payments.csv")
@roles_required(*STAFF_ROLES)
def export_csv():
    from babyowl.blueprints.reports.files import SEPARATORS, table_csv_chunks

    separator = request.args.get("separator", "comma")
    chunks = table_csv_chunks(payments.EXPORT_COLUMNS, payments.export_rows(_filters()),
                              SEPARATORS.get(separator, ","))
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="payments.csv"'
    return response


@bp.route("/payments.xlsx")
@roles_required(*STAFF_ROLES)
def export_xlsx():
    from babyowl.blueprints.reports.files import table_xlsx_file

    path = table_xlsx_file(payments.EXPORT_COLUMNS, payments.export_rows(_filters()), "payments")
    return send_file(path, mimetype=XLSX_TYPE, as_attachment=True, download_name="payments.xlsx")


# --- the student's side --------------------------------------------------------------

@bp.route("/account/payments")
@login_required
def my_invoices():
    return render("payments/mine.html", invoices=payments.my_invoices(current_user), accounts=payments.bank_accounts())


def _my_invoice_page(invoice, error=None, status=200, proof_form=None, done=None):
    return render("payments/invoice.html", block="proof_panel", status=status, invoice=invoice, error=error,
                  proof_form=proof_form or ProofForm(formdata=None), accounts=payments.bank_accounts(), done=done)


@bp.route("/account/payments/<uuid:invoice_id>")
@login_required
def my_invoice(invoice_id: uuid.UUID):
    invoice = payments.invoice_for(current_user, invoice_id)
    if invoice.student_id != current_user.id:  # staff read it on their own page
        return redirect_to(url_for("payments.show", invoice_id=invoice_id))
    return _my_invoice_page(invoice)


@bp.route("/payments/<uuid:invoice_id>/proofs", methods=["POST"])
@login_required
def upload_proof(invoice_id: uuid.UUID):
    invoice = payments.invoice_for(current_user, invoice_id)
    form = ProofForm()
    mine = invoice.student_id == current_user.id
    back = url_for("payments.my_invoice" if mine else "payments.show", invoice_id=invoice_id)

    def again(error=None, status=422):
        if mine:
            return _my_invoice_page(payments.invoice_for(current_user, invoice_id), error, status, form)
        return _detail_page(payments.invoice_for(current_user, invoice_id), error, status)

    if not form.validate_on_submit():
        return again()
    upload = uploaded_file(form.file.data)
    with on_refusal(lambda refused: again(refused.message, refused.status_code)):
        payments.submit_proof(current_user, invoice, ProofUpload(upload.filename, upload.stream) if upload else None,
                              transfer_date=form.transfer_date.data, sender_name=form.sender_name.data,
                              sender_bank=form.sender_bank.data)
    message = _("Thank you! Your proof of transfer was sent; the school will check it soon.")
    if mine and is_htmx():  # the panel again, with the proof listed and the message in it
        return _my_invoice_page(payments.invoice_for(current_user, invoice_id), done=message)
    flash(message, "success")
    return redirect_to(back)


@bp.route("/enroll/<uuid:class_id>")
def choose_class(class_id: uuid.UUID):
    """A visitor's or student's look at an open class: sign up or in first, then one click to the invoice."""
    return _choose_page(payments.open_class(class_id))


def _choose_page(school_class, error=None, status=200):
    return render("payments/choose.html", status=status, school_class=school_class, error=error,
                  seats=payments.seats_left_of([school_class.id])[school_class.id],
                  next_url=url_for("payments.choose_class", class_id=school_class.id),
                  allow_registration=current_app.config["ALLOW_SELF_REGISTRATION"])


@bp.route("/enroll/<uuid:class_id>", methods=["POST"])
@roles_required("student")
def hold_seat(class_id: uuid.UUID):
    school_class = payments.open_class(class_id)
    with on_refusal(lambda refused: _choose_page(school_class, refused.message, refused.status_code)):
        invoice = payments.choose_class(current_user, school_class)
    flash(_("Your seat is held until %(due)s. Transfer the amount below and upload the proof.",
            due=payments.due_text(invoice.due_at)), "success")
    return redirect_to(url_for("payments.my_invoice", invoice_id=invoice.id))


# --- prices, top-ups, bank accounts ----------------------------------------------------------

@bp.route("/payments/prices")
@roles_required(*STAFF_ROLES)
def prices():
    return render("payments/prices.html", classes=payments.priced_classes(), form=PricesForm(formdata=None))


@bp.route("/classes/<uuid:class_id>/prices", methods=["POST"])
@roles_required(*STAFF_ROLES)
def set_prices(class_id: uuid.UUID):
    school_class = classes.class_for(current_user, class_id)
    form = PricesForm()
    back = url_for("payments.prices")
    if not form.validate_on_submit():
        flash(_("Enter an amount in rupiah, such as 1.750.000 or Rp 1.500.000,00."), "error")
        return redirect_to(back)
    with on_refusal(redirect_to_url=back):
        payments.set_prices(current_user, school_class, package_price=form.package_price.data,
                            meeting_price=form.meeting_price.data)
    flash(_("Prices of %(class)s saved.", **{"class": school_class.name}), "success")
    return redirect_to(back)


@bp.route("/enrollments/<uuid:enrollment_id>/top-up", methods=["GET", "POST"])
@roles_required(*STAFF_ROLES)
def top_up(enrollment_id: uuid.UUID):
    enrollment = classes.enrollment_by_id(enrollment_id)
    form = TopUpForm()

    def page(error=None, status=None):
        return render("payments/top_up.html", block="top_up_form", status=status or form_status(),
                      enrollment=enrollment, form=form, error=error)

    if form.validate_on_submit():
        with on_refusal(lambda refused: page(refused.message, refused.status_code)):
            invoice = payments.request_top_up(current_user, enrollment, form.meetings.data)
        flash(_("Invoice %(number)s sent to %(name)s.", number=invoice.number, name=enrollment.student.full_name),
              "success")
        return redirect_to(url_for("payments.show", invoice_id=invoice.id))
    return page()


@bp.route("/payments/bank-accounts", methods=["GET", "POST"])
@roles_required("super_admin")
def bank_accounts():
    form = BankAccountForm()

    def page(error=None, status=None):
        return render("payments/bank_accounts.html", block="account_form", status=status or form_status(),
                      form=form, error=error, accounts=payments.bank_accounts(active_only=False))

    if form.validate_on_submit():
        with on_refusal(lambda refused: page(refused.message, refused.status_code)):
            payments.add_bank_account(current_user, bank_name=form.bank_name.data,
                                      account_number=form.account_number.data,
                                      account_holder=form.account_holder.data)
        flash(_("Bank account added."), "success")
        return redirect_to(url_for("payments.bank_accounts"))
    return page()


@bp.route("/payments/bank-accounts/<uuid:account_id>/active", methods=["POST"])
@roles_required("super_admin")
def set_bank_account_active(account_id: uuid.UUID):
    back = url_for("payments.bank_accounts")
    with on_refusal(redirect_to_url=back):
        payments.set_bank_account_active(current_user, account_id, request.form.get("active") == "1")
    flash(_("Bank account saved."), "success")
    return redirect_to(back)


@bp.app_context_processor
def invoice_words():
    from babyowl.money import format_rupiah
    from babyowl.navigation import DAY_NAMES

    return {"invoice_status_names": payments.STATUS_NAMES, "day_names": DAY_NAMES, "rupiah": format_rupiah,
            "invoice_kind": payments.kind_of}
