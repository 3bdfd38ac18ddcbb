"""Payment pages: a student's invoice and proof (local storage and S3), staff's queue and decisions, receipts
and exports, prices and bank accounts, choosing a class from the landing page."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from babyowl.models import ClassEnrollment, Invoice, InvoiceDelivery, PaymentProof
from babyowl.services import payments
from tests.factories import make_class, make_user
from tests.helpers import flashes, reload, signed_in_client, text
from tests.storage_fixtures import download, stored_keys

HX = {"HX-Request": "true"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.7\n%%EOF\n"


@pytest.fixture
def open_class(db):
    return make_class(name="Python Dasar Sabtu", status="enrollment_open", max_capacity=3,
                      package_price=Decimal("1750000"), enrollment_deadline=date.today() + timedelta(days=5),
                      start_date=date.today() + timedelta(days=6),
                      schedule={"days": ["Saturday"], "time": "09:00-11:00"})


@pytest.fixture
def student(db):
    return make_user("student", full_name="Siti Rahma")


@pytest.fixture
def invoice(open_class, student):
    return payments.choose_class(student, open_class)


def upload(client, invoice, data=PNG, name="bukti.png", headers=None):
    return client.post(f"/payments/{invoice.id}/proofs", content_type="multipart/form-data", headers=headers or {},
                       data={"file": (io.BytesIO(data), name), "transfer_date": date.today().isoformat(),
                             "sender_name": "Siti Rahma", "sender_bank": "BCA"})


def test_a_visitor_sees_the_class_and_is_asked_to_sign_up(client, open_class):
    page = text(client.get(f"/enroll/{open_class.id}"))
    assert "Python Dasar Sabtu" in page and "Sign up" in page and "Seats left" in page
    assert f"/register?next=/enroll/{open_class.id}" in page.replace("%2F", "/")


def test_a_class_not_open_for_enrollment_does_not_exist_on_the_enroll_page(client, db):
    assert client.get(f"/enroll/{make_class(status='active', package_price=Decimal('1')).id}").status_code == 404


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_a_student_picks_the_class_and_sees_the_invoice_with_the_bank_accounts(client, db, login_as, open_class,
                                                                                 headers):
    payments.add_bank_account(make_user("super_admin"), bank_name="BCA", account_number="1234567890",
                              account_holder="PT Baby Owl")
    student = login_as("student")
    response = client.post(f"/enroll/{open_class.id}", headers=headers)
    invoice = db.session.scalar(select(Invoice))
    location = response.headers.get("Location") or response.headers.get("HX-Location")
    assert location == f"/account/payments/{invoice.id}" and invoice.student_id == student.id
    page = text(client.get(location))
    assert invoice.number in page and "1234567890" in page and "PT Baby Owl" in page
    assert f"{invoice.unique_code:03d}" in page
    assert invoice.number in text(client.get("/account/payments"))


def test_the_proof_is_stored_and_shown_to_staff_inline(make_app, db, invoice, student, storage_config):
    app = make_app(**storage_config)
    client = signed_in_client(app, student)
    response = upload(client, invoice)
    assert response.status_code == 303
    assert "Thank you! Your proof of transfer was sent" in flashes(client.get(response.headers["Location"]))[0]
    proof = db.session.scalar(select(PaymentProof))
    assert proof.file_key in stored_keys(app) and reload(db, invoice).status == "submitted"
    staff = signed_in_client(app, make_user("staff"))
    queue = text(staff.get("/payments?status=submitted"))
    assert invoice.number in queue and f'src="/payments/proofs/{proof.id}"' in queue
    status, content, _disposition = download(staff, f"/payments/proofs/{proof.id}")
    assert (status, content) == (200, PNG)
    assert staff.get(f"/payments/proofs/{proof.id}").headers["Content-Security-Policy"] == "sandbox"
    # Another student: the file does not exist for them.
    assert signed_in_client(app, make_user("student")).get(f"/payments/proofs/{proof.id}").status_code == 404


def test_an_htmx_upload_answers_the_panel_with_the_proof_and_a_thank_you(client, db, login_as, open_class):
    student = login_as("student")
    invoice = payments.choose_class(student, open_class)
    response = upload(client, invoice, headers=HX)
    fragment = text(response)
    assert response.status_code == 200 and fragment.lstrip().startswith('<section id="proof-panel"')
    assert "Thank you! Your proof of transfer was sent" in fragment
    assert "Proof of transfer bukti.png" in fragment.split("Proofs sent")[1]
    assert reload(db, invoice).status == "submitted"


def test_a_fake_proof_is_refused_inline_and_nothing_is_stored(app, client, db, login_as, open_class):
    student = login_as("student")
    invoice = payments.choose_class(student, open_class)
    response = upload(client, invoice, data=b"<script>alert(1)</script>", name="bukti.jpg", headers=HX)
    assert response.status_code == 422 and "Send a JPEG or PNG photo, or a PDF" in text(response)
    assert "<html" not in text(response)
    assert db.session.scalar(select(func.count(PaymentProof.id))) == 0


def test_another_students_invoice_is_not_found(client, login_as, invoice):
    login_as("student")
    assert client.get(f"/account/payments/{invoice.id}").status_code == 404
    assert upload(client, invoice).status_code == 404


def test_staff_verify_from_the_detail_page_and_the_student_is_enrolled(client, db, login_as, invoice, student):
    payments.submit_proof(student, invoice, payments.ProofUpload("b.pdf", io.BytesIO(PDF)))
    login_as("staff")
    page = text(client.get(f"/payments/{invoice.id}"))
    assert "Open the PDF: b.pdf" in page and "Verify payment" in page
    response = client.post(f"/payments/{invoice.id}/verify", data={"amount": "Rp 1.750.000"})
    assert response.status_code == 303 and "Payment verified." in flashes(client.get(response.headers["Location"]))
    enrollment = db.session.scalar(select(ClassEnrollment))
    assert enrollment.student_id == student.id and enrollment.credits_remaining == 10
    again = client.post(f"/payments/{invoice.id}/verify", data={"amount": "1750000"}, headers=HX)
    assert again.status_code == 409 and "This invoice is paid: that cannot be done now." in text(again)
    assert db.session.scalar(select(func.count(InvoiceDelivery.id))) == 1


def test_junk_amounts_and_missing_reasons_are_refused_with_a_message(client, db, login_as, invoice, student):
    payments.submit_proof(student, invoice, payments.ProofUpload("b.png", io.BytesIO(PNG)))
    login_as("staff")
    junk = client.post(f"/payments/{invoice.id}/verify", data={"amount": "satu juta"})
    assert junk.status_code == 422 and "Enter an amount in rupiah" in text(junk)
    empty = client.post(f"/payments/{invoice.id}/reject", data={"reason": ""})
    assert empty.status_code == 422 and reload(db, invoice).status == "submitted"
    rejected = client.post(f"/payments/{invoice.id}/reject", data={"reason": "Nominal tidak terbaca"})
    assert rejected.status_code == 303 and reload(db, invoice).status == "rejected"


def test_the_receipt_pdf_reads_back(client, db, login_as, invoice, student):
    from pypdf import PdfReader

    payments.verify(make_user("staff", full_name="Bu Rina"), invoice, "1750000")
    login_as_student = signed_in_client(client.application, student)
    response = login_as_student.get(f"/payments/{invoice.id}/receipt.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages = PdfReader(io.BytesIO(response.get_data())).pages
    content = "".join(page.extract_text() for page in pages)
    assert invoice.number in content and "Siti Rahma" in content and "Rp 1.750.000" in content
    assert "Bu Rina" in content


def test_no_receipt_before_the_payment_is_verified(client, login_as, invoice, student):
    assert signed_in_client(client.application, student).get(
        f"/payments/{invoice.id}/receipt.pdf").status_code == 404


def test_the_payments_csv_and_xlsx_read_back(client, db, login_as, invoice):
    from openpyxl import load_workbook

    payments.verify(make_user("staff"), invoice, "1750000")
    login_as("staff")
    response = client.get("/payments.csv?separator=semicolon")
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff")), delimiter=";"))
    assert rows[0] == list(payments.EXPORT_COLUMNS)
    [row] = rows[1:]
    record = dict(zip(rows[0], row))
    assert record["invoice_id"] == str(invoice.id) and record["status"] == "verified"
    assert record["amount_received"] == "1750000.00" and record["student_name"] == "Siti Rahma"
    assert record["verified_at"][:10] == date.today().isoformat() or record["verified_at"][4] == "-"
    xlsx = client.get("/payments.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == list(payments.EXPORT_COLUMNS) and values[1][0] == str(invoice.id)
    assert values[1][13] == 1750000


def test_the_queue_filters_by_state_class_and_amount(client, db, login_as, open_class):
    other = make_class(name="Scratch Minggu", status="enrollment_open", package_price=Decimal("900000"),
                       enrollment_deadline=date.today() + timedelta(days=5))
    first = payments.choose_class(make_user("student"), open_class)
    second = payments.choose_class(make_user("student"), other)
    login_as("staff")
    assert second.number not in text(client.get(f"/payments?class={open_class.id}"))
    by_amount = text(client.get(f"/payments?amount={first.expected_total:.0f}"))
    assert first.number in by_amount and second.number not in by_amount
    assert first.number not in text(client.get("/payments?status=verified"))
    assert client.get("/payments?status=bogus&from=kemarin&amount=abc").status_code == 200


def test_the_queue_runs_the_same_statements_for_more_invoices(client, db, login_as, open_class, count_queries):
    login_as("staff")

    def add(n):
        for _ in range(n):
            invoice = payments.choose_class(make_user("student"), make_class(
                status="enrollment_open", package_price=Decimal("500000"),
                enrollment_deadline=date.today() + timedelta(days=5)))
            payments.submit_proof(invoice.student, invoice, payments.ProofUpload("b.png", io.BytesIO(PNG)))

    add(2)
    with count_queries() as few:
        client.get("/payments")
    add(6)
    with count_queries() as many:
        client.get("/payments")
    assert len(many) == len(few)


def test_prices_are_typed_the_indonesian_way(client, db, login_as, open_class):
    login_as("staff")
    response = client.post(f"/classes/{open_class.id}/prices",
                           data={"package_price": "Rp 2.250.000", "meeting_price": "175.000"})
    assert response.status_code == 303
    assert reload(db, open_class).package_price == Decimal("2250000.00")
    assert reload(db, open_class).meeting_price == Decimal("175000.00")
    assert "Rp 2.250.000" in text(client.get("/payments/prices"))


def test_a_super_admin_adds_a_bank_account_and_staff_cannot(client, db, login_as):
    login_as("super_admin")
    response = client.post("/payments/bank-accounts", data={"bank_name": "Mandiri", "account_number": "1300012345",
                                                            "account_holder": "Yayasan Baby Owl"})
    assert response.status_code == 303 and [a.bank_name for a in payments.bank_accounts()] == ["Mandiri"]
    missing = client.post("/payments/bank-accounts", data={"bank_name": "", "account_number": "1",
                                                           "account_holder": "x"})
    assert missing.status_code == 422


def test_staff_send_a_top_up_invoice_for_a_private_class(client, db, login_as):
    from tests.factories import make_enrollment

    private = make_class(type="private", status="active", max_capacity=1, meeting_price=Decimal("150000"))
    enrollment = make_enrollment(private)
    login_as("staff")
    response = client.post(f"/enrollments/{enrollment.id}/top-up", data={"meetings": "4"})
    invoice = db.session.scalar(select(Invoice))
    assert response.status_code == 303 and invoice.amount_due == Decimal("600000.00") and invoice.kind == "top_up"


def test_four_staff_verifying_at_once_over_http_deliver_once(app, db, invoice, student):
    import threading

    payments.submit_proof(student, invoice, payments.ProofUpload("b.png", io.BytesIO(PNG)))
    clients = [signed_in_client(app, make_user("staff")) for _ in range(4)]
    barrier, statuses, url = threading.Barrier(4), [], f"/payments/{invoice.id}/verify"

    def post(browser):
        barrier.wait()
        statuses.append(browser.post(url, data={"amount": "1.750.000"}, headers=HX).status_code)

    threads = [threading.Thread(target=post, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [204, 409, 409, 409]
    db.session.expire_all()
    assert db.session.scalar(select(func.count(InvoiceDelivery.id))) == 1
    assert db.session.scalar(select(func.count(ClassEnrollment.id))) == 1


def test_a_students_export_holds_their_invoices_and_proof_files_and_erasure_keeps_them(db, invoice, student):
    import json
    import zipfile

    from babyowl.services import privacy

    payments.submit_proof(student, invoice, payments.ProofUpload("bukti transfer.png", io.BytesIO(PNG)))
    archive = zipfile.ZipFile(io.BytesIO(privacy.export_user_data(student)))
    data = json.loads(archive.read("data.json"))
    [exported] = data["invoices"]
    assert exported["number"] == invoice.number and exported["status"] == "submitted"
    [proof] = data["payment_proofs"]
    assert archive.read(proof["file"]) == PNG
    privacy.erase_user(make_user("super_admin"), student)
    assert reload(db, invoice).student_id == student.id  # the school's accounts keep the invoice


def test_without_self_registration_the_class_page_offers_only_signing_in(make_app, db, open_class):
    app = make_app(ALLOW_SELF_REGISTRATION=False)
    page = text(app.test_client().get(f"/enroll/{open_class.id}"))
    assert "Sign in" in page and "/register" not in page


def test_signing_up_from_a_class_comes_back_to_it_after_the_profile(client, db, open_class):
    signed_up = client.post(f"/register?next=/enroll/{open_class.id}", data={
        "full_name": "Nadia Putri", "email": "nadia@example.com", "password": "Rahasia#123", "confirm": "Rahasia#123"})
    assert signed_up.status_code == 303 and signed_up.headers["Location"] == "/welcome"
    done = client.post("/welcome", data={"full_name": "Nadia Putri"})
    assert done.status_code == 303 and done.headers["Location"] == f"/enroll/{open_class.id}"
